"""Fake `usb.device.core` for the simulator: the device singleton and the Interface base class,
with the same calls as micropython-lib's usb-device package.

When the device goes active, the simulated USB host enumerates it `world.usb_enumerate_ms` later
and calls each interface's `on_open()`.
"""

from simulator import context as _ctx

_clock, _world = _ctx.require()

_MP_EINVAL = 22
_dev = None


def get():
    global _dev
    if _dev is None:
        _dev = _Device()
    return _dev


class _Device:
    def __init__(self):
        self._itfs = ()
        self._active = False
        self._warned = False
        self.strings = {}

    def init(self, *itfs, **kwargs):
        self.active(False)
        self.config(*itfs, **kwargs)
        self.active(True)

    def config(self, *itfs, builtin_driver=False, manufacturer_str=None, product_str=None,
               serial_str=None, configuration_str=None, id_vendor=None, id_product=None,
               bcd_device=None, device_class=0, device_subclass=0, device_protocol=0,
               config_str=None, max_power_ma=None, remote_wakeup=False):
        if self._active:
            raise OSError(_MP_EINVAL, "EINVAL")  # must call active(False) first
        if not builtin_driver and not self._warned:
            self._warned = True
            print("simulator: usb.device configured with builtin_driver=False: on a real Pico "
                  "the USB serial port (REPL) disappears.", file=_world.console)
        self._itfs = itfs
        self.strings = {"manufacturer": manufacturer_str, "product": product_str,
                        "serial": serial_str}

    def active(self, *value):
        if not value:
            return self._active
        on = bool(value[0])
        if on and not self._active:
            _world.usb_interfaces = list(self._itfs)
            _clock.call_later(_world.usb_enumerate_ms * 1000, self._enumerated, self._itfs,
                              firmware=True)
        elif not on and self._active:
            for itf in self._itfs:
                itf.on_reset()
        self._active = on
        return on

    def _enumerated(self, itfs):
        if self._active and self._itfs is itfs:
            for itf in itfs:
                itf.on_open()


class Interface:
    """Base class of a USB interface: open once the host has configured the device."""

    def __init__(self):
        self._open = False

    def desc_cfg(self, desc, itf_num, ep_num, strs):
        raise NotImplementedError

    def num_itfs(self):
        return 1

    def num_eps(self):
        return 0

    def on_open(self):
        self._open = True

    def on_reset(self):
        self._open = False

    def is_open(self):
        return self._open

    def on_device_control_xfer(self, stage, request):
        return False

    def on_interface_control_xfer(self, stage, request):
        return False

    def on_endpoint_control_xfer(self, stage, request):
        return False

    def xfer_pending(self, ep_addr):
        return False

    def submit_xfer(self, ep_addr, data, done_cb=None):
        raise NotImplementedError("Raw USB transfers are not simulated; use MIDIInterface.")


class Buffer:
    """micropython-lib's producer/consumer byte buffer (same methods, same layout: bytes ready
    to read at [0:_n], a pending write from _w), used as the MIDI interface's TX/RX rings."""

    def __init__(self, length):
        self._b = memoryview(bytearray(length))
        self._n = 0
        self._w = length

    def writable(self):
        return len(self._b) - self._n

    def readable(self):
        return self._n

    def pend_write(self, wmax=None):
        self._w = self._n
        end = (self._w + wmax) if wmax else len(self._b)
        return self._b[self._w : end]

    def finish_write(self, nbytes):
        assert nbytes <= len(self._b) - self._w, "can't finish more than was pended"
        if self._n != self._w:
            # data was read while the write was pending: move the new bytes down
            self._b[self._n : self._n + nbytes] = self._b[self._w : self._w + nbytes]
        self._n += nbytes
        self._w = len(self._b)

    def write(self, w):
        pend = self.pend_write()
        n = min(len(w), len(pend))
        if n:
            pend[:n] = w[:n]
            self.finish_write(n)
        return n

    def pend_read(self):
        return self._b[: self._n]

    def finish_read(self, nbytes):
        assert nbytes <= self._n, "can't finish reading more than is there"
        rest = self._n - nbytes
        if rest:
            self._b[:rest] = self._b[nbytes : self._n]
        self._n = rest

    def readinto(self, b):
        pend = self.pend_read()
        n = min(len(pend), len(b))
        if n:
            b[:n] = pend[:n]
            self.finish_read(n)
        return n
