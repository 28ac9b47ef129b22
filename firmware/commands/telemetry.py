"""`monitor`, and the lines sent between ticks: `* levels` (every sensor's level and press, one
line a frame), `* monitor` (one sensor's whole state), `* event` (the MIDI played), `* fault` /
`* info ... recovered` (sensor news).

A meter frame is one `* levels` line for all sensors: on the emulated Pico a line costs about
the same to make and send whatever it carries, and four `* monitor` lines a frame (one per
sensor, every field) made a 4-sensor 30 Hz meter cost the loop ~90 ticks a second. What moves
slowly (the trigger and release points, the noise band, the learned movement, the raw reading)
comes in `* monitor` lines: one sensor's at once when its trigger or release point moves (a
sensitivity slider dragged), else each in turn every _DETAIL_MS. The rate is capped to what the
serial link carries for this instrument (`max_rate`); every line is paid from one byte budget,
and what the frames leave of it goes to early frames (`Telemetry.early`): a press that begins or
ends, or a level that moves, is shown at the next poll, not at the next frame.

A frame makes no garbage: its numbers have fixed widths (zero-padded), so each frame rewrites
the digits of one buffer made at start-up, and the link sends that buffer itself (on usbserial's
port it is padded with spaces to fill its 64-byte packets, the last one a byte short, and
copied into the port's packets with no slice made). A 30 Hz meter made ~7.6 KB of garbage a
second as `%`-formatted lines, and the collections it called for (~24 ms each on the emulated
Pico, every second while notes were held) held up any press made meanwhile: a switch heard
11.9 ms late. Digits are written two at a time from a table, and only where they changed.
"""

import time

import protocol
from link import usb_port
from micropython import const

from commands import between_ticks, command, start

_MONITOR_MAX_HZ = const(50)
# What monitor lines may use of the serial link, in bytes a second (docs/protocol.md, Monitor
# cap). The built-in port, written a byte per readiness check: about 3/4 of the ~3.2 KB/s it
# wrote on the emulated Pico, the rest kept for replies and events.
_MONITOR_BYTES_S = const(2400)
# usbserial's port (chunks, 20+ KB/s out): the loop's time, not the link, limits a monitor. On
# the emulated Pico a 4-sensor meter at 30 Hz as `* levels` frames (~2.2 KB/s with its
# `* monitor` lines) takes 258 ms a second of console polls and link calls, against 461 as
# four `* monitor` lines a frame and 226 at the old cap of 6 Hz (benchmarks/hil_monitor.py,
# docs/benchmarks.md, session 13); 4800 leaves room for early frames and a sensitivity drag
_MONITOR_BYTES_S_USB = const(4800)
_MONITOR_LINE = const(96)  # bytes in a long `* monitor` line (5-digit values, a 10-letter name)
_DETAIL_MS = const(250)  # one sensor's `* monitor` line this often (in turn), at least
_DETAIL_BYTES_S = const(_MONITOR_LINE * 1000 // _DETAIL_MS)  # what that takes of the cap
# `* monitor` lines (docs/protocol.md, Monitor). Made as bytes with the newline: one object a
# line goes out as (a str, its encoding and the newline added were three, each found room for
# on the heap: ~0.2 ms of a 1.7 ms line on the emulated Pico)
_LINE = b"* monitor t=%d %s raw=%d level=%d trigger=%d pressed=%d release=%d noise=%d move=%d\n"
_LINE_PLAIN = b"* monitor t=%d %s raw=%d level=%d trigger=%d pressed=%d release=%d noise=0\n"
_FRAME_HEAD = b"* levels t="
_T_DIGITS = const(10)  # a frame's t (ticks_ms, under 2**30), zero-padded
_T_LOW = const(10000)  # ...of which the last 4 digits change from frame to frame
_LEVEL_DIGITS = const(5)  # a sensor's level (0..16383), zero-padded
_LEVEL_TOP = const(16383)
_FRAME_FIXED = const(22)  # a frame's bytes besides its sensors' (head, t, the newline)
_FRAME_PER = const(9)  # a sensor's bytes in a frame besides its name (" =16383,1")
_MIN_BAND = const(64)  # a level change smaller than this never sends an early frame (of 16383)
# a round is skipped while nothing moved since the last frame (no press began or ended, no level
# left its noise band), for up to this long: a still meter needs no new frame, and each one
# costs the loop ~1.5 ms on the emulated Pico (its two USB packets)
_KEEP_MS = const(1000)
_EARLY_BURST = const(4)  # long lines' worth of budget that may be saved up
_TOP = const(_MONITOR_LINE * 1000 * _EARLY_BURST)
_EARLY_GAP_MS = const(20)  # an early frame for a moved level: this long after the last frame
_PRESS_GAP_MS = const(8)  # ... for a press that began or ended (a few a second at most)
_BURST_MS = const(250)  # (a long gap between budget() calls adds no more than this)
_EVENTS_PER_POLL = const(8)  # `* event` lines per poll at most
_CHECK_MS = const(50)  # how often sensor faults are looked at


def frame_bytes(names, unit=1):
    """The bytes of a `* levels` frame for sensors called `names`; with a `unit` (frame_unit())
    over 1, padded to one byte short of a multiple of it (whole packets, the last one a byte
    short: a short packet ends the host's read, and the port sends it with no slice made)."""
    n = _FRAME_FIXED
    for name in names:
        n += len(name) + _FRAME_PER
    if unit <= 1:
        return n
    return (n + unit) // unit * unit - 1


# "00".."99": digits are written two at a time (a Python step per digit cost ~15 us on the
# emulated Pico, ~0.45 ms a frame)
_PAIRS = b"".join(b"%02d" % i for i in range(100))


def _put(buf, at, pairs, v):
    # the low 2 x `pairs` decimal digits of v, zero-padded, at buf[at:] (in place: nothing made)
    d = _PAIRS
    i = at + 2 * pairs
    while i > at:
        q = v // 100
        r = 2 * (v - 100 * q)
        i -= 2
        buf[i] = d[r]
        buf[i + 1] = d[r + 1]
        v = q


class Telemetry:
    """Monitor rate, fault memory and the events kept for the next poll, for one console."""

    def __init__(self, con):
        self.con = con
        self.inst = con.inst
        self.monitor_hz = 0
        self.next_check = None  # None: due now
        self.next_monitor = None  # when the next frame is due (None: at once)
        self.faults = [0] * len(con.inst.channels)
        n = len(con.inst.channels)
        self.names = [ch.name.encode() for ch in con.inst.channels]  # (for the bytes lines)
        # the frame's buffer, made once: "* levels t=0000000000 pad=00000,0 ...", padded with
        # spaces to what the link sends whole (frame_bytes), the newline last; each frame
        # rewrites its digits
        unit = frame_unit()
        buf = bytearray(_FRAME_HEAD + b"0" * _T_DIGITS)
        at = []
        for name in self.names:
            buf += b" " + name + b"="
            at.append(len(buf))
            buf += b"0" * _LEVEL_DIGITS + b",0"
        size = frame_bytes(self.names, unit)
        buf += b" " * (size - len(buf) - 1) + b"\n"
        self.frame_buf = buf
        self.level_at = tuple(at)  # where each sensor's level digits are in it
        self.frame_unit = unit
        self.frame_cost = size * 1000  # (budget units: bytes x ms)
        self.frame_t_hi = 0  # t's digits but the last 4, as in the buffer
        self.frame_ms = 0  # when the last frame was made
        self.early_ok = False  # a level's move may bring a frame early (once between rounds)
        self.sent_level = [0] * n  # each sensor's level and press in the last frame
        self.sent_pressed = bytearray(n)
        self.detail_trigger = [-1] * n  # each sensor's trigger and release in its last
        self.detail_release = [-1] * n  # `* monitor` line (-1: none sent yet)
        self.detail_ms = None  # when the last `* monitor` line was made (None: none yet)
        self.detail_i = 0  # the sensor whose `* monitor` line is next in turn
        self.point_i = 0  # the sensor moved_point() looks at first
        self.look_points = True  # moved_point() is worth a call (set by each round)
        self.seen_version = -1  # the settings' version details() last saw
        self.look_i = 0  # the sensor whose level early() looks at next
        self.played = False  # MIDI went out since early() last looked at the presses
        self.bytes_s = 0  # what monitor lines may use of the link (link_bytes_s())
        self.tokens = 0  # the budget left: bytes a second x ms (a line costs its bytes x 1000)
        self.budget_ms = None  # when budget() last ran
        # a copy of the packets of the ticks since the last poll, for `* event` lines
        self._ev_buf = bytearray(_EVENTS_PER_POLL * 4)
        self._ev_src = bytearray(_EVENTS_PER_POLL)
        self._ev_n = 0
        self._capturing = False  # True once the runtime calls capture()

    def capture(self):
        """Right after a tick, before its MIDI is sent: copy that tick's packets for the
        `* event` lines (only while monitoring, at most 8 between polls; allocates nothing)."""
        self._capturing = True
        if not self.monitor_hz:
            return
        midi = self.inst.midi
        n = midi.count
        k = self._ev_n
        if n > _EVENTS_PER_POLL - k:
            n = _EVENTS_PER_POLL - k
        src = midi.buf
        dst = self._ev_buf
        i = 0
        while i < n:
            j = i * 4
            d = (k + i) * 4
            dst[d] = src[j]
            dst[d + 1] = src[j + 1]
            dst[d + 2] = src[j + 2]
            dst[d + 3] = src[j + 3]
            self._ev_src[k + i] = midi.src[i]
            i += 1
        self._ev_n = k + n

    def check_faults(self):
        seen = self.faults
        chans = self.inst.channels
        write = self.con.write
        for i in range(len(chans)):
            ch = chans[i]
            f = ch.fault
            if f != seen[i]:
                if f:
                    write(protocol.notice("fault", ch.name + " " + ch.fault_text))
                elif seen[i]:
                    write(protocol.notice("info", ch.name + " recovered"))
                seen[i] = f

    def _pay(self, cost):
        tok = self.tokens - cost
        self.tokens = tok if tok > -_TOP else -_TOP

    def frame(self, now_ms):
        """One `* levels` line: every sensor's level and press, written into the frame's own
        buffer (nothing allocated) and handed to the link, which sends the latest one."""
        buf = self.frame_buf
        # t: its last 4 digits, and the 6 before them only when they change (every 10 s)
        hi = now_ms // _T_LOW
        if hi != self.frame_t_hi:
            self.frame_t_hi = hi
            _put(buf, len(_FRAME_HEAD), 3, hi)
        _put(buf, len(_FRAME_HEAD) + _T_DIGITS - 4, 2, now_ms - hi * _T_LOW)
        at = self.level_at
        lv = self.sent_level
        pr = self.sent_pressed
        chans = self.inst.channels
        for i in range(len(chans)):
            ch = chans[i]
            lvl = ch.level
            if lvl < 0 or lvl > _LEVEL_TOP:
                lvl = 0
            k = at[i]
            if lvl != lv[i]:  # (digits only where they changed: at rest, none)
                # 5 digits: the first (0 or 1), then two pairs
                _put(buf, k + 1, 2, lvl)
                buf[k] = 49 if lvl >= _T_LOW else 48
                lv[i] = lvl
            p = 1 if ch.pressed else 0
            buf[k + _LEVEL_DIGITS + 1] = 48 + p
            pr[i] = p
        self.con.write_frame(buf)
        self.frame_ms = now_ms
        self._pay(self.frame_cost)

    def detail(self, now_ms, i):
        """Sensor number `i`'s `* monitor` line: all it reports (docs/protocol.md)."""
        ch = self.inst.channels[i]
        # the conditioner's levels read straight from it (Channel's properties are calls)
        cond = ch.cond
        if cond:
            trig = cond.trigger_level
            rel = cond.release_level
            data = _LINE % (
                now_ms,
                self.names[i],
                ch.raw,
                ch.level,
                trig,
                ch.pressed,
                rel,
                cond.noise_level,
                cond.move,
            )
        else:
            trig = ch.trigger_level
            rel = ch.release_level
            data = _LINE_PLAIN % (now_ms, self.names[i], ch.raw, ch.level, trig, ch.pressed, rel)
        self.con.write_line(data)
        self.detail_trigger[i] = trig
        self.detail_release[i] = rel
        self.detail_ms = now_ms
        # every line costs the 96 bytes the cap assumes (not its own, shorter length): what
        # that leaves is margin the link keeps for replies, `* event` and `* act` lines
        self._pay(_MONITOR_LINE * 1000)

    def moved_point(self):
        """The first sensor (from the one after the last found) whose trigger or release point
        moved since its last `* monitor` line, or -1."""
        chans = self.inst.channels
        n = len(chans)
        i = self.point_i
        for _ in range(n):
            ch = chans[i]
            cond = ch.cond
            if cond:
                trig = cond.trigger_level
                rel = cond.release_level
            else:
                trig = ch.trigger_level
                rel = ch.release_level
            if trig != self.detail_trigger[i] or rel != self.detail_release[i]:
                self.point_i = i + 1 if i + 1 < n else 0
                return i
            i = i + 1 if i + 1 < n else 0
        return -1

    def details(self, now_ms):
        """Between frames: a `* monitor` line for a sensor whose trigger or release point
        moved (looked for after each round and each change of settings, until none has; from
        what the frames leave of the budget, _EARLY_GAP_MS apart), else the next sensor's in
        turn every _DETAIL_MS. True when one was made."""
        last = self.detail_ms
        since = _DETAIL_MS if last is None else time.ticks_diff(now_ms, last)
        i = -1
        v = self.con.settings.version
        if v != self.seen_version:  # a setting changed: a sensitivity, say (moves a trigger)
            self.seen_version = v
            self.look_points = True
        if self.look_points and since >= _EARLY_GAP_MS:
            i = self.moved_point()
            if i < 0:
                self.look_points = False
            elif self.detail_trigger[i] >= 0:  # (a sensor with no line yet has one at once)
                self.budget(now_ms)
                if self.tokens < _MONITOR_LINE * 1000:
                    i = -1
        if i < 0 and since >= _DETAIL_MS:
            i = self.detail_i
        if i < 0:
            return False
        self.detail(now_ms, i)
        self.detail_i = i + 1 if i + 1 < len(self.names) else 0
        return True

    def start(self, hz, bytes_s):
        """Monitor at `hz` (0: off) on a link giving monitor lines `bytes_s` a second."""
        self.monitor_hz = hz
        self.next_monitor = None
        self.bytes_s = bytes_s
        self.tokens = 0
        self.budget_ms = None
        self.detail_ms = None
        for i in range(len(self.names)):
            self.detail_trigger[i] = self.detail_release[i] = -1  # every sensor's, at once

    def budget(self, now_ms):
        """Before a line is paid for: the link's monitor bytes since the last call join the
        budget every line is paid from (bytes a second x ms; at most _EARLY_BURST long lines
        saved up)."""
        last = self.budget_ms
        self.budget_ms = now_ms
        if last is not None:
            dt = time.ticks_diff(now_ms, last)
            tok = self.tokens + self.bytes_s * (dt if dt < _BURST_MS else _BURST_MS)
            self.tokens = tok if tok < _TOP else _TOP

    def moved(self, i, ch):
        """Since the last frame, sensor number `i` (channel `ch`): 1 its press began or ended,
        2 its level left its noise band (at least _MIN_BAND) around the frame's, 0 neither."""
        if (1 if ch.pressed else 0) != self.sent_pressed[i]:
            return 1
        d = ch.level - self.sent_level[i]
        if d < 0:
            d = -d
        cond = ch.cond
        band = cond.noise_level if cond else 0
        return 2 if d > (band if band > _MIN_BAND else _MIN_BAND) else 0

    def still(self, now_ms):
        """Nothing moved since the last frame (`moved`), made under _KEEP_MS ago."""
        if time.ticks_diff(now_ms, self.frame_ms) >= _KEEP_MS:
            return False
        chans = self.inst.channels
        for i in range(len(chans)):
            if self.moved(i, chans[i]):
                return False
        return True

    def early(self, now_ms):
        """Between rounds: a frame now rather than at the next round when a sensor's press
        began or ended, or (once between two rounds) its level moved past its noise band,
        since the last frame; so a meter shows a move within a poll (~4 ms), not a frame
        period. Only from what the rounds leave of the budget, and _PRESS_GAP_MS (a press) or
        _EARLY_GAP_MS (a level) after the last frame; True when one was made. Cheap on the
        many polls with nothing to send: every press is looked at once something has played,
        else one sensor a poll, and the budget only once there is a frame to pay for."""
        since = time.ticks_diff(now_ms, self.frame_ms)
        if since < _PRESS_GAP_MS:
            return False
        chans = self.inst.channels
        sent = self.sent_pressed
        moved = 0  # 1: a press began or ended; 2: a level moved
        if self.played:  # MIDI went out since the last look: a press may have begun or ended
            for i in range(len(chans)):
                if (1 if chans[i].pressed else 0) != sent[i]:
                    moved = 1
                    break
            else:
                self.played = False
        if not moved:
            # one sensor a poll, in turn: a press that began or ended with no MIDI of its own
            # (a note another sensor still holds), or a level that moved
            i = self.look_i
            self.look_i = i + 1 if i + 1 < len(chans) else 0
            moved = self.moved(i, chans[i])
            if moved == 2 and not (self.early_ok and since >= _EARLY_GAP_MS):
                moved = 0
        if not moved:
            return False
        self.budget(now_ms)
        if self.tokens < self.frame_cost:
            return False
        if moved == 2:
            self.early_ok = False
        self.played = False
        self.frame(now_ms)
        return True

    def events(self):
        if self._capturing:
            buf = self._ev_buf
            srcs = self._ev_src
            n = self._ev_n
            self._ev_n = 0
        else:  # no capture(): read the tick's packets if they are still queued
            midi = self.inst.midi
            buf = midi.buf
            srcs = midi.src
            n = midi.count
            if n > _EVENTS_PER_POLL:
                n = _EVENTS_PER_POLL
        if not n:
            return  # (most polls)
        self.played = True
        names = self.con.settings.names
        write = self.con.write
        for k in range(n):
            i = k * 4
            text = event_text(buf[i + 1] & 0xF0, buf[i + 2], buf[i + 3])
            if text is not None:
                src = srcs[k]
                write("* event " + (names[src] if src < len(names) else "?") + " " + text)


def event_text(kind, d1, d2):
    """One MIDI packet's status nibble and data bytes in words, or None to skip it."""
    if kind == 0x90 and d2:
        return "note_on " + str(d1) + " " + str(d2)
    if kind == 0x90 or kind == 0x80:
        return "note_off " + str(d1) + " " + str(d2)
    if kind == 0xB0:
        return "cc " + str(d1) + " " + str(d2)
    if kind == 0xE0:
        return "bend " + str((d1 | (d2 << 7)) - 8192)
    if kind == 0xD0:
        return "pressure " + str(d1)
    if kind == 0xA0:
        return "pressure " + str(d2)
    return None


@start
def _start(con):
    t = Telemetry(con)
    con.telemetry = t
    con.capture = t.capture  # the runtime calls it after each tick with MIDI: no extra hop


def link_bytes_s():
    """What `* monitor` lines may use of this board's serial link, in bytes a second."""
    return _MONITOR_BYTES_S_USB if usb_port() is not None else _MONITOR_BYTES_S


def frame_unit():
    """What a frame's length is padded to fill: usbserial's packet (frame_bytes), else 1 (the
    built-in port writes a byte at a time: no padding)."""
    port = usb_port()
    return port.PACKET if port is not None else 1


def max_rate(names, bytes_s=_MONITOR_BYTES_S, unit=1):
    """The fastest monitor rate (frames a second) a link carrying `bytes_s` of monitor lines a
    second (link_bytes_s()) carries for sensors called `names` (bytes): their frames (padded to
    `unit`, frame_unit()), and the `* monitor` line every _DETAIL_MS."""
    hz = (bytes_s - _DETAIL_BYTES_S) // frame_bytes(names, unit)
    if hz > _MONITOR_MAX_HZ:
        return _MONITOR_MAX_HZ
    return hz if hz > 1 else 1


@command("monitor", "monitor <rate_hz> | monitor off")
def monitor(con, rest):
    bytes_s = link_bytes_s()
    t = con.telemetry
    cap = max_rate(t.names, bytes_s, t.frame_unit)
    if rest.lower() == "off":
        hz = 0
    else:
        try:
            hz = int(rest)
        except ValueError:
            hz = -1
        if hz < 1 or hz > _MONITOR_MAX_HZ:
            return protocol.err(
                "value",
                "monitor takes a rate from 1 to "
                + str(_MONITOR_MAX_HZ)
                + " (meter frames a second; this instrument's link carries up to "
                + str(cap)
                + "), or off.",
            )
        if hz > cap:
            hz = cap  # clamped: the reply says so, and replies stay quick
    t.start(hz, bytes_s)
    return protocol.ok({"monitor": hz, "max": cap})


@between_ticks(10)
def _faults(con, now_ms):
    t = con.telemetry
    if t.next_check is None or time.ticks_diff(now_ms, t.next_check) >= 0:
        t.next_check = time.ticks_add(now_ms, _CHECK_MS)
        t.check_faults()


@between_ticks(30)
def _monitor(con, now_ms):
    t = con.telemetry
    if t.monitor_hz:
        t.events()
        nxt = t.next_monitor
        if nxt is None or time.ticks_diff(now_ms, nxt) >= 0:
            period = 1000 // t.monitor_hz
            if nxt is None or time.ticks_diff(now_ms, nxt) >= period:
                nxt = now_ms  # the first, or far behind: start afresh
            # from when it was due, not when the poll (every 4 ms) saw it: 30 Hz stays 30 Hz
            first = t.next_monitor is None
            t.next_monitor = time.ticks_add(nxt, period)
            t.early_ok = True
            t.look_points = True
            if first or not t.still(now_ms):
                t.budget(now_ms)
                t.frame(now_ms)
                return
        # (one line a poll at most: two made at once would hold up a tick on a Pico)
        if t.details(now_ms):
            return
        if t.early(now_ms):
            t.next_monitor = time.ticks_add(now_ms, 1000 // t.monitor_hz)
