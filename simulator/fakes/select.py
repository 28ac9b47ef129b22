"""Fake `select` module for the simulator: MicroPython's `poll()` (results name the registered
object, `ipoll`, timeouts in virtual milliseconds) over CPython's real one.

The simulated serial port (`sys.stdin` for POLLIN, `sys.stdout` for POLLOUT) is polled without a
system call: POLLIN when a byte is waiting, POLLOUT when a byte can go out (a host is connected
and reading, as on rp2).
"""

from simulator import context as _ctx

_clock, _world = _ctx.require()
_real = _ctx.REAL_SELECT

POLLIN = _real.POLLIN
POLLOUT = _real.POLLOUT
POLLERR = _real.POLLERR
POLLHUP = _real.POLLHUP


class _Poll:
    def __init__(self):
        self._poll = _real.poll()
        self._objs = {}
        self._serial_in = None  # (object, port): the serial port polled for POLLIN
        self._serial_out = None  # (object, port): the serial port polled for POLLOUT
        self._others = 0

    def register(self, obj, eventmask=POLLIN | POLLOUT):
        port = getattr(obj, "serial_port", None)
        if port is not None:
            self.unregister(obj)
            if eventmask & POLLIN and getattr(obj, "serial_in", True):
                self._serial_in = (obj, port)
            if eventmask & POLLOUT and not getattr(obj, "serial_in", True):
                self._serial_out = (obj, port)
            return
        fd = obj if isinstance(obj, int) else obj.fileno()
        if fd not in self._objs:
            self._others += 1
            self._poll.register(fd, eventmask)
        else:
            self._poll.modify(fd, eventmask)
        self._objs[fd] = obj

    def unregister(self, obj):
        if getattr(obj, "serial_port", None) is not None:
            if self._serial_in is not None and self._serial_in[0] is obj:
                self._serial_in = None
            if self._serial_out is not None and self._serial_out[0] is obj:
                self._serial_out = None
            return
        fd = obj if isinstance(obj, int) else obj.fileno()
        if self._objs.pop(fd, None) is not None:
            self._poll.unregister(fd)
            self._others -= 1

    def modify(self, obj, eventmask):
        self.register(obj, eventmask)

    def _ready(self):
        ready = []
        serial = self._serial_in
        if serial is not None and serial[1].readable():
            ready.append((serial[0], POLLIN))
        serial = self._serial_out
        if serial is not None and serial[1].writable():
            ready.append((serial[0], POLLOUT))
        if self._others:
            objs = self._objs
            ready.extend((objs[fd], ev) for fd, ev in self._poll.poll(0))
        return ready

    def poll(self, timeout=-1):
        """Ready (object, events) pairs; waits up to `timeout` ms of virtual time (-1: until
        something is ready), looking every millisecond."""
        ready = self._ready()
        if ready or timeout == 0:
            return ready
        waited = 0
        while timeout < 0 or waited < timeout:
            _clock.advance(1000)
            waited += 1
            ready = self._ready()
            if ready:
                break
        return ready

    def ipoll(self, timeout=-1, flags=0):
        if timeout == 0 and not self._others and self._serial_out is None:
            # the hot case (the firmware's link, every 4 ms): is a serial byte waiting?
            serial = self._serial_in
            if serial is not None:
                port = serial[1]
                if port._in_thread + port._in_main > port._taken:
                    return iter(((serial[0], POLLIN),))
            return iter(())
        return iter(self.poll(timeout))


def poll():
    return _Poll()


def select(rlist, wlist, xlist, timeout=None):
    waited = 0.0
    while True:
        r, w, x = _real.select(rlist, wlist, xlist, 0)
        if r or w or x or (timeout is not None and waited >= timeout):
            return r, w, x
        _clock.advance(1000)
        waited += 0.001


def __getattr__(name):
    return getattr(_real, name)
