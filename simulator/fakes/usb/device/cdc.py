"""Fake `usb.device.cdc` for the simulator: micropython-lib's CDCInterface (usb-device-cdc), the
parts firmware/usbserial.py builds on: the descriptors' shape (two interfaces, two endpoints),
the host's line state (DTR while a host has the simulated serial port open), `on_open()` starting
the data transfers through `_rd_xfer()` / `_wr_xfer()`, and the same Buffer-based stream methods.

The fake core carries its transfers to the simulated serial port (simulator/serialport.py): an
IN transfer is read 64 bytes a frame while the host side takes them, and the host's bytes fill
a waiting OUT transfer a packet a frame.

Installed only when the world says so (`world.usb_cdc = True`); otherwise importing it fails as
on a Pico without the package, and the firmware keeps the built-in serial port.
"""

from micropython import const

from simulator import context as _ctx

from .core import Buffer, Interface

_clock, _world = _ctx.require()
if not getattr(_world, "usb_cdc", False):
    raise ImportError("no module named 'usb.device.cdc'")

_EP_IN_FLAG = const(1 << 7)
_BULK_EP_LEN = const(64)


class CDCInterface(Interface):
    sim_serial = True  # the fake core routes this interface's data to the serial port

    def __init__(self, **kwargs):
        super().__init__()
        self.break_cb = None
        self.line_state_cb = None
        self.line_coding_cb = None
        self.ep_c_in = self.ep_d_in = self.ep_d_out = None
        self._c_itf = None
        self.init(**kwargs)

    def init(
        self, baudrate=9600, bits=8, parity="N", stop=1, timeout=1000, txbuf=256, rxbuf=256, flow=0
    ):
        if not (txbuf and rxbuf >= _BULK_EP_LEN):
            raise ValueError
        self._timeout = timeout
        self._wb = Buffer(txbuf)
        self._rb = Buffer(rxbuf)

    @property
    def _line_state(self):
        # DTR and RTS: set while a host program has the port open
        s = _world.serial
        return 3 if s is not None and s.host_open() else 0

    @property
    def dtr(self):
        return bool(self._line_state & 1)

    def desc_cfg(self, desc, itf_num, ep_num, strs):
        self._c_itf = itf_num
        desc.interface(itf_num, 1, 2, 2)
        self.ep_c_in = ep_num | _EP_IN_FLAG
        desc.endpoint(self.ep_c_in, "interrupt", 8, 16)
        desc.interface(itf_num + 1, 2, 0x0A, 0)
        self.ep_d_out = ep_num + 1
        self.ep_d_in = (ep_num + 1) | _EP_IN_FLAG
        desc.endpoint(self.ep_d_out, "bulk", _BULK_EP_LEN, 0)
        desc.endpoint(self.ep_d_in, "bulk", _BULK_EP_LEN, 0)

    def num_itfs(self):
        return 2

    def num_eps(self):
        return 2

    def on_open(self):
        super().on_open()
        self._rd_xfer()
        self._wr_xfer()

    def _wr_xfer(self):
        if self.is_open() and not self.xfer_pending(self.ep_d_in) and self._wb.readable():
            self.submit_xfer(self.ep_d_in, self._wb.pend_read(), self._wr_cb)

    def _wr_cb(self, ep, res, num_bytes):
        if res == 0:
            self._wb.finish_read(num_bytes)
        self._wr_xfer()

    def _rd_xfer(self):
        if (
            self.is_open()
            and not self.xfer_pending(self.ep_d_out)
            and self._rb.writable() >= _BULK_EP_LEN
        ):
            self.submit_xfer(self.ep_d_out, self._rb.pend_write(_BULK_EP_LEN), self._rd_cb)

    def _rd_cb(self, ep, res, num_bytes):
        if res == 0:
            self._rb.finish_write(num_bytes)
        self._rd_xfer()

    def write(self, buf):
        start = _clock.now
        mv = memoryview(buf)
        while True:
            n = self._wb.write(mv)
            self._wr_xfer()
            mv = mv[n:]
            if not len(mv) or _clock.now - start >= self._timeout * 1000:
                return len(buf) - len(mv)
            _clock.advance(1000)

    def readinto(self, b):
        n = self._rb.readinto(b)
        self._rd_xfer()
        return n or None
