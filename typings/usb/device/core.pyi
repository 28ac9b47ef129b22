"""Local stub for micropython-lib `usb-device` core (usb.device.core): only what Attune uses.

micropython-rp2-rpi-pico-stubs does not cover micropython-lib packages.
"""

from collections.abc import Callable
from typing import Any

class Buffer:
    """Interrupt-safe producer/consumer byte buffer (the MIDI driver's TX and RX rings).

    pend_write()/pend_read() each allocate one block (the memoryview they return);
    finish_write()/finish_read() do not allocate.
    """

    def __init__(self, length: int) -> None: ...
    def writable(self) -> int:
        """Bytes free for writing (no write pending)."""
    def readable(self) -> int:
        """Bytes waiting to be read (no read pending)."""
    def pend_write(self, wmax: int | None = None) -> memoryview: ...
    def finish_write(self, nbytes: int) -> None: ...
    def write(self, w: bytes | bytearray | memoryview) -> int: ...
    def pend_read(self) -> memoryview: ...
    def finish_read(self, nbytes: int) -> None: ...
    def readinto(self, b: bytearray | memoryview) -> int: ...

class Interface:
    """Base of a USB interface (or group of interfaces) implemented in Python."""

    def __init__(self) -> None: ...
    def is_open(self) -> bool:
        """True once the host has configured this interface (enumeration done)."""
    def on_open(self) -> None:
        """Called when the host configures the interface; override and call super()."""
    def on_reset(self) -> None: ...
    def xfer_pending(self, ep_addr: int) -> bool:
        """True while a transfer is pending on ep_addr (one at a time per endpoint); False
        inside that endpoint's own completion callback, so it can submit the next one."""
    def submit_xfer(
        self,
        ep_addr: int,
        data: bytes | bytearray | memoryview,
        done_cb: Callable[[int, int, int], None] | None = None,
    ) -> None:
        """Start a transfer; done_cb(ep_addr, result, xferred_bytes) runs when it ends
        (result 0: completed), possibly before this returns. RuntimeError if the interface is
        not open, a transfer is already pending there, or the hardware refused it."""

class _Device:
    def init(
        self,
        *itfs: Interface,
        builtin_driver: bool | Any = False,
        manufacturer_str: str | None = None,
        product_str: str | None = None,
        serial_str: str | None = None,
        configuration_str: str | None = None,
        id_vendor: int | None = None,
        id_product: int | None = None,
        bcd_device: int | None = None,
        device_class: int = 0,
        device_subclass: int = 0,
        device_protocol: int = 0,
        config_str: str | None = None,
        max_power_ma: int | None = None,
        remote_wakeup: bool = False,
    ) -> None:
        """Configure the device with these interfaces and activate it (it re-enumerates);
        config() takes the same arguments and only configures.

        builtin_driver=True keeps the built-in CDC serial port (the REPL and mpremote).
        """
    config = init  # the same signature
    def active(self, *optional_value: bool) -> bool: ...

def get() -> _Device:
    """The singleton USB device (not machine.USBDevice: that is get()._usbd)."""
