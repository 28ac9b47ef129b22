"""Local stub for micropython-lib `usb-device-cdc` (usb.device.cdc), as Attune uses it
(firmware/usbserial.py subclasses CDCInterface and replaces its data path)."""

from .core import Interface

class CDCInterface(Interface):
    # Endpoint addresses, set when the device is configured (usb.device init): the data IN
    # endpoint (device to host) and OUT endpoint (host to device).
    ep_c_in: int | None
    ep_d_in: int
    ep_d_out: int
    # DTR (bit 0) and RTS (bit 1) as the host last set them.
    _line_state: int
    def __init__(
        self,
        *,
        baudrate: int = 9600,
        bits: int = 8,
        parity: str = "N",
        stop: int = 1,
        timeout: int = 1000,
        txbuf: int = 256,
        rxbuf: int = 256,
        flow: int = 0,
    ) -> None: ...
    @property
    def dtr(self) -> bool: ...
    @property
    def rts(self) -> bool: ...
    def write(self, buf: bytes | bytearray | memoryview) -> int: ...
    def readinto(self, b: bytearray | memoryview) -> int | None: ...
    def ioctl(self, req: int, arg: int) -> int: ...
    def flush(self) -> None: ...
    # Called by on_open(): start the data transfers (a subclass may replace them).
    def _rd_xfer(self) -> None: ...
    def _wr_xfer(self) -> None: ...
