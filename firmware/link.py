"""The serial edge: reads request lines and writes replies over USB serial, never blocking.

Usage: link = Link(); console = Console(..., link.send); link.handler = console.handle
       between ticks: link.service(console.handle, budget_us)

Bounded work per call: at most _IN_BUDGET bytes read and _OUT_BUDGET bytes written (and no new
byte or line once the time budget is spent), so a flood of input or a slow host delays a tick
by a bounded amount. A command's own work (a profile save) is not split.

Why writing never blocks: on rp2 a write to stdout while a host holds the port open but does not
read waits up to 500 ms for room (shared/tinyusb/mp_usbd_cdc.c, MICROPY_HW_USB_CDC_TX_TIMEOUT),
and it waits whenever the chunk is larger than the free space. `select.poll` on stdout reports
POLLOUT only when at least one byte is free (mp_usbd_cdc_poll_interfaces; in 1.23, only while a
host is connected), so the link writes ONE byte per POLLOUT check: that byte always fits. When
nobody reads, POLLOUT stays off, the queue fills, and the oldest asynchronous `* ` lines are
dropped (counted in `dropped`); replies are never dropped: instead the link stops reading new
requests while much output is waiting (USB flow control then holds the host back).
"""

import select
import sys
import time

import protocol
from micropython import const

_MAX_LINE = const(200)  # protocol.MAX_LINE
_IN_BUDGET = const(64)  # bytes read per call
_OUT_BUDGET = const(32)  # bytes written per call
_OUT_CAP = const(4096)  # bytes waiting to go out; asynchronous lines are dropped to stay under
_REPLY_HOLD = const(1024)  # no new requests are read while this much output waits
_STALE_MS = const(5000)  # a half line left this long (host gone mid-line) is forgotten
_CHECK_EVERY = const(8)  # bytes between looks at the clock under a time budget (the first
# look comes after the first byte: most calls find nothing to read or write)


def _over(t0, budget_us):
    return time.ticks_diff(time.ticks_us(), t0) > budget_us


class Link:
    """Line reader and bounded writer on a pair of streams (default: the USB serial console).

    `handler(line_bytes)` gets each complete line (without its line ending) and returns the reply
    line (str, no newline) or None (an empty line).
    """

    def __init__(self, handler=None, inp=None, out=None):
        self.handler = handler
        inp = sys.stdin if inp is None else inp
        out = sys.stdout if out is None else out
        self._pin = select.poll()
        self._pin.register(inp, select.POLLIN)
        self._pout = select.poll()
        try:
            self._pout.register(out, select.POLLOUT)
        except (AttributeError, TypeError, ValueError, OSError):
            # a stream that cannot be polled (no fileno): assume it always takes a byte
            self._pout = None
        self._ipoll = hasattr(self._pin, "ipoll")  # MicroPython: polls without allocating
        # bytes, below any CPython buffer (so POLLIN/POLLOUT are exact); the bound methods are
        # looked up once, not per byte
        rx = getattr(inp, "buffer", inp)
        self._readinto = getattr(getattr(rx, "raw", rx), "readinto")  # noqa: B009
        tx = getattr(out, "buffer", out)
        self._write_out = getattr(getattr(tx, "raw", tx), "write")  # noqa: B009
        self._buf = bytearray(_MAX_LINE)
        self._n = 0  # bytes of the line so far
        self._long = 0  # bytes seen of an over-long line (0: not over-long)
        self._last = 0  # when the last byte arrived (ms)
        self._in1 = bytearray(1)
        self._out1 = bytearray(1)
        self._lines = []  # encoded lines waiting to go out, oldest first
        self._reply = []  # True for each line that is a reply (never dropped)
        self._pos = 0  # bytes of the first line already written
        self._bytes = 0  # bytes in _lines
        self.dropped = 0  # asynchronous lines dropped because the host was not reading
        self.lines = 0  # complete request lines received

    # ---- output ----

    def send_async(self, text):
        """Same as `send` (the runtime's name for it)."""
        return self.send(text)

    def send(self, text):
        """Queue an asynchronous `* ` line; dropped (oldest first) when the host is not reading."""
        data = text.encode() + b"\n"
        while self._bytes + len(data) > _OUT_CAP:
            if not self._drop_async():
                self.dropped += 1
                return False
        self._lines.append(data)
        self._reply.append(False)
        self._bytes += len(data)
        return True

    def reply(self, text):
        """Queue a reply line: never dropped; makes room by dropping asynchronous lines."""
        data = text.encode() + b"\n"
        self._lines.append(data)
        self._reply.append(True)
        self._bytes += len(data)
        while self._bytes > _OUT_CAP and self._drop_async():
            pass

    def _drop_async(self):
        """Drop the oldest asynchronous line not already being written. False if none."""
        start = 1 if self._pos else 0
        for i in range(start, len(self._lines)):
            if not self._reply[i]:
                self._bytes -= len(self._lines[i])
                del self._lines[i]
                del self._reply[i]
                self.dropped += 1
                return True
        return False

    @property
    def idle(self):
        """True when nothing is half read or waiting to go out (a good moment to collect)."""
        return not self._lines and not self._n and not self._long

    def _ready(self, p):
        if p is None:
            return True
        if self._ipoll:
            for _ in p.ipoll(0):
                return True
            return False
        return bool(p.poll(0))

    def _write(self, t0, budget_us):
        budget = _OUT_BUDGET
        one = self._out1
        lines = self._lines
        while budget and lines:
            if budget_us and budget % _CHECK_EVERY == _CHECK_EVERY - 1 and _over(t0, budget_us):
                return
            if not self._ready(self._pout):
                return
            line = lines[0]
            one[0] = line[self._pos]
            try:
                n = self._write_out(one)
            except OSError:
                # the port is gone (CPython: pipe closed); what was waiting cannot arrive
                self.dropped += len(lines)
                lines.clear()
                self._reply.clear()
                self._bytes = 0
                self._pos = 0
                return
            if not n:
                return
            budget -= 1
            self._pos += 1
            if self._pos >= len(line):
                self._bytes -= len(line)
                self._pos = 0
                del lines[0]
                del self._reply[0]

    # ---- input ----

    def _end_line(self):
        if self._long:
            seen = self._long
            self._long = 0
            self._n = 0
            self.lines += 1
            self.reply(
                protocol.err(
                    "toolong",
                    "The line was " + str(seen) + " bytes long; the "
                    "most is " + str(_MAX_LINE) + ". It was ignored.",
                )
            )
            return
        if not self._n:
            return
        line = bytes(self._buf[: self._n])
        self._n = 0
        self.lines += 1
        h = self.handler
        try:
            r = h(line) if h is not None else protocol.err("busy", "Starting up; try again.")
        except Exception as e:  # a bug in a command must not stop the instrument
            r = protocol.err(
                "internal",
                "The command failed unexpectedly (" + repr(e) + "); the instrument plays on.",
            )
        if r:
            self.reply(r)

    def _read(self, now_ms, t0, budget_us):
        if (self._n or self._long) and time.ticks_diff(now_ms, self._last) > _STALE_MS:
            self._n = 0  # the host left mid-line: that half line must not prefix the next one
            self._long = 0
        budget = _IN_BUDGET
        one = self._in1
        buf = self._buf
        while budget and self._bytes < _REPLY_HOLD:
            if budget_us and budget % _CHECK_EVERY == _CHECK_EVERY - 1 and _over(t0, budget_us):
                return
            if not self._ready(self._pin):
                return
            try:
                n = self._readinto(one)
            except OSError:
                return
            if not n:
                return
            budget -= 1
            self._last = now_ms
            b = one[0]
            if b == 10 or b == 13:
                self._end_line()
                if budget_us and _over(t0, budget_us):
                    return
            elif self._long:
                self._long += 1
            elif self._n < _MAX_LINE:
                buf[self._n] = b
                self._n += 1
            else:
                self._long = self._n + 1

    def service(self, handler=None, budget_us=0):
        """The runtime's between-tick call: read up to _IN_BUDGET bytes (handling whole
        lines), then write up to _OUT_BUDGET bytes, stopping once `budget_us` microseconds are
        spent (0: byte budgets only). Never blocks."""
        if handler is not None:
            self.handler = handler
        if not (self._lines or self._n or self._long or self._ready(self._pin)):
            return  # nothing to read, write or finish (most calls): no need for the clock
        t0 = time.ticks_us()
        self._read(time.ticks_ms(), t0, budget_us)
        self._write(t0, budget_us)
