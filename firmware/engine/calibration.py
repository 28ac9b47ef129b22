"""Guided calibration of one analog sensor: keep still (rest point and noise), then move as far
as is comfortable (reach); suggests a `range` and a `sensitivity`, applied only when confirmed.

Usage: cal = Calibration(channel); between ticks: change = cal.feed(channel.raw, now_ms)

Integer maths on running sums: memory stays the same however long a phase runs.
"""

from time import ticks_diff

from micropython import const

from engine.conditioning import trigger_for

REST_MS = const(3000)
MOVE_MS = const(5000)
_PRE_MS = const(500)  # the start of the rest phase gives a provisional mean for the noise sums
_MIN_SAMPLES = const(10)  # fewer readings than this in a phase prove nothing
_REACH_PCT = const(90)  # the client's comfortable movement reaches this share of the range
_TRIGGER_SHARE = const(4)  # a note plays at a quarter of the client's movement
_SPIKE_MADS = const(6)  # a rest deviation beyond this many mean deviations is a glitch
_STILL_SHARE = const(8)  # moving by more than 1/8 of the sensor at rest is not keeping still
_MOVED_SHARE = const(100)  # a movement under 1 % of the sensor does not count

REST_TEXT = "Keep still for 3 seconds while I learn where the sensor rests."
MOVE_TEXT = (
    "Now press or move as far as is comfortable, a few times, for 5 seconds. "
    "Only as far as feels easy."
)


class Calibration:
    """One calibration run for one channel: phases "rest", "move", then "result" or "failed"."""

    def __init__(self, channel):
        self.name = channel.name
        self.full_scale = channel.full_scale if channel.full_scale > 0 else 1
        self.invert = bool(channel.invert)
        self.phase = "rest"
        self.message = REST_TEXT
        self.result = None  # {"range", "sensitivity", "baseline", "noise", "movement"} at the end
        self._t0 = None  # start of the current phase (set by the first reading)
        self._n = 0
        self._sum = 0
        self._lo = 0
        self._hi = 0
        self._pre_n = 0
        self._pre_sum = 0
        self._mid = 0  # provisional rest mean
        self._abs_n = 0
        self._abs_sum = 0
        self.baseline = 0
        self.noise_q12 = 0  # mean absolute deviation at rest, Q12 (as the conditioner keeps it)
        self._maxdev = 0
        self._rest_lo = 0
        self._rest_hi = 0
        self._peak = 0  # furthest reading from rest in the playing direction
        self._back = 0  # ... and the other way

    @property
    def running(self):
        return self.phase == "rest" or self.phase == "move"

    def seconds_left(self, now_ms):
        if not self.running or self._t0 is None:
            return 0
        total = REST_MS if self.phase == "rest" else MOVE_MS
        left = total - ticks_diff(now_ms, self._t0)
        return (left + 999) // 1000 if left > 0 else 0

    def fail(self, message):
        """Stop with a plain-words reason (e.g. the sensor stopped answering)."""
        self.phase = "failed"
        self.message = message
        return "failed", message

    def feed(self, raw, now_ms):
        """One reading. Returns (phase, message) when a phase starts or the run ends, else None."""
        if not self.running:
            return None
        if self._t0 is None:
            self._t0 = now_ms
            self._lo = self._hi = raw
            self._take_rest(raw, 0)
            return "rest", REST_TEXT
        t = ticks_diff(now_ms, self._t0)
        if self.phase == "rest":
            self._take_rest(raw, t)
            if t >= REST_MS:
                return self._end_rest(now_ms)
            return None
        d = raw - self.baseline
        if self.invert:
            d = -d
        if d > self._peak:
            self._peak = d
        elif -d > self._back:
            self._back = -d
        self._n += 1
        if raw < self._lo:
            self._lo = raw
        if raw > self._hi:
            self._hi = raw
        if t >= MOVE_MS:
            return self._end_move()
        return None

    def _take_rest(self, raw, t):
        self._n += 1
        self._sum += raw
        if raw < self._lo:
            self._lo = raw
        if raw > self._hi:
            self._hi = raw
        if t < _PRE_MS:
            self._pre_n += 1
            self._pre_sum += raw
            return
        if self._abs_n == 0:
            self._mid = self._pre_sum // self._pre_n
        d = raw - self._mid
        self._abs_sum += d if d >= 0 else -d
        self._abs_n += 1

    def _end_rest(self, now_ms):
        if self._n < _MIN_SAMPLES:
            return self.fail(
                "Too few readings arrived from the sensor to learn its rest point. Try again."
            )
        fs = self.full_scale
        base = self._sum // self._n
        self.baseline = base
        if self._abs_n:
            self.noise_q12 = (self._abs_sum << 12) // self._abs_n
        hi = self._hi - base
        lo = base - self._lo
        self._maxdev = hi if hi > lo else lo
        if self._maxdev > fs // _STILL_SHARE:
            return self.fail(
                "The reading changed a lot while keeping still (by "
                + str(self._maxdev)
                + " of "
                + str(fs)
                + "). Keep still and try "
                "again; if it happens again, check the sensor's cable."
            )
        self._rest_lo = self._lo
        self._rest_hi = self._hi
        self.phase = "move"
        self.message = MOVE_TEXT
        self._t0 = now_ms
        self._n = 0
        self._lo = self._hi = base
        return "move", MOVE_TEXT

    def _end_move(self):
        if self._n < _MIN_SAMPLES:
            return self.fail("Too few readings arrived from the sensor while moving. Try again.")
        fs = self.full_scale
        mad = (self.noise_q12 + 4095) >> 12
        spike_cap = mad * _SPIKE_MADS
        noise_peak = self._maxdev if self._maxdev < spike_cap else spike_cap
        enough = fs // _MOVED_SHARE
        if enough < 3 * noise_peak:
            enough = 3 * noise_peak
        if enough < 1:
            enough = 1
        move = self._peak
        if move < enough:
            if self._back >= enough:
                return self.fail(
                    "The reading went the other way from what this sensor expects: "
                    "it may be fitted or wired the other way round (its 'invert' in "
                    "the board file)."
                )
            if (
                self._rest_lo == self._rest_hi
                and self._lo == self._hi
                and (self._lo <= 0 or self._hi >= fs)
            ):
                return self.fail(
                    "The sensor read " + str(self._lo) + " the whole time, the end "
                    "of its scale, and never changed: it is probably unplugged or "
                    "broken. Check its cable, then try again."
                )
            return self.fail(
                "I didn't see any movement. Try again and press or move as far as "
                "is comfortable; if the reading still does not change, check that "
                "the sensor is plugged in."
            )
        # range: the comfortable movement reaches about 90 % of it
        rng = (move * 10000 + fs * _REACH_PCT - 1) // (fs * _REACH_PCT)
        if rng < 1:
            rng = 1
        elif rng > 100:
            rng = 100
        range_raw = fs * rng // 100
        # sensitivity: the trigger nearest a quarter of the movement, well above the rest noise
        target = move // _TRIGGER_SHARE
        above = noise_peak + noise_peak // 2 + 1
        if target < above:
            target = above
        best = 100
        best_d = -1
        for s in range(100, 0, -1):
            d = trigger_for(s, range_raw, self.noise_q12, fs) - target
            if d < 0:
                d = -d
            if best_d < 0 or d < best_d:
                best, best_d = s, d
        trig = trigger_for(best, range_raw, self.noise_q12, fs)
        self.result = {
            "range": rng,
            "sensitivity": best,
            "baseline": self.baseline,
            "noise": mad,
            "movement": move,
            "trigger": trig,
        }
        note = ""
        if trig * _TRIGGER_SHARE > move + move // 2:
            note = (
                " The movement is small for this sensor, so a note needs "
                + str(trig * 100 // move)
                + " % of it."
            )
        self.phase = "result"
        self.message = (
            "range="
            + str(rng)
            + " sensitivity="
            + str(best)
            + " Suggested range "
            + str(rng)
            + " and sensitivity "
            + str(best)
            + ": a comfortable movement "
            "reaches about 90 % of the range and a note plays at about a quarter of "
            "it." + note + " Send 'calibrate apply' to use them, or 'calibrate "
            "cancel'."
        )
        return "result", self.message
