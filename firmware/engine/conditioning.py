"""Signal conditioning for one analog sensor: rest baseline, drift, noise floor, adaptive
smoothing and a 14-bit movement level. Integers only; nothing allocated per sample.

Usage: c = Conditioner(65535, False, chs); c.restart(now_us); level = c.update(raw, now_us)

The rest baseline is learned at start (and after a fault), then follows slow drift (FSR creep,
temperature) while the sensor is at rest. The noise floor is measured, not assumed. The
`sensitivity` setting places the trigger point between that noise floor and half the client's
range, so one knob works on any sensor.
"""

from time import ticks_diff

from micropython import const

# The level scale is protocol.LEVEL_MAX (monitor lines carry it); a const here, where it is
# hot (an imported name would be a global lookup per use). test_calibration checks they agree.
LEVEL_MAX = const(16383)
_SETTLE_US = const(200000)  # learn the rest baseline over the first 0.2 s
_NOISE_GATE = const(6)  # movement counted as noise while within this many noise floors
_NOISE_MIN = const(4096)  # the noise floor never drops below 1 raw unit (Q12)
_NOISE_MAX = const(6)  # the noise learned at start is at most full scale >> 6 (1.6 %)
_DRIFT_UP = const(11)  # baseline follows creep towards "more" with ~2 s time constant
_DRIFT_DOWN = const(7)  # ... and a relaxing sensor much faster (~0.13 s)
_DRIFT_SLOW = const(13)  # beyond the noise, below a press: creep on, but ~8 s slow
_RELAXED_TICKS = const(50)  # past rest this many readings in a row before following quickly
_NOISE_RATE = const(10)  # noise floor falls with a ~1 s time constant...
_NOISE_RISE = const(14)  # ...and rises with ~16 s
_FLOOR_NOISES = const(8)  # the most sensitive trigger sits 8 noise floors above rest
_SMOOTH_KNEE = const(12)  # a change of 12 noise floors passes the smoother unsmoothed
_DIFF_NOISES = const(4)  # at start, noise is at most 4x what reading-to-reading steps show
_MOVE_RATE = const(2)  # the learned movement size follows each new movement by 1/4
_MOVE_FLOORS = const(3)  # a movement is learned only if it reached 3x the most sensitive trigger
_SHAKE_RATE = const(3)  # a smaller shake lowers the learned tremor size by 1/8 of the gap
_SHAKE_CAP = const(3)  # ... up to 3/8 of the learned movement
_SPAN_SHIFT = const(4)  # resting on "nothing in range": a press ends 1/16 of the scale under
_RAIL_NEAR = const(6)  # ... when rest is within 1/64 of the scale of that reading
_AUTO_SHARE = const(3)  # auto-ranging: trigger at (100 - sensitivity) * 3/200 of the movement
_AUTO_RAISE = const(8)  # ... and at most this many times the sensitivity curve's trigger


def floor_for(noise_q12, full_scale):
    """The most sensitive trigger distance (raw units) this noise allows: a few noise floors,
    and never under 0.25 % of the sensor."""
    noise = noise_q12 if noise_q12 > _NOISE_MIN else _NOISE_MIN
    floor = (noise * _FLOOR_NOISES) >> 12
    if floor < full_scale // 400:
        floor = full_scale // 400
    return floor if floor > 0 else 1


def trigger_for(sensitivity, range_raw, noise_q12, full_scale):
    """Distance from rest (raw units) at which a press starts: the trigger curve, shared by the
    conditioner and calibration's suggestion. `noise_q12` is the noise floor in Q12."""
    floor = floor_for(noise_q12, full_scale)
    # sensitivity 100 -> floor; 1 -> half the range; a cubic curve gives fine control at the
    # sensitive end, where small movements live
    s = 100 - sensitivity
    f = s * s * 1000 // 9801 * s // 99  # per mille, 0..1000
    half = range_raw // 2
    return floor + (half - floor) * f // 1000 if half > floor else floor


class Conditioner:
    """Raw readings in, movement level 0..16383 out, with the trigger points for gestures.

    Auto-ranging: the gesture reports the peak of each deliberate movement (an excursion from
    rest of 200 ms or more, under the trigger or not; shakes and twitches are shorter), and while
    the channel's range is the sensor's whole scale (no calibration applied) the trigger comes
    down to (100 - sensitivity) * 3/200 of the learned size, never under what the noise allows
    (the curve at sensitivity 100) or 1.25x the learned shake size (tremor), and never above the
    sensitivity curve's own trigger. Only for channels that play presses (`presses`): a
    continuous mode (cc, bend, ...) keeps the level scale the therapist set.
    """

    # issue 14's rules, for benchmarks to switch off one at a time on CPython (read at use)
    AUTO = 1  # auto-ranging from the learned movement size
    QUICK_START = 1  # the noise learned at start is bounded by the reading-to-reading steps

    def __init__(self, full_scale, invert, chs):
        self.full_scale = full_scale
        self.invert = invert
        self.chs = chs  # this channel's settings (settings.Values), read live
        self.trigger_level = LEVEL_MAX
        self.release_level = LEVEL_MAX
        self.settling = True
        self.learned = False  # a rest baseline has been learned at least once
        # fixed point: the smoothed reading in Q4; baseline and noise in Q12, so that slow
        # drift of a fraction of a unit per second still moves them
        self._y = 0
        self._acc = 0  # rest baseline, Q12
        self._noise = _NOISE_MIN * 2  # mean absolute deviation at rest, Q12
        self._sum = 0
        self._n = 0
        self._mid = -1
        self._dev = 0
        self._dn = 0
        self._dd = 0  # sum of |reading - previous reading| while learning the noise
        self._last = 0
        self._t0 = 0
        self.move = 0  # learned size of the client's deliberate movements, level units
        self.shake = 0  # learned size of the client's shakes (tremor), level units
        self.auto = 0  # 1 while the trigger comes from the learned movement
        self.presses = 1  # the channel plays presses (a continuous mode is not auto-ranged)
        self.rail = -1  # the sensor's "nothing in range" reading (a distance sensor), or -1
        self.span = 0  # the least hysteresis under the trigger a press ends at (level units)
        self.floor = 0  # the most sensitive trigger the noise allows, level units
        self._past = 0  # readings in a row past rest the other way
        self._range = full_scale  # raw units that make LEVEL_MAX
        self._amin = 256  # smoother's weight at rest, Q8 (256 = no smoothing)
        self._knee = 1
        self._gain = 0
        self._gate = 0  # |deviation| counted as rest, Q12
        self._seen = -1  # settings version last configured for
        self._sens = -1
        self._smooth = -1

    @property
    def baseline(self):
        """Rest baseline in raw units."""
        return self._acc >> 12

    @property
    def noise(self):
        """Measured noise floor (mean deviation at rest) in raw units."""
        return self._noise >> 12

    @property
    def noise_level(self):
        """The top of the noise band (movement still counted as rest) as a level, for meters."""
        lvl = ((self._gate >> 12) * LEVEL_MAX) // self._range
        return lvl if lvl < LEVEL_MAX else LEVEL_MAX

    @property
    def trigger_raw(self):
        """The trigger point in raw units (for plots and monitors)."""
        d = self.trigger_level * self._range // LEVEL_MAX
        return self.baseline - d if self.invert else self.baseline + d

    def restart(self, now_us):
        """Learn the rest baseline afresh (at start, after a fault, on request)."""
        self.settling = True
        self._sum = 0
        self._n = 0
        self._mid = -1
        self._dev = 0
        self._dn = 0
        self._dd = 0
        self._t0 = now_us

    def learn_shake(self, peak):
        """A shake (a short excursion, tremor-like) reached `peak`: the auto-ranged trigger
        stays above the client's tremor (picked up at the next configure, within 256 ms)."""
        k = self.shake
        self.shake = peak if peak > k else k - ((k - peak) >> _SHAKE_RATE)

    def learn_move(self, peak):
        """A deliberate movement (from the gesture, once it is back at rest) reached `peak`
        (level units): learn the client's movement size (the trigger follows at the next
        configure, within 256 ms)."""
        if peak < self.floor * _MOVE_FLOORS:
            return  # not clearly above the noise: a ripple, drift not yet followed
        m = self.move
        if m and peak > m * 2:
            peak = m * 2  # one lean on the pad moves the learned size by a quarter at most
        self.move = peak if not m else m + ((peak - m) >> _MOVE_RATE)

    def configure(self):
        """Recompute what depends on settings and on the measured noise (slow path)."""
        chs = self.chs
        fs = self.full_scale
        rng = fs * chs.range // 100
        self._range = rng if rng > 0 else 1
        noise = self._noise
        if noise < _NOISE_MIN:
            noise = _NOISE_MIN
        self._gate = noise * _NOISE_GATE
        trig = trigger_for(chs.sensitivity, self._range, noise, fs)
        lvl = trig * LEVEL_MAX // self._range
        self.auto = 0
        f = floor_for(noise, fs) * LEVEL_MAX // self._range
        self.floor = f
        if self.move and self.AUTO and self.presses and chs.range == 100:
            # auto-ranging (a calibration sets a range, and then wins)
            a = self.move * (100 - chs.sensitivity) * _AUTO_SHARE // 200
            if a < f:
                a = f
            # up as well as down, but at most _AUTO_RAISE times the curve's own trigger: a
            # client whose presses are big is not woken by a shake a quarter their size, and
            # one whose presses grow lighter is still heard while the learned size catches up
            if a > lvl * _AUTO_RAISE:
                a = lvl * _AUTO_RAISE
            if a != lvl:
                lvl = a
                self.auto = 1
            # above the client's tremor, as the tremor guard would ask, but never so far up
            # the client's own movement that a press is heard late
            k = self.shake
            k += k >> 2
            top = self.move * _SHAKE_CAP >> 3
            if k > top:
                k = top
            if k > lvl:
                lvl = k
                self.auto = 1
        if lvl < 2:
            lvl = 2
        elif lvl > LEVEL_MAX * 3 // 4:
            lvl = LEVEL_MAX * 3 // 4
        self.trigger_level = lvl
        self.release_level = lvl * 3 // 5
        # a distance sensor resting on "nothing in range" measures no noise there, but a hand
        # in range has a few mm of its own: a press ends only well under the trigger, or the
        # hand's noise at the edge of the range ends it and starts it again (zone 0 twice)
        span = 0
        if self.rail >= 0:
            d = (self._acc >> 12) - self.rail
            if -(fs >> _RAIL_NEAR) <= d <= fs >> _RAIL_NEAR:
                span = (fs >> _SPAN_SHIFT) * LEVEL_MAX // self._range
        self.span = span
        # adaptive smoothing (1-euro-filter behaviour): heavy at rest, none once the reading
        # moves by more than the knee, so a real movement is not delayed
        sm = chs.smoothing
        self._amin = 256 - sm * 252 // 100  # 256 (off) .. 4 (~64 samples at rest)
        knee = (noise >> 8) * _SMOOTH_KNEE
        self._knee = knee if knee > 0 else 1
        self._gain = ((256 - self._amin) << 8) // self._knee
        self._sens = chs.sensitivity
        self._smooth = sm

    def update(self, raw, now_us, pressed):
        """One reading in; returns the level 0..16383. `pressed` freezes the rest tracking."""
        if self.settling:
            return self._settle(raw, now_us)
        # adaptive smoothing, Q4 (a reading the smoother has reached moves nothing)
        y = self._y
        d = (raw << 4) - y
        if d:
            ad = d if d >= 0 else -d
            if ad >= self._knee:
                y += d
            else:
                y += (d * (self._amin + ((ad * self._gain) >> 8))) >> 8
            self._y = y
        # rest tracking: drift of the baseline and the noise floor, only while at rest
        acc = self._acc
        if not pressed:
            e = (raw << 12) - acc
            ae = e if e >= 0 else -e
            if ae < self._gate:
                # the noise floor falls at once-a-second pace but rises ~16x slower, so the
                # slow start of a press or a bout of tremor cannot inflate it (and with it the
                # trigger point) within seconds
                nz = self._noise
                if ae > nz:
                    self._noise = nz + ((ae - nz) >> _NOISE_RISE)
                else:
                    self._noise = nz - ((nz - ae) >> _NOISE_RATE)
                shift = _DRIFT_UP
                self._past = 0
            elif (e < 0) != self.invert:
                # the reading went past rest the other way: the sensor relaxed; follow quickly
                # once it stays there (a lone outlier, a garbled reading, must not drag rest)
                self._past += 1
                shift = _DRIFT_DOWN if self._past > _RELAXED_TICKS else _DRIFT_SLOW
            else:
                # above the noise but not a press: fast creep, or the start of a slow movement;
                # follow so slowly that a deliberate press is barely touched
                shift = _DRIFT_SLOW
                self._past = 0
            # shift the magnitude, so rounding never pushes the baseline one way
            if e >= 0:
                acc += ae >> shift
            else:
                acc -= ae >> shift
            self._acc = acc
        # level
        base = acc >> 8
        delta = (base - y if self.invert else y - base) >> 4
        if delta <= 0:
            return 0
        rng = self._range
        if delta >= rng:
            return LEVEL_MAX
        return delta * LEVEL_MAX // rng

    def _settle(self, raw, now_us):
        # learning rest: first half the rest position; second half the noise around it, so the
        # trigger point is right from the first press (the noise floor only rises slowly later)
        self._sum += raw
        self._n += 1
        dt = ticks_diff(now_us, self._t0)
        if dt >= _SETTLE_US // 2:
            if self._mid < 0:
                self._mid = self._sum // self._n
            else:
                d = raw - self._last
                self._dd += d if d >= 0 else -d
            d = raw - self._mid
            self._dev += d if d >= 0 else -d
            self._dn += 1
        self._last = raw
        if dt >= _SETTLE_US:
            self._acc = (self._sum // self._n) << 12
            self._y = self._acc >> 8
            if self._dn:
                noise = ((self._dev << 4) // self._dn) << 8
                if self.QUICK_START and self._dn > 1:
                    # a tremor or a slow movement while rest is learned is not noise: white
                    # noise moves reading to reading about as much as about its mean (x1.13
                    # vs x0.80 sigma), a 4-8 Hz tremor 10-20x less
                    steps = (self._dd << 4) // (self._dn - 1) * 181
                    if noise > steps * _DIFF_NOISES:
                        noise = steps * _DIFF_NOISES
                # a client moving while rest is learned (power-up or a reset mid-press) is
                # not noise: uncapped, it would put the trigger out of reach, and every
                # later movement inside the huge gate would keep the floor up for good
                most = (self.full_scale >> _NOISE_MAX) << 12
                if noise > most:
                    noise = most
                self._noise = noise if noise > _NOISE_MIN else _NOISE_MIN
            self.settling = False
            self.learned = True
            self.configure()
        return 0
