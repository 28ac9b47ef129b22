"""Gestures: press and release with hysteresis, switch debounce, dwell, lockout, tremor guard
and the strength of a press (for velocity). Integers and ticks only; nothing allocated.

Usage: g = Gesture(chs, guard=True); event = g.update(level, trigger, release, now_us)

Latency each option adds: debounce none (leading edge: the first contact plays at once); dwell
exactly its setting; lockout none (it only refuses presses soon after a release); velocity from
pressure 10 ms (the peak is awaited); the tremor guard none.
"""

from time import ticks_diff

from micropython import const

NONE = const(0)
PRESS = const(1)
RELEASE = const(2)

_STRENGTH_MAX = const(16383)
_FULL_SPEED_MS = const(50)  # crossing the whole range in 50 ms is the strongest press
_PEAK_US = const(10000)  # velocity from pressure: wait this long for the peak
_SHORT_US = const(200000)  # excursions shorter than this look like tremor, not intent
_VEL_PRESSURE = const(2)  # settings.VEL_PRESSURE
# the tremor guard decays by the clock rather than by the tick, with a ~4 s time constant: it
# halves every 2.84 s, following 2**(-i/8) (Q7) in eighths of that, and is gone after 12
# halvings (34 s: well inside ticks_diff's 536 s reach)
_GUARD_HALF_MS = const(2840)
_GUARD_EIGHTH_MS = const(355)
_GUARD_HALVINGS = const(12)
_GUARD_CURVE = b"\x80\x75\x6c\x63\x5b\x53\x4c\x46\x40"  # 128 * 2**(-i/8), i = 0..8


class Debouncer:
    """Leading-edge switch debounce: a change is taken at once, then contact bounce is ignored
    for `debounce` ms. Adds no delay to the note. A reading equal to `state` while not
    `holding` changes nothing (callers may skip the call)."""

    def __init__(self, chs):
        self.chs = chs
        self.state = 0
        self._t = 0
        self.holding = 0  # 1 while bounces after the last change are being ignored

    def update(self, raw, now_us):
        """Raw 0/1 in, debounced 0/1 out."""
        if self.holding:
            # checked every tick while it runs, so a stale time can never wrap around
            if ticks_diff(now_us, self._t) < self.chs.debounce * 1000:
                return self.state
            self.holding = 0
        if raw != self.state:
            self.state = raw
            self._t = now_us
            self.holding = 1
        return self.state


class Gesture:
    """Turns a level (0..16383) into presses and releases.

    With `guard` (analog sensors), short excursions that end without a deliberate press, such as
    tremor, teach a guard level that the next press must clear; it fades over a few seconds.
    Callers may skip update() while `idle` and the level is under release >> 1 (see update()).
    """

    def __init__(self, chs, guard):
        self.chs = chs
        self.guard = guard
        self.pressed = 0
        self.strength = 0  # of the last press, 0..16383
        self._guard_peak = 0  # learned tremor peak (level units), fading from _guard_t on
        self._guard_t = 0
        self._release = 0  # release level of the current press
        self._pending = 0  # 1 while a dwell or a peak wait is running
        self._t_pending = 0
        self._peak = 0
        self._speed = 0
        self.t_rest = 0  # last time the level was at rest (below the gate)
        # 1 while at rest with nothing in progress (no press, wait, excursion or lockout): a
        # level below the gate then changes nothing but t_rest
        self.idle = 0
        self._t_release = 0
        self._t_press = 0
        self._exc = 0  # highest level of the current excursion above the gate
        self.taint = 0  # 1 from not_a_shake() until the level is back at rest
        self._locked = 0  # 1 while the lockout after a release may still run

    def reset(self, now_us):
        """Forget any press in progress and the tremor guard (after a fault, a restart, a
        re-learned rest: the loop may have stopped for longer than the guard's clock reaches)."""
        self.pressed = 0
        self._pending = 0
        self._exc = 0
        self._guard_peak = 0
        self.taint = 0
        self.t_rest = now_us

    def tremor(self, now_us):
        """The tremor guard now, in level units (0 when none)."""
        p = self._guard_peak
        if not p:
            return 0
        ms = ticks_diff(now_us, self._guard_t) // 1000
        h = ms // _GUARD_HALF_MS
        if h >= _GUARD_HALVINGS or ms < 0:
            self._guard_peak = 0
            return 0
        ms -= h * _GUARD_HALF_MS
        k = ms // _GUARD_EIGHTH_MS
        r = ms - k * _GUARD_EIGHTH_MS
        a = _GUARD_CURVE[k]
        # a straight line within the eighth; (p >> h) * f stays under 2**30: no long ints
        f = a * _GUARD_EIGHTH_MS - (a - _GUARD_CURVE[k + 1]) * r
        return (p >> h) * f // (128 * _GUARD_EIGHTH_MS)

    def _learn(self, peak, now_us):
        if self.guard and not self.taint and peak > self.tremor(now_us):
            self._guard_peak = peak
            self._guard_t = now_us

    def not_a_shake(self):
        """The level now comes from a wiring fault (a reading pinned at a rail), not from the
        client: this excursion teaches no tremor guard, and update() must see it."""
        self.taint = 1
        self.idle = 0

    def update(self, level, trigger, release, now_us):
        """Returns NONE, PRESS (see `strength`) or RELEASE.
        While `idle`, a level under release >> 1 may skip this call and only set t_rest."""
        self.idle = 0
        if self.pressed:
            if level > self._peak:
                self._peak = level
            if level < self._release:
                self.pressed = 0
                self._t_release = now_us
                self._locked = 1
                self._exc = 0
                if 0 <= ticks_diff(now_us, self._t_press) < _SHORT_US:
                    self._learn(self._peak, now_us)
                return RELEASE
            return NONE
        if self._locked and ticks_diff(now_us, self._t_release) >= self.chs.lockout * 1000:
            self._locked = 0  # checked every tick while locked, so it cannot wrap around
        gate = release >> 1
        if level < gate:
            if self._exc:
                if 0 <= ticks_diff(now_us, self.t_rest) < _SHORT_US:
                    self._learn(self._exc, now_us)
                self._exc = 0
            self.taint = 0
            self.t_rest = now_us
            self._pending = 0
            if not self._locked:
                self.idle = 1
            return NONE
        if level > self._exc:
            self._exc = level
        eff = trigger
        if self._guard_peak and self.guard:
            # fades with the clock, so the guard outlasts a bout of shakes
            t = self.tremor(now_us)
            g = t + (t >> 2)
            if g > eff:
                eff = g
        if level < eff:
            self._pending = 0
            return NONE
        if self._locked:
            return NONE
        chs = self.chs
        if not self._pending:
            # approach speed: from leaving rest to crossing the trigger, in level units per ms
            ms = ticks_diff(now_us, self.t_rest) // 1000 + 1
            self._speed = (level - gate) * _FULL_SPEED_MS // ms
        wait = chs.dwell * 1000
        if chs.velocity == _VEL_PRESSURE:
            wait += _PEAK_US
        if wait:
            if not self._pending:
                self._pending = 1
                self._t_pending = now_us
                self._peak = level
                return NONE
            if level > self._peak:
                self._peak = level
            if ticks_diff(now_us, self._t_pending) < wait:
                return NONE
            self._pending = 0
        # a press
        s = self._peak if chs.velocity == _VEL_PRESSURE else self._speed
        self.strength = s if s < _STRENGTH_MAX else _STRENGTH_MAX
        self.pressed = 1
        self._peak = level
        self._t_press = now_us
        self._release = release * eff // trigger if trigger else release
        return PRESS
