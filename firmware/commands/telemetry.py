"""`monitor`, and the lines sent between ticks: `* monitor` (each sensor), `* event` (the MIDI
played), `* fault` / `* info ... recovered` (sensor news).

The monitor rate is capped to what the serial link carries for this instrument's sensors
(`max_rate`: far more on usbserial's port than byte by byte on the built-in one), so a monitor
can never crowd out replies; a faster request is clamped to the cap. Every line is paid from one
byte budget; what the rounds leave of it goes to early lines (`Telemetry.early`): a sensor that
moves is sent at the next poll, not at the next round.
"""

import time

import protocol
from micropython import const

from commands import between_ticks, command, start

_MONITOR_MAX_HZ = const(50)
# What `* monitor` lines may use of the serial link, in bytes a second (docs/protocol.md, Monitor
# cap). The built-in port, written a byte per readiness check: about 3/4 of the ~3.2 KB/s it
# wrote on the emulated Pico, the rest kept for replies and events.
_MONITOR_BYTES_S = const(2400)
# usbserial's port (chunks, 20+ KB/s out): the link is no longer what limits a monitor, the
# loop's time is. On the emulated Pico a 4-sensor monitor at 30 Hz (12,000 bytes a second) cost
# so much per line (making it, and the usb.device transfers in Python) that the loop fell to
# ~378 ticks a second (benchmarks/hil_serial.py, docs/reliability.md), so the cap stays at the
# built-in port's. Making a line now costs ~1/8 of the garbage and ~1/2.4 of the time (one `%`
# format, MicroPython VM); the transfers are unchanged. Raise this once a 4-sensor 30 Hz run of
# `python -m benchmarks.hil_monitor --cap 12000` shows no late ticks
_MONITOR_BYTES_S_USB = const(2400)
_MONITOR_LINE = const(96)  # bytes in a long `* monitor` line (5-digit values, a 10-letter name)
# `* monitor` lines (docs/protocol.md, Monitor); the last %s is "" or " early=1" (a line sent
# between rounds because its sensor moved: a frame of its own). Made as bytes with the newline:
# one object a line goes out as (a str, its encoding and the newline added were three, each
# found room for on the heap: ~0.2 ms of a 1.7 ms line on the emulated Pico)
_LINE = b"* monitor t=%d %s raw=%d level=%d trigger=%d pressed=%d release=%d noise=%d move=%d%s\n"
_LINE_PLAIN = b"* monitor t=%d %s raw=%d level=%d trigger=%d pressed=%d release=%d noise=0%s\n"
_EARLY = b" early=1"
_MIN_BAND = const(64)  # a level change smaller than this never sends an early line (of 16383)
_EARLY_BURST = const(4)  # early lines the budget may save up
_TOP = const(_MONITOR_LINE * 1000 * _EARLY_BURST)
_EARLY_GAP_MS = const(20)  # a sensor's early lines come at least this far apart (50 Hz at most)
_BURST_MS = const(250)  # (a long gap between polls adds no more than this to the allowance)
_EVENTS_PER_POLL = const(8)  # `* event` lines per poll at most
_CHECK_MS = const(50)  # how often sensor faults are looked at


class Telemetry:
    """Monitor rate, fault memory and the events kept for the next poll, for one console."""

    def __init__(self, con):
        self.con = con
        self.inst = con.inst
        self.monitor_hz = 0
        self.next_check = None  # None: due now
        self.next_monitor = None
        self.mon_i = len(con.inst.channels)  # next sensor of the round under way (len: none)
        self.mon_t = 0  # when the round under way started (ms): its lines' t=
        self.faults = [0] * len(con.inst.channels)
        n = len(con.inst.channels)
        self.names = [ch.name.encode() for ch in con.inst.channels]  # (for the bytes lines)
        self.sent_level = [0] * n  # each sensor's level and press in its last line
        self.sent_pressed = bytearray(n)
        self.sent_ms = [0] * n  # when each sensor's last line was made
        self.early_ok = bytearray(n)  # 1: its last line was a round's (an early one may follow)
        self.bytes_s = 0  # what monitor lines may use of the link (link_bytes_s())
        self.tokens = 0  # the budget left: bytes a second x ms (a line costs its bytes x 1000)
        self.budget_ms = None  # the last poll budget() saw
        self.early_i = 0  # the sensor the last early line was for
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

    def monitor_lines(self, now_ms, only=None):
        """`* monitor` lines for every sensor, or only sensor number `only`."""
        chans = self.inst.channels
        if only is not None:
            self._line(now_ms, only, chans[only])
            return
        for i in range(len(chans)):
            self._line(now_ms, i, chans[i])

    def _line(self, now_ms, i, ch, tail=b""):
        # one `%` format: a single object made in C (the old chain of `+` and str() made
        # ~15 strings a line, a cost the Pico paid 120 times a second for a 4-sensor meter);
        # the conditioner's levels read straight from it (Channel's properties are calls)
        cond = ch.cond
        lvl = ch.level
        if cond:
            data = _LINE % (
                now_ms,
                self.names[i],
                ch.raw,
                lvl,
                cond.trigger_level,
                ch.pressed,
                cond.release_level,
                cond.noise_level,
                cond.move,
                tail,
            )
        else:
            data = _LINE_PLAIN % (
                now_ms,
                self.names[i],
                ch.raw,
                lvl,
                ch.trigger_level,
                ch.pressed,
                ch.release_level,
                tail,
            )
        self.con.write_line(data)
        self.sent_level[i] = lvl
        self.sent_pressed[i] = 1 if ch.pressed else 0
        self.sent_ms[i] = now_ms
        # every line costs the 96 bytes the cap assumes (not its own, shorter length): what
        # that leaves is margin the link keeps for replies, `* event` and `* act` lines
        tok = self.tokens - _MONITOR_LINE * 1000
        self.tokens = tok if tok > -_TOP else -_TOP
        # (one early line for a moved level between a sensor's round lines; a press or release
        # has one whenever it comes: early())
        self.early_ok[i] = 0 if tail else 1

    def start(self, hz, bytes_s):
        """Monitor at `hz` (0: off) on a link giving monitor lines `bytes_s` a second."""
        self.monitor_hz = hz
        self.next_monitor = None
        self.mon_i = len(self.inst.channels)  # (a new round starts at once)
        self.bytes_s = bytes_s
        self.tokens = 0
        self.budget_ms = None

    def budget(self, now_ms):
        """Each poll: the link's monitor bytes since the last poll join the budget every line
        is paid from (bytes a second x ms; at most _EARLY_BURST lines saved up)."""
        last = self.budget_ms
        self.budget_ms = now_ms
        if last is not None:
            dt = time.ticks_diff(now_ms, last)
            tok = self.tokens + self.bytes_s * (dt if dt < _BURST_MS else _BURST_MS)
            self.tokens = tok if tok < _TOP else _TOP

    def early(self, now_ms):
        """Between rounds: the line of one sensor whose level moved past its noise band (or
        whose press began or ended) since its last line, sent now rather than at the next
        round, so a meter shows a move within a poll (~4 ms), not a frame period. Only from
        what the rounds leave of the budget (the link's monitor bytes: never more than the cap),
        one a sensor between two of its round lines, and _EARLY_GAP_MS after its last line."""
        if self.tokens < _MONITOR_LINE * 1000:
            return
        chans = self.inst.channels
        n = len(chans)
        i = self.early_i
        for _ in range(n):  # from where the last early line left off: no sensor starves
            i = i + 1 if i + 1 < n else 0
            if time.ticks_diff(now_ms, self.sent_ms[i]) < _EARLY_GAP_MS:
                continue
            ch = chans[i]
            # a press that began or ended is always worth an early line; a level that moved,
            # once between two round lines (a press can come a little after its move: the
            # twitch check may hold it until the level levels off)
            if (1 if ch.pressed else 0) == self.sent_pressed[i]:
                if not self.early_ok[i]:
                    continue
                cond = ch.cond
                d = ch.level - self.sent_level[i]
                if d < 0:
                    d = -d
                band = cond.noise_level if cond else 0
                if d <= (band if band > _MIN_BAND else _MIN_BAND):
                    continue
            self._line(now_ms, i, ch, _EARLY)
            self.early_i = i
            return

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
    try:
        import usbserial
    except ImportError:  # no usb-device-cdc: the built-in port
        return _MONITOR_BYTES_S
    return _MONITOR_BYTES_S if usbserial.running() is None else _MONITOR_BYTES_S_USB


def max_rate(channels, bytes_s=_MONITOR_BYTES_S):
    """The fastest monitor rate (Hz) a link carrying `bytes_s` of monitor lines a second
    (link_bytes_s()) carries for this many sensors."""
    hz = bytes_s // (_MONITOR_LINE * (channels if channels > 0 else 1))
    if hz > _MONITOR_MAX_HZ:
        return _MONITOR_MAX_HZ
    return hz if hz > 1 else 1


@command("monitor", "monitor <rate_hz> | monitor off")
def monitor(con, rest):
    bytes_s = link_bytes_s()
    cap = max_rate(len(con.inst.channels), bytes_s)
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
                + " (lines a second for each sensor; this instrument's link carries up to "
                + str(cap)
                + "), or off.",
            )
        if hz > cap:
            hz = cap  # clamped: the reply says so, and replies stay quick
    con.telemetry.start(hz, bytes_s)
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
        t.budget(now_ms)
        t.events()
        i = t.mon_i
        if i < len(t.inst.channels):
            # one sensor's line per poll (every 4 ms): a round of four lines made at once would
            # hold up a tick on a Pico. The round's lines share its time (tools group them by t)
            t.monitor_lines(t.mon_t, i)
            t.mon_i = i + 1
            return
        nxt = t.next_monitor
        if nxt is None or time.ticks_diff(now_ms, nxt) >= 0:
            period = 1000 // t.monitor_hz
            if nxt is None or time.ticks_diff(now_ms, nxt) >= period:
                nxt = now_ms  # the first, or far behind: start afresh
            # from when it was due, not when the poll (every 4 ms) saw it: 30 Hz stays 30 Hz
            t.next_monitor = time.ticks_add(nxt, period)
            t.mon_t = now_ms
            t.monitor_lines(now_ms, 0)
            t.mon_i = 1
        else:
            t.early(now_ms)
