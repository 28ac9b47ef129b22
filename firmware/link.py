"""The serial edge: reads request lines and writes replies over USB serial, never blocking.

Usage: link = Link(); console = Console(..., link.send); link.handler = console.handle
       between ticks: link.service(console.handle, budget_us); while `link.busy` (output
       waiting), also link.drain(idle_us) with the idle time left in other ticks

Two ways to the host. The USB serial port of usbserial.py (boot.py starts it when micropython-lib's
usb-device-cdc is installed, and not in maintenance mode): `send` takes as much of a line as
its buffers have room for and `recv_into` returns what has arrived, neither ever waits, so
lines go out and come in in chunks (a chunk's line ends are found with bytearray.find and its
pieces copied with one slice assignment each: no Python step per byte). Otherwise (an older
install, tests on pipes) the built-in port's streams, one byte per readiness check (below).

The meter frame (`send_frame`) waits apart from both queues: it is the telemetry's own buffer,
rewritten in place for each frame, so only the latest waits (one not yet sent is replaced, never
queued twice), after the `* ` lines. On usbserial's port it goes out whole or not at all, in
whole packets copied straight from that buffer (nothing allocated); elsewhere a copy of it is
written like any line.

Replies before telemetry: replies and asynchronous `* ` lines wait in two queues. At every line
boundary a waiting reply goes first, so a reply waits behind at most the one `* ` line already
being written; replies have their own byte budget per call, and reading stops only while
_REPLY_HOLD bytes of *replies* wait (a host that sends requests but never reads its replies),
never because of monitor lines. Asynchronous lines are dropped, oldest first, when more than
_OUT_CAP bytes of them would wait (counted in `dropped`); replies are never dropped.

Bounded work per call: at most _IN_BUDGET bytes read, _REPLY_BUDGET reply bytes and
_ASYNC_BUDGET asynchronous bytes written, and no new byte or line once the time budget is spent.
A command's own work (a profile save) is not split.

Why one byte per poll on the built-in port: on rp2 a write to stdout while a host holds the
port open but does not read waits up to 500 ms for room (shared/tinyusb/mp_usbd_cdc.c,
MICROPY_HW_USB_CDC_TX_TIMEOUT) whenever the chunk is larger than the free space, and
`select.poll` reports POLLOUT when at least ONE byte is free; reading stdin blocks until every
byte asked for has come, and POLLIN says one is there. So each byte is polled first: the one
byte always fits, or is there. The per-byte path is kept short (locals, no method call but the
poll and the I/O) for throughput.
"""

import select
import sys
import time

import protocol
from micropython import const

_MAX_LINE = const(200)  # protocol.MAX_LINE
_IN_BUDGET = const(128)  # bytes read per call
_REPLY_BUDGET = const(128)  # reply bytes written per call
_ASYNC_BUDGET = const(64)  # asynchronous bytes written per call
_OUT_CAP = const(4096)  # asynchronous bytes waiting; the oldest lines are dropped to stay under
_REPLY_HOLD = const(1024)  # no new requests are read while this many reply bytes wait
_STALE_MS = const(5000)  # a half line left this long (host gone mid-line) is forgotten
# with usbserial's port (chunks, no per-byte I/O):
_CHUNK = const(512)  # bytes taken in at a time (all of usbserial's receive slots); the clock
# is read after each
_PORT_IN_BUDGET = const(512)  # bytes read per call
_PORT_REPLY_BUDGET = const(1024)  # reply bytes written per call
_PORT_ASYNC_BUDGET = const(512)  # asynchronous bytes written per call


# bytearray.find (MicroPython builds with CPython compatibility): else each chunk is copied
_BA_FIND = hasattr(bytearray, "find")


def usb_port():
    """The port boot.py started (usbserial.py), if usb-device-cdc is installed (else None: the
    built-in port)."""
    try:
        import usbserial
    except ImportError:
        return None
    return usbserial.running()


def _over(t0, budget_us):
    return time.ticks_diff(time.ticks_us(), t0) > budget_us


class Link:
    """Line reader and bounded writer on a pair of streams (default: the USB serial console).

    `handler(line_bytes)` gets each complete line (without its line ending) and returns the reply
    line (str, no newline) or None (an empty line).
    """

    def __init__(self, handler=None, inp=None, out=None, port=None):
        self.handler = handler
        if port is None and inp is None and out is None:
            port = usb_port()
        self._port = port
        chunk = bytearray(_CHUNK) if port is not None else None
        self._chunk = chunk
        self._cmv = memoryview(chunk) if chunk is not None else None
        self._view = b""  # (without bytearray.find: the chunk as bytes, to search)
        self._cpos = 0  # bytes of _chunk handled
        self._cend = 0  # bytes in _chunk
        self._now_ms = 0  # the clock at the last service (drain reads without looking at it)
        self._buf = bytearray(_MAX_LINE)
        self._n = 0  # bytes of the line so far
        self._long = 0  # bytes seen of an over-long line (0: not over-long)
        self._last = 0  # when the last byte arrived (ms)
        self._replies = []  # encoded reply lines waiting, oldest first
        self._asyncs = []  # encoded `* ` lines waiting, oldest first
        self._frame = None  # the meter frame waiting (its buffer), if any
        self._fbuf = None  # the buffer _chunks were cut from...
        self._chunks = ()  # ...and it in packet-sized memoryviews (cut once, not per frame)
        self._cur = None  # the line being written (taken from one of the queues)
        self._cur_reply = False
        self._pos = 0  # bytes of _cur already written
        self._rbytes = 0  # reply bytes waiting (with _cur's rest when it is a reply)
        self._abytes = 0  # asynchronous bytes waiting (with _cur's rest when it is one)
        self.busy = False  # output is waiting: worth a tick's idle time (`drain`)
        # output is queued or still in the port's buffers (the runtime holds a collection back
        # until it has gone: one in the middle of a reply holds the rest of it up)
        self.sending = False
        self.dropped = 0  # asynchronous lines dropped because the host was not reading
        self.lines = 0  # complete request lines received
        # bytes queued to go out since the runtime last collected garbage (it resets this): each
        # left 2-3 times its size of garbage (text, encoded line)
        self.queued = 0
        if port is not None:
            self._send = port.send
            self._recv = port.recv_into
            if hasattr(port, "on_data"):
                port.on_data = self._wake  # (a bound method made once, not per packet)
            return
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
        self._in1 = bytearray(1)
        self._out1 = bytearray(1)

    # ---- output ----

    def send_async(self, text):
        """Same as `send` (the runtime's name for it)."""
        return self.send(text)

    def send(self, text):
        """Queue an asynchronous `* ` line; dropped (oldest first) when the host is not reading."""
        return self.send_line(text.encode() + b"\n")

    def send_line(self, data):
        """`send` for a line already made as bytes, its newline included (a `* monitor` line:
        one object made instead of three)."""
        q = self._asyncs
        while self._abytes + len(data) > _OUT_CAP:
            if not q:
                self.dropped += 1
                return False
            self._abytes -= len(q.pop(0))
            self.dropped += 1
        q.append(data)
        self._abytes += len(data)
        self.queued += len(data)
        self.busy = True
        self.sending = True
        return True

    def send_frame(self, buf):
        """Send the meter frame in `buf` (a bytearray with its newline, padded on usbserial's
        port to whole packets): the caller rewrites it in place for the next frame, so a frame
        not yet sent is simply replaced by the newer one."""
        self._frame = buf
        self.busy = True
        self.sending = True

    def reply(self, text):
        """Queue a reply line: never dropped; it goes out before any waiting `* ` line."""
        data = text.encode() + b"\n"
        self._replies.append(data)
        self._rbytes += len(data)
        self.queued += len(data)
        self.busy = True
        self.sending = True

    @property
    def idle(self):
        """True when nothing is half read or waiting to go out (a good moment to collect)."""
        return (
            self._cur is None
            and not self._replies
            and not self._asyncs
            and self._frame is None
            and not self._n
            and not self._long
            and self._cpos >= self._cend
        )

    def _ready(self, p):
        if p is None:
            return True
        if self._ipoll:
            for _ in p.ipoll(0):
                return True
            return False
        return bool(p.poll(0))

    def _next_line(self):
        """Take the next line to write: a reply if one waits, else the oldest `* ` line."""
        if self._replies:
            self._cur = self._replies.pop(0)
            self._cur_reply = True
        elif self._asyncs:
            self._cur = self._asyncs.pop(0)
            self._cur_reply = False
        elif self._frame is not None and self._port is None:
            # (a byte at a time here, over several calls: a copy, as its buffer is rewritten
            # by the next frame; its bytes count against the asynchronous budget)
            self._cur = bytes(self._frame)
            self._abytes += len(self._cur)
            self._frame = None
            self._cur_reply = False
        else:
            self._cur = None
        self._pos = 0
        return self._cur

    def _write(self, t0, budget_us):
        one = self._out1
        pout = self._pout
        write = self._write_out
        ip = self._ipoll and pout is not None
        line = self._cur
        if line is None:
            line = self._next_line()
        pos = self._pos
        rbudget = _REPLY_BUDGET
        abudget = _ASYNC_BUDGET
        if budget_us:
            ticks_us = time.ticks_us
            ticks_diff = time.ticks_diff
        while line is not None:
            is_reply = self._cur_reply
            left = rbudget if is_reply else abudget
            end = len(line)
            if end - pos > left:
                end = pos + left  # this call's budget ends inside the line
            p0 = pos
            while pos < end:  # the bytes of one line (locals only: the per-byte path)
                if budget_us and ticks_diff(ticks_us(), t0) > budget_us:
                    break  # (each byte costs ~60 us on a Pico: the clock is read before each)
                if ip and pout is not None:  # (the poll inlined: a Python call per byte
                    # costs ~10 us on a Pico)
                    r = 0
                    for _ in pout.ipoll(0):
                        r = 1
                    if not r:
                        break
                elif not self._ready(pout):
                    break
                one[0] = line[pos]
                try:
                    n = write(one)
                except OSError:
                    self._gone()
                    return
                if not n:
                    break
                pos += 1
            done = pos - p0
            if is_reply:
                rbudget -= done
                self._rbytes -= done
            else:
                abudget -= done
                self._abytes -= done
            if pos < len(line):
                break  # no room, no time or no budget left: go on from here next call
            line = self._next_line()
            pos = 0
        self._pos = pos
        self.busy = self.sending = line is not None

    def _write_port(self, t0, budget_us):
        # usbserial's port: each call hands over as much of a line as its buffers take
        send = self._send
        line = self._cur
        if line is None:
            line = self._next_line()
        pos = self._pos
        rbudget = _PORT_REPLY_BUDGET
        abudget = _PORT_ASYNC_BUDGET
        wrote = 0
        while line is not None:
            is_reply = self._cur_reply
            end = len(line)
            left = rbudget if is_reply else abudget
            if end - pos > left:
                end = pos + left  # this call's budget ends inside the line
            try:
                done = send(line, pos, end) if end > pos else 0
            except OSError:
                self._gone()
                return
            pos += done
            wrote += done
            if is_reply:
                rbudget -= done
                self._rbytes -= done
            else:
                abudget -= done
                self._abytes -= done
            if pos < len(line):
                break  # no room or no budget left: go on from here next call
            line = self._next_line()
            pos = 0
            if budget_us and _over(t0, budget_us):
                break
        self._pos = pos
        port = self._port
        if port is None:
            return
        frame = self._frame
        if (
            line is None
            and frame is not None
            and not (wrote and budget_us and _over(t0, budget_us))
        ):
            # the meter frame, after the queued lines: whole packets from its own buffer (the
            # time budget holds it back only behind other lines: a busy loop can spend it all
            # before this call, and the next frame would replace this one unsent)
            if frame is not self._fbuf:
                self._cut(frame, port.PACKET)
            if port.send_packets(self._chunks):
                self._frame = None
        port.pump()  # (what the buffers hold goes out as soon as the endpoint is free)
        out = line is not None or self._frame is not None or port.waiting() > 0
        self.sending = out
        self.busy = out or self._cpos < self._cend or port.readable()

    def _cut(self, buf, size):
        # the frame's buffer as packet-sized memoryviews, made once per buffer (a slice made
        # per frame would be garbage)
        mv = memoryview(buf)
        self._chunks = tuple(mv[i : i + size] for i in range(0, len(buf), size))
        self._fbuf = buf

    def _gone(self):
        # the port is gone (CPython: pipe closed); what was waiting cannot arrive
        self.dropped += len(self._replies) + len(self._asyncs) + (self._cur is not None)
        self._replies.clear()
        self._asyncs.clear()
        self._frame = None
        self._cur = None
        self._pos = 0
        self._rbytes = 0
        self._abytes = 0
        self.busy = False
        self.sending = False

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
        pin = self._pin
        readinto = self._readinto
        ip = self._ipoll
        if budget_us:
            ticks_us = time.ticks_us
            ticks_diff = time.ticks_diff
        got = 0
        n = self._n  # (kept in a local on the per-byte path; stored back at a line end)
        while budget and self._rbytes < _REPLY_HOLD:
            # (the time budget never stops a call before its first byte: see _read_port)
            if got and budget_us and ticks_diff(ticks_us(), t0) > budget_us:
                break
            if ip:  # (inlined, as in _write)
                r = 0
                for _ in pin.ipoll(0):
                    r = 1
                if not r:
                    break
            elif not self._ready(pin):
                break
            try:
                if not readinto(one):
                    break
            except OSError:
                break
            budget -= 1
            got = 1
            b = one[0]
            if b == 10 or b == 13:
                self._n = n
                self._last = now_ms
                self._end_line()
                n = 0
                if budget_us and _over(t0, budget_us):
                    break
            elif self._long:
                self._long += 1
            elif n < _MAX_LINE:
                buf[n] = b
                n += 1
            else:
                self._long = n + 1
        self._n = n
        if got:
            self._last = now_ms
        return got

    def _read_port(self, now_ms, t0, budget_us):
        # usbserial's port: what has arrived (up to _CHUNK bytes) into _chunk at once, then its
        # line ends found with bytearray.find (C speed: no Python step per byte) and each piece
        # copied into the line buffer in one slice assignment
        if (self._n or self._long) and time.ticks_diff(now_ms, self._last) > _STALE_MS:
            self._n = 0
            self._long = 0
        chunk = self._chunk
        cmv = self._cmv
        port = self._port
        if chunk is None or cmv is None or port is None:
            return 0
        pos = self._cpos
        end = self._cend
        if pos >= end and not port.readable():
            return 0  # (most calls while output drains: nothing allocated, no clock read)
        buf = self._buf
        budget = _PORT_IN_BUDGET
        n = self._long or self._n  # (past _MAX_LINE: an over-long line, only counted)
        src = chunk
        if pos < end and not _BA_FIND:
            src = self._view
        got = 0
        while self._rbytes < _REPLY_HOLD:
            if pos >= end:  # all handled: take in what has arrived since
                # the time budget stops a call only once it has taken something in: a busy
                # loop can spend a service's whole budget before it gets here (the emulated
                # Pico with three pads and a 30 Hz meter: a request read 40 ms late)
                if budget <= 0 or (got and budget_us and _over(t0, budget_us)):
                    break
                pos = 0
                end = self._recv(chunk)
                if not end:
                    break
                budget -= end
                got = 1
                if not _BA_FIND:  # (an older MicroPython: a bytes copy per chunk to search)
                    src = self._view = bytes(cmv[:end])
            k = src.find(b"\n", pos, end)
            j = src.find(b"\r", pos, end)
            if k < 0 or 0 <= j < k:
                k = j  # the first line end in chunk[pos:end], or -1
            stop = end if k < 0 else k
            m = stop - pos
            if m:
                if n + m <= _MAX_LINE:
                    buf[n : n + m] = cmv[pos:stop]
                elif n < _MAX_LINE:  # the line grows too long here: keep counting
                    buf[n:_MAX_LINE] = cmv[pos : pos + _MAX_LINE - n]
                n += m
            if k < 0:
                pos = end
                continue
            pos = k + 1
            if n > _MAX_LINE:
                self._long = n
            else:
                self._n = n
            self._end_line()
            n = 0
            if budget_us and _over(t0, budget_us):
                break
        if n > _MAX_LINE:
            self._long = n
            self._n = 0
        else:
            self._long = 0
            self._n = n
        self._cpos = pos
        self._cend = end
        if got:
            self._last = now_ms
        return got

    def service(self, handler=None, budget_us=0):
        """The runtime's between-tick call: read up to _IN_BUDGET bytes (handling whole
        lines), then write replies first and `* ` lines after, stopping once `budget_us`
        microseconds are spent (0: byte budgets only). Never blocks."""
        if handler is not None:
            self.handler = handler
        port = self._port
        if port is not None:
            if (
                self._cur is not None
                or self._replies
                or self._asyncs
                or self._frame is not None
                or self._n
                or self._long
                or self._cpos < self._cend
                or port.readable()
                or port.waiting()
            ):
                t0 = time.ticks_us()
                self._now_ms = time.ticks_ms()
                self._read_port(self._now_ms, t0, budget_us)
                self._write_port(t0, budget_us)
            return
        if not (
            self._cur is not None
            or self._replies
            or self._asyncs
            or self._frame is not None
            or self._n
            or self._long
            or self._ready(self._pin)
        ):
            return  # nothing to read, write or finish (most calls): no need for the clock
        t0 = time.ticks_us()
        self._read(time.ticks_ms(), t0, budget_us)
        self._write(t0, budget_us)

    def _wake(self):
        # usbserial's receive callback: bytes arrived, worth this tick's idle time
        self.busy = True

    def drain(self, budget_us):
        """For up to `budget_us`: the runtime gives it a tick's idle time while `busy` (output
        waiting, or on usbserial's port also input). On the built-in port it only writes:
        reading stays in `service`, every 4th tick, as taking in its bytes one by one comes in
        lumps of a few hundred microseconds on a Pico that would make ticks late. On
        usbserial's port a request is read as soon as a tick has time (a copy from its slots)."""
        if self.busy:
            t0 = time.ticks_us() if budget_us else 0
            if self._port is not None:
                self._read_port(self._now_ms, t0, budget_us)  # (the clock of the last service)
                self._write_port(t0, budget_us)
            else:
                self._write(t0, budget_us)
