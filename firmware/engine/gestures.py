"""Gestures: press and release with hysteresis, switch debounce, dwell, lockout, tremor guard
and the strength of a press (for velocity). Integers and ticks only; nothing allocated.

Usage: g = Gesture(chs, guard=True); event = g.update(level, trigger, release, now_us)

Latency each option adds: debounce none (leading edge: the first contact plays at once); dwell
exactly its setting; lockout none (it only refuses presses soon after a release); velocity from
pressure 10 ms (the peak is awaited); the tremor guard none; the twitch check only on a crossing
at least as fast as the client's learned presses (1.375x in a phrase of taps), until the
level stops rising (as long as the rise took, at most 25 ms); the size check only on a
crossing of a learned trigger that rose like a 4-8 Hz shake, until the level reaches 1.375x the
trigger or shows, over 6 ms or more, that it is still rising (docs/sensing.md). A release
above the rest band comes up to 50 ms late (a dip under the release level that comes back up is
a tremor's trough, not the end of the press).
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
# an excursion that starts this soon after the last one started is part of an oscillation (a
# tremor of 4.5 Hz and faster); a beat of up to 4 taps a second leaves >= 238 ms between taps
_TREMOR_US = const(220000)
_TAP_RISE_US = const(12000)  # ...and a tap rises from release to trigger level faster than this
# twitch check: a crossing at least this fast, against the client's presses, waits until the
# level stops rising...
_TWITCH_SPEED = const(8)  # (in eighths: as fast as the client's usual presses, or faster)
_TWITCH_SPEED_PHRASE = const(11)  # ... 1.375x in a phrase: a movement under _PHRASE_US after
_PHRASE_US = const(550000)  # the last one began (a beat of taps, 2 a second or faster)
_TWITCH_DROP = const(3)  # a fall by 1/8 of the peak...
_PLATEAU_US = const(7000)  # ... for as long as the rise took, at most this (a twitch falls
_PLATEAU_MIN_US = const(2000)  # back about as fast as it rose) and at least this;
_PLATEAU_STEP = const(5)  # a rise by under 1/32 since the last one counted is levelling off
_TWITCH_WAIT_US = const(25000)  # ... or is still up this long after the crossing
_TWITCH_RISE_US = const(25000)  # ... or is still rising this long after leaving rest
# before the client's first press is learned, a crossing from the gate (3/10 of the trigger) to
# the trigger in under ~3 ms is checked: a hand's press takes longer (the prior speed is this
# many gates per 50 ms: 9 triggers per 50 ms). Lower, a first press 30x the trigger with a 40 ms
# rise would wait too (tests/test_journal_cli.py)
_PRIOR_SPEED = const(30)
# size check: once the trigger comes from the client's learned movement, a crossing that stays
# under 1.375x the trigger (the client's presses go on to 2.7x it; a shake of up to half a press
# tops out under 1.33x) waits until it rises that far, levels off, or falls back (a shake:
# refused, and it teaches the tremor guard as any shake does)
_SIZE_GOAL = const(3)  # the goal is the trigger plus 3/8 of it (in eighths)
_SIZE_PLATEAU_US = const(40000)  # levelled off for as long as the rise took, at most this
_SIZE_WAIT_US = const(60000)  # ... or still up this long after the crossing
_SIZE_RISE_MS = const(24)  # checked only this long or more after leaving the rest band
# plays once, over this long or more, it rose as fast as before: a shake past its steepest is
# seen slowing over a quarter of its 24+ ms rise; over 2 ms a step or two of ADC noise passed it
_SIZE_RATE_MS = const(6)
# a press ends when its level falls to the rest band, or under its release level for this long:
# a tremor riding on a held or slowly made press dips under the release in its troughs and comes
# back (the press ended there, and the next swing played it again: a second note). 30 ms held
# every such dip of the detection benchmark (15 ms let 3 of seed 2's 4 through); 50 holds a
# 5-8 Hz tremor's troughs with room. Longer would hold 4 Hz ones too, but would let a tremor on
# a light hold (under the release, swinging over the trigger) sustain one note for seconds
_DIP_US = const(50000)


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
    tremor, teach a guard level that the next press must clear; it fades over a few seconds. A
    short press teaches it only if it looks like a shake (a tap does not); a crossing much faster
    than the client's presses is checked for a twitch; the size of each long movement is told
    to `cond` (auto-ranging). See docs/sensing.md.
    Callers may skip update() while `idle` and the level is under release >> 1 (see update()).
    """

    # the rules of issue 14, each one bit a benchmark can clear on CPython to measure what it
    # costs (benchmarks/detection.py); read once, when a gesture is made
    RULES = 31
    TWITCH = 1  # a fast crossing that falls back before levelling off plays nothing
    TAPS = 2  # a short press teaches the guard only when it comes as fast as a shake
    # before a press is learned, a crossing faster than a hand is checked (a first press that
    # jumps from rest in a reading or two waits until it levels off: ~20 ms, once a session)
    TWITCH_PRIOR = 4
    SIZE_CHECK = 8  # a crossing that barely clears the learned trigger waits to grow (shakes)
    DIPS = 16  # a press's level dipping under its release level ends it only after _DIP_US

    def __init__(self, chs, guard, cond=None):
        self.chs = chs
        self.guard = guard
        self.cond = cond  # told the size of each deliberate movement (auto-ranging)
        self._rules = self.RULES if guard else 0  # (a switch jumps: no shakes, no twitches)
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
        self._out = 0  # 1 from leaving rest (the gate) until back
        self._mark = 0  # 1 once this excursion reached the release level: a movement
        self._t_start = 0  # when the current (or last) excursion left rest
        self._recent = 0  # 1 while _t_start may be under _PHRASE_US old (chore() clears it)
        self._phrase = 0  # this excursion started under _PHRASE_US after the last one
        self._periodic = 0  # this excursion started under _TREMOR_US after the last one
        self._xpk = 0  # highest level of the whole excursion, press included
        self._cand = 0  # peak of a short press that played: the guard if a shake follows
        self._slow = 0  # the press rose from release to trigger level slowly, as a shake does
        self._cand_own = 0  # 1 until the excursion that set _cand has ended
        self._tw = 0  # 1 while a fast crossing waits to level off (twitch check), 2 size check
        self._tw_goal = 0  # the size check's goal (level units)
        self._tw_lvl = 0  # ... and the level at the crossing
        self._tw_min = 0  # ... and a rise that is more than noise
        self._t_tw = 0
        self._tw_peak = 0
        self._tw_ref = 0  # the peak when the plateau's clock last restarted
        self._t_twpk = 0
        self._twitched = 0  # peak of the twitch seen in this excursion: it must be cleared
        self._lift = 0  # what _cand and _twitched ask of a press, at most (level units)
        self.speed = 0  # learned approach speed of the client's deliberate presses
        self._xspd = 0  # approach speed of the press in this excursion
        self._dip = 0  # 1 while a press's level is under its release level but above rest
        self._t_dip = 0  # ... since then

    def reset(self, now_us):
        """Forget any press in progress and the tremor guard (after a fault, a restart, a
        re-learned rest: the loop may have stopped for longer than the guard's clock reaches)."""
        self.pressed = 0
        self._pending = 0
        self._exc = 0
        self._guard_peak = 0
        self.taint = 0
        self.t_rest = now_us
        self._out = 0
        self._mark = 0
        self._recent = 0
        self._cand = 0
        self._tw = 0
        self._twitched = 0
        self._lift = 0
        self._xpk = 0

    def chore(self, now_us):
        """Called at least every 256 ms (the instrument's chore), even while idle: times that
        are stale are dropped before ticks_diff could wrap around."""
        if self._recent and ticks_diff(now_us, self._t_start) >= _PHRASE_US:
            self._recent = 0
        if self._guard_peak:
            self.tremor(now_us)

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
        c = self.cond
        if c is not None and not self.taint:
            c.learn_shake(peak)
        if self.guard and not self.taint and peak > self.tremor(now_us):
            self._guard_peak = peak
            self._guard_t = now_us

    def hush(self):
        """A panic ended the press from outside (Instrument.panic): a level still up plays
        again, but what is left of this movement is not the client's to learn from (it would
        read as a short press, and a shake, and raise the guard over their next presses)."""
        self.pressed = 0
        self.not_a_shake()

    def not_a_shake(self):
        """The level now comes from a wiring fault (a reading pinned at a rail), not from the
        client: this excursion teaches no tremor guard, and update() must see it."""
        self.taint = 1
        self.idle = 0

    def _back(self, now_us):
        # back at rest after an excursion (the end of each movement, not every tick): what
        # was it? A short one teaches the tremor guard, a long one the movement's size
        self._out = 0
        if not self._twitched and not self.taint:
            dur = ticks_diff(now_us, self.t_rest)
            if self._exc and 0 <= dur < _SHORT_US:
                self._learn(self._exc, now_us)
            c = self.cond
            if c is not None and dur >= _SHORT_US:
                c.learn_move(self._xpk if self._xpk > self._exc else self._exc)
                x = self._xspd
                if x:
                    sp = self.speed
                    self.speed = x if not sp else sp + ((x - sp) >> 2)
        if self._mark:
            self._mark = 0
            if self._cand_own:
                self._cand_own = 0  # the short press that set it has ended: the next one counts
            else:
                self._cand = 0  # the movement after it ended too
        c = self._cand
        self._lift = c + (c >> 2)
        self._exc = 0
        self._xpk = 0
        self._xspd = 0
        self._twitched = 0
        self._tw = 0

    def _released(self, now_us):
        self.pressed = 0
        self._t_release = now_us
        self._locked = 1
        pk = self._peak
        if pk > self._xpk:
            self._xpk = pk
        if self._exc > self._xpk:
            self._xpk = self._exc
        self._exc = 0
        if not self.taint and 0 <= ticks_diff(now_us, self._t_press) < _SHORT_US:
            # (a slow rise in a phrase is a tap that a tremor slowed: it keeps the beat's time,
            # and the guard it taught at the taps' own size refused the rest of the phrase)
            if self._periodic or (self._slow and not self._phrase) or not self._rules & 2:
                self._learn(pk, now_us)
            else:
                # a tap: it teaches the guard only if a shake follows as fast
                self._cand = pk
                self._cand_own = 1
                c = pk + (pk >> 2)
                if c > self._lift:
                    self._lift = c

    def _cross(self, level, gate, trigger, geff, now_us):
        # the level crossed the trigger: approach speed from leaving rest, in level units per
        # 50 ms; one as fast as the client's presses or faster waits to see whether it is a
        # twitch, and one that rose like a shake to barely over a learned trigger, a shake
        ms = ticks_diff(now_us, self.t_rest) // 1000 + 1
        self._speed = (level - gate) * _FULL_SPEED_MS // ms
        # a tap snaps from the release level to the trigger; a shake (a sinusoid) takes its time
        # (timed at the crossing: a wait after it, such as the twitch check's, is not the rise)
        self._slow = ticks_diff(now_us, self._t_start) >= _TAP_RISE_US
        sp = self.speed
        c = self.cond
        if not sp and self._rules & 4:
            # nothing learned yet: the fastest a hand presses (a channel that plays presses; a
            # continuous mode sends the level as it is, and its press must not wait)
            if c is not None and c.presses:
                sp = gate * _PRIOR_SPEED
        # the size check's goal, when it applies: a trigger learned from the client's presses;
        # with the tremor guard up, 1.375x the guard's level (a guard fading after one bout
        # lets the next bout's first shake, a little bigger, over it)
        g = 0
        if self._rules & 8 and c is not None and c.auto:
            g = geff + (geff * _SIZE_GOAL >> 3)
            self._tw_min = c.floor >> 2  # more than noise: a quarter of the most sensitive trigger
        self._tw_goal = g
        # (in a phrase of taps, a tap as quick as the last ones is the beat, not a twitch)
        f = _TWITCH_SPEED_PHRASE if self._phrase else _TWITCH_SPEED
        if sp and self._rules & 1 and self._speed * 8 >= sp * f:
            self._wait(1, level, now_us)
        elif level < g and ms >= _SIZE_RISE_MS and self._speed * 3 >= trigger:
            # (not a rise from the rest band in under _SIZE_RISE_MS, nor slower than 1/3 of
            # the trigger per 50 ms: a 4-8 Hz shake that tops out near the trigger is neither;
            # at 2/5, the first shakes of 4-4.5 Hz bouts were often just slower)
            self._wait(2, level, now_us)

    def _wait(self, check, level, now_us):
        # a crossing waits from now: the twitch check (1) or the size check (2)
        self._tw = check
        self._tw_lvl = level
        self._t_tw = now_us
        self._tw_peak = level
        self._tw_ref = level
        self._t_twpk = now_us

    def _twitch(self, level, now_us):
        # a crossing that waits (twitch or size check): wait on, refuse it (returns 1), or
        # let it play (0)
        size = self._tw == 2
        if size:
            if level >= self._tw_goal:
                self._tw = 0
                return 0
            # still rising at least as fast as it came up to the trigger, by more than the
            # noise: a press (a shake that barely clears the trigger is past its steepest
            # there, and slowing)
            ms = ticks_diff(now_us, self._t_tw) // 1000
            d = level - self._tw_lvl
            if ms >= _SIZE_RATE_MS and d > self._tw_min and d * _FULL_SPEED_MS >= self._speed * ms:
                self._tw = 0
                return 0
        p = self._tw_peak
        if level > p:
            if not size and ticks_diff(now_us, self.t_rest) >= _TWITCH_RISE_US:
                # still rising this long after leaving rest: a twitch's rise is over by now,
                # but it may be a shake (the size check, if it applies)
                if level < self._tw_goal:
                    self._wait(2, level, now_us)
                    return 1
                self._tw = 0
                return 0
            self._tw_peak = level
            # (a step smoothed by the conditioner creeps up by a few units for tens of ms: that
            # is a level that has levelled off, not one still rising)
            r = self._tw_ref
            if level - r > r >> _PLATEAU_STEP:
                self._tw_ref = level
                self._t_twpk = now_us
        elif level < p - (p >> _TWITCH_DROP):
            # fell back before levelling off: a twitch plays nothing and teaches nothing; a
            # shake plays nothing and teaches the tremor guard (when back at rest)
            self._tw = 0
            if not size:
                self._twitched = p
                if p > self._lift:
                    self._lift = p
            return 1
        # a twitch (or a shake) is about as quick down as up: a level that jumped from rest in
        # a reading or two and stays there has levelled off sooner than one that took 20 ms
        w = ticks_diff(self._t_twpk, self.t_rest)
        top = _SIZE_PLATEAU_US if size else _PLATEAU_US
        if w > top:
            w = top
        elif w < _PLATEAU_MIN_US:
            w = _PLATEAU_MIN_US
        if ticks_diff(now_us, self._t_twpk) < w and ticks_diff(now_us, self._t_tw) < (
            _SIZE_WAIT_US if size else _TWITCH_WAIT_US
        ):
            return 1
        self._tw = 0
        return 0

    def _begin(self, now_us):
        # a movement (not a ripple at the gate) begins: as soon after the last one as a
        # shake would?
        self._mark = 1
        d = ticks_diff(now_us, self._t_start)
        # (_recent: _t_start is close enough for ticks_diff; _TREMOR_US < _PHRASE_US)
        self._periodic = self._recent and d < _TREMOR_US
        self._phrase = self._recent and d < _PHRASE_US
        if not self._periodic:
            self._cand = 0
            self._lift = 0
        self._t_start = now_us
        self._recent = 1

    def update(self, level, trigger, release, now_us):
        """Returns NONE, PRESS (see `strength`) or RELEASE.
        While `idle`, a level under release >> 1 may skip this call and only set t_rest."""
        self.idle = 0
        if self.pressed:
            if level > self._peak:
                self._peak = level
            if level >= self._release:
                self._dip = 0
                return NONE
            # under the release level: the press ends at the rest band, or once it has stayed
            # under for _DIP_US (the trough of a tremor on the press comes back up sooner)
            if level >= release >> 1 and self._rules & 16:
                if not self._dip:
                    self._dip = 1
                    self._t_dip = now_us
                    return NONE
                if ticks_diff(now_us, self._t_dip) < _DIP_US:
                    return NONE
            self._released(now_us)
            return RELEASE
        if self._locked and ticks_diff(now_us, self._t_release) >= self.chs.lockout * 1000:
            self._locked = 0  # checked every tick while locked, so it cannot wrap around
        gate = release >> 1
        if level < gate:
            if self._out:
                self._back(now_us)
            self.taint = 0
            self.t_rest = now_us
            self._pending = 0
            if not self._locked:
                self.idle = 1
            return NONE
        if not self._mark:
            self._out = 1
            if level >= release:
                self._begin(now_us)
        if level > self._exc:
            self._exc = level
        eff = trigger
        if self._guard_peak and self.guard:
            # fades with the clock, so the guard outlasts a bout of shakes
            t = self.tremor(now_us)
            g = t + (t >> 2)
            if g > eff:
                eff = g
        geff = eff  # what the release scales with
        if self._lift > eff:
            # a second movement as fast as a shake after a short press must be as big, or it
            # is a shake; after a twitch, only a rise above it plays
            eff = self._lift
        if level < eff:
            self._pending = 0
            self._tw = 0
            return NONE
        if self._locked:
            return NONE
        chs = self.chs
        if not self._pending and not self._tw:
            self._cross(level, gate, trigger, geff, now_us)
        if self._tw and self._twitch(level, now_us):
            return NONE
        wait = chs.dwell * 1000
        if chs.velocity == _VEL_PRESSURE:
            wait += _PEAK_US
        if wait and self._waiting(level, wait, now_us):
            return NONE
        self._press(level, trigger, release, geff, now_us)
        return PRESS

    def _waiting(self, level, wait, now_us):
        # a dwell or a wait for the peak (velocity from pressure), only between a crossing and
        # its press: True until it has run `wait` us
        if not self._pending:
            self._pending = 1
            self._t_pending = now_us
            self._peak = level
            return True
        if level > self._peak:
            self._peak = level
        if ticks_diff(now_us, self._t_pending) < wait:
            return True
        self._pending = 0
        return False

    def _press(self, level, trigger, release, geff, now_us):
        # a press begins (once a press, not every tick): its strength and its release level
        s = self._peak if self.chs.velocity == _VEL_PRESSURE else self._speed
        self.strength = s if s < _STRENGTH_MAX else _STRENGTH_MAX
        self.pressed = 1
        self._dip = 0  # (a press ended from outside, hush() or reset(), may have left it set)
        self._peak = level
        self._t_press = now_us
        self._xspd = self._speed
        r = release * geff // trigger if trigger else release
        c = self.cond
        if c is not None and c.span:
            # a hand's own noise at the edge of a distance sensor's range must not end the
            # press and start it again (zone 0 played twice on a slow entry)
            h = geff - c.span
            if h < r:
                r = h if h > 1 else 1
        self._release = r
