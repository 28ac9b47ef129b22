"""Fake `usb.device.core` for the simulator: the device singleton, the Interface base class and
the Buffer, with the same calls and the same transfer rules as micropython-lib's usb-device.

The simulated USB host: `world.usb_enumerate_ms` after the device goes active it configures it
(each interface's `on_open()`). Endpoints are numbered as on a Pico with the built-in serial
port: its CDC takes interfaces 0-1 and endpoints 1-2, so MIDI gets interfaces 2-3 and endpoint 3.
An IN transfer (device to host) is read 64 bytes (one bulk packet) per 1 ms USB frame while
`world.usb_host_reading`; each 4-byte USB-MIDI packet read goes to the world's MIDI sinks at the
frame's time. When a transfer is read whole, its callback runs (inside the frame, as on the
Pico, so a callback that submits the next transfer keeps the same frame's 64 bytes going).
An OUT transfer (host to device) waits until the simulation sends something (`_host_out`).
The serial port's endpoints (a fake usb.device.cdc interface, `sim_serial`) carry the bytes of
simulator/serialport.py instead: IN up to 256 bytes a frame while the host side takes them, OUT
a packet a frame of what the host sent. As a host's serial driver may (a bulk transfer ends with
a short packet: USB 2.0, 5.8.3), IN bytes reach the serial port only once a short packet (a
zero-length one too) ends the host's read or its read buffer (_HOST_READ bytes) is full: whole
packets are read, and wait for that (firmware/usbserial.py sends a zero-length packet).

Cost in virtual time: `world.usb_xfer_cost_us` per transfer the firmware submits (not those
submitted from a transfer's completion callback).
"""

import struct

from micropython import const

from simulator import context as _ctx

_clock, _world = _ctx.require()

_EP_IN_FLAG = const(0x80)
_FRAME_US = const(1000)
_BYTES_PER_FRAME = const(64)
_SERIAL_PER_FRAME = const(256)  # serial bytes a frame (a host reads several bulk packets)
_HOST_READ = const(512)  # a host driver's read buffer (Linux's cdc-acm: 128 bytes, 16 of them)
_BUILTIN_ITFS = const(2)  # the built-in CDC serial port: interfaces 0 and 1 ...
_BUILTIN_EP_MAX = const(3)  # ... and endpoints 1 and 2
_XFER_OK = const(0)
_MP_EINVAL = const(22)
_dev = None


class _USBDevice:
    """What micropython-lib's core reaches as `_dev._usbd`: here only submit_xfer."""

    def __init__(self, dev):
        self.submit_xfer = dev._low_submit


def get():
    global _dev
    if _dev is None:
        _dev = _Device()
    return _dev


class _Device:
    def __init__(self):
        self._itfs = {}  # interface number -> Interface
        self._eps = {}  # endpoint address -> Interface, once the host has configured it
        self._ep_cbs = {}  # endpoint address -> transfer callback, True, or None (no transfer)
        self._cb_ep = None  # endpoint whose completion callback is running
        self._xfers = {}  # endpoint address -> [data, bytes done] of the pending transfer
        self._ep_base = {}  # Interface -> its first endpoint number (set by config)
        self._held = bytearray()  # serial IN bytes read in whole packets, not yet handed on
        self._frame_due = False
        self._active = False
        self._warned = False
        self._list = ()
        self.strings = {}
        if _world.usb_low_level:
            self._usbd = _USBDevice(self)  # the low-level device (machine.USBDevice on a Pico)

    def init(self, *itfs, **kwargs):
        self.active(False)
        self.config(*itfs, **kwargs)
        self.active(True)

    def config(
        self,
        *itfs,
        builtin_driver=False,
        manufacturer_str=None,
        product_str=None,
        serial_str=None,
        configuration_str=None,
        id_vendor=None,
        id_product=None,
        bcd_device=None,
        device_class=0,
        device_subclass=0,
        device_protocol=0,
        config_str=None,
        max_power_ma=None,
        remote_wakeup=False,
    ):
        if self._active:
            raise OSError(_MP_EINVAL, "EINVAL")  # must call active(False) first
        serial = any(getattr(i, "sim_serial", False) for i in itfs)
        if not builtin_driver and not serial and not self._warned:
            self._warned = True
            print(
                "simulator: usb.device configured with builtin_driver=False: on a real Pico "
                "the USB serial port (REPL) disappears.",
                file=_world.console,
            )
        strs = [None, manufacturer_str, product_str, serial_str]
        itf_num = _BUILTIN_ITFS if builtin_driver else 0
        ep_num = _BUILTIN_EP_MAX if builtin_driver else 1
        # as micropython-lib: a dry run to size the descriptor, then the real one
        desc = Descriptor(None)
        for itf in itfs:
            itf.desc_cfg(desc, 0, 0, [])
        desc = Descriptor(bytearray(desc.o))
        self._itfs = {}
        self._ep_base = {}
        for itf in itfs:
            itf.desc_cfg(desc, itf_num, ep_num, strs)
            for _ in range(itf.num_itfs()):
                self._itfs[itf_num] = itf
                itf_num += 1
            self._ep_base[itf] = ep_num
            ep_num += itf.num_eps()
        self._list = itfs
        self.strings = {
            "manufacturer": manufacturer_str,
            "product": product_str,
            "serial": serial_str,
        }

    def active(self, *value):
        if not value:
            return self._active
        on = bool(value[0])
        if on and not self._active:
            _world.usb_interfaces = list(self._list)
            _clock.call_later(
                _world.usb_enumerate_ms * 1000, self._enumerated, self._list, firmware=True
            )
        elif not on and self._active:
            self._reset()
        self._active = on
        return on

    def _enumerated(self, itfs):
        # the host's Set Configuration: endpoints become usable, then each interface opens
        if not self._active or self._list is not itfs:
            return
        for itf in itfs:
            base = self._ep_base[itf]
            for k in range(itf.num_eps()):
                for ep in (base + k, (base + k) | _EP_IN_FLAG):
                    self._eps[ep] = itf
                    self._ep_cbs[ep] = None
        for itf in itfs:
            itf.on_open()

    def _reset(self):
        for itf in self._itfs.values():
            itf.on_reset()
        self._eps = {}
        self._ep_cbs = {}
        self._xfers = {}  # outstanding transfers are cancelled; their callbacks never run
        self._held = bytearray()

    def _submit_xfer(self, ep_addr, data, done_cb=None):
        if ep_addr not in self._eps:
            raise ValueError("ep_addr")
        if self._xfer_pending(ep_addr):
            raise RuntimeError("xfer_pending")
        self._ep_cbs[ep_addr] = done_cb or True
        return self._low_submit(ep_addr, data)

    def _low_submit(self, ep_addr, data):
        # machine.USBDevice.submit_xfer: queue the transfer, no checks (the Python layer above
        # made them; a driver may call this itself from a completion, as usbserial does)
        if self._cb_ep is None:
            cost = _world.usb_xfer_cost_us
            if cost:
                _clock.advance(cost)
        self._xfers[ep_addr] = [data, 0]
        if (ep_addr & _EP_IN_FLAG or self._serial(ep_addr)) and not self._frame_due:
            self._frame_due = True
            _clock.call_at((_clock.now // _FRAME_US + 1) * _FRAME_US, self._frame, firmware=True)
        return True

    def _xfer_pending(self, ep_addr):
        # micropython-lib also counts a callback running on another thread; here there is one
        return bool(self._ep_cbs[ep_addr])

    def _xfer_cb(self, ep_addr, result, xferred_bytes):
        cb = self._ep_cbs.get(ep_addr, None)
        self._cb_ep = ep_addr
        self._ep_cbs[ep_addr] = None
        self._xfers.pop(ep_addr, None)
        try:
            if callable(cb):
                cb(ep_addr, result, xferred_bytes)
        finally:
            self._cb_ep = None

    def _serial(self, ep_addr):
        # an endpoint of the serial port (usb.device.cdc's fake): its bytes are the serial
        # port's (simulator/serialport.py), not MIDI packets
        return getattr(self._eps.get(ep_addr), "sim_serial", False)

    def _frame(self):
        """One USB frame: the host reads up to 64 bytes of pending MIDI IN transfers and up to
        _SERIAL_PER_FRAME of the serial port's, and sends the serial port a packet."""
        now = _clock.now
        out = _world.midi_out
        serial = _world.serial
        budget = _BYTES_PER_FRAME
        for ep in [e for e in self._xfers if e & _EP_IN_FLAG]:
            if self._serial(ep):
                data, done = self._xfers[ep]
                whole = len(data) and len(data) % _BYTES_PER_FRAME == 0
                if done == 0 and whole and len(self._held) + len(data) < _HOST_READ:
                    # whole packets: read, but the host's driver waits for a short one
                    self._held += data
                    self._xfer_cb(ep, _XFER_OK, len(data))
                    continue
                held = len(self._held)
                chunk = bytes(self._held) + bytes(data[done : done + _SERIAL_PER_FRAME])
                n = serial.host_receive(chunk) if serial is not None else len(chunk)
                del self._held[: min(n, held)]
                n = max(0, n - held)
                self._xfers[ep][1] = done + n
                if done + n >= len(data) and not self._held:
                    self._xfer_cb(ep, _XFER_OK, len(data))
                continue
            if not _world.usb_host_reading:
                continue
            while budget and ep in self._xfers:
                xfer = self._xfers[ep]
                data, done = xfer
                n = min(len(data) - done, budget) & ~3
                i = done
                while i < done + n:
                    out(now, data[i] & 0x0F, data[i + 1], data[i + 2], data[i + 3])
                    i += 4
                budget -= n
                xfer[1] = done + n
                if xfer[1] < len(data) - 3:
                    break  # the rest waits for the next frame
                self._xfer_cb(ep, _XFER_OK, len(data))
        if serial is not None:
            for ep in [e for e in self._xfers if not e & _EP_IN_FLAG and self._serial(e)]:
                data = serial.host_send(len(self._xfers[ep][0]))
                if data:
                    self._host_out(ep, data)
        self._frame_due = any(e & _EP_IN_FLAG or self._serial(e) for e in self._xfers)
        if self._frame_due:
            _clock.call_at(_clock.now + _FRAME_US, self._frame, firmware=True)

    def _host_out(self, ep_addr, data):
        """Simulator only: the host sends `data` on OUT endpoint ep_addr. False if the device
        has no transfer waiting there (a real host would retry; the bytes are not sent)."""
        xfer = self._xfers.get(ep_addr)
        if xfer is None or ep_addr & _EP_IN_FLAG:
            return False
        buf = xfer[0]
        n = min(len(buf), len(data))
        buf[:n] = data[:n]
        self._xfer_cb(ep_addr, _XFER_OK, n)
        return True


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
        return bool(_dev) and _dev._xfer_pending(ep_addr)

    def submit_xfer(self, ep_addr, data, done_cb=None):
        if not self._open:
            raise RuntimeError("Not open")
        if _dev is None or not _dev._submit_xfer(ep_addr, data, done_cb):
            raise RuntimeError("DCD error")


class Descriptor:
    """Writes a configuration descriptor in place (b=None: a dry run that only counts bytes)."""

    def __init__(self, b):
        self.b = b
        self.o = 0

    def pack(self, fmt, *args):
        self.pack_into(fmt, self.o, *args)

    def pack_into(self, fmt, offs, *args):
        end = offs + struct.calcsize(fmt)
        if self.b:
            struct.pack_into(fmt, self.b, offs, *args)
        self.o = max(self.o, end)

    def extend(self, a):
        if self.b:
            self.b[self.o : self.o + len(a)] = a
        self.o += len(a)

    def interface(
        self,
        bInterfaceNumber,
        bNumEndpoints,
        bInterfaceClass=0xFF,  # noqa: N803
        bInterfaceSubClass=0,
        bInterfaceProtocol=0,
        iInterface=0,
    ):  # noqa: N803
        self.pack(
            "BBBBBBBBB",
            9,
            4,
            bInterfaceNumber,
            0,
            bNumEndpoints,
            bInterfaceClass,
            bInterfaceSubClass,
            bInterfaceProtocol,
            iInterface,
        )

    def endpoint(self, bEndpointAddress, bmAttributes, wMaxPacketSize, bInterval=1):  # noqa: N803
        kinds = {"control": 0, "bulk": 2, "interrupt": 3}
        bmAttributes = kinds.get(bmAttributes, bmAttributes)
        self.pack("<BBBBHB", 7, 5, bEndpointAddress, bmAttributes, wMaxPacketSize, bInterval)


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
        return _copy(w, self.pend_write(), self.finish_write)

    def pend_read(self):
        return self._b[: self._n]

    def finish_read(self, nbytes):
        assert nbytes <= self._n, "can't finish reading more than is there"
        rest = self._n - nbytes
        if rest:
            self._b[:rest] = self._b[nbytes : self._n]
        self._n = rest

    def readinto(self, b):
        return _copy(self.pend_read(), b, self.finish_read)


def _copy(src, dst, finish):
    # Buffer.write and .readinto: copy what fits, finish that much, say how much
    n = min(len(src), len(dst))
    if n:
        dst[:n] = src[:n]
        finish(n)
    return n
