"""Play modes: what a press, a release and a level change play; one small class per mode.

Usage: mode = ChordMode(mapper); mode.press(strength); mode.release(); mode.level(cont, pressed)

MODES is the one registry: settings take the mode names from it, the Mapper builds a mode from
it by the setting's index. To add a mode, write a class and append it to MODES; nothing else.
"""

from micropython import const

from engine import scales

_LEVEL_MAX = const(16383)
_BEND_CENTRE = const(8192)
_STEP_CALLS = const(32)  # zones: with repeated readings, a zone still owed steps this often
_CALM_READINGS = const(24)  # zones: the hysteresis grows over this many still readings

# chord shapes in scale steps above the chosen degree (power: root, fifth, octave by semitones)
_TRIAD = b"\x00\x02\x04"
_SEVENTH = b"\x00\x02\x04\x06"


class NoteMode:
    """A press plays the channel's scale degree; the release ends it. The base of every mode."""

    name = "note"
    help = ""  # a few words for the settings' help, after the name ("" for none)
    continuous = False  # True: level() is called on every tick the level changes
    # settings (a sensor's or global keys) whose change ends this mode's sounding notes; the
    # mode itself and `enabled` always do
    ends_notes = ("channel", "scale", "root", "octave", "transpose", "degree")

    def __init__(self, mapper):
        self.m = mapper  # note tracking: on(), off(), note(), velocity()
        self.chs = mapper.chs
        self.glob = mapper.settings.glob
        self.midi = mapper.midi
        self.index = mapper.index

    def configure(self):
        """The mode was chosen, or a setting of ends_notes changed (its notes have ended)."""

    def leave(self):
        """Another mode takes over (its notes have ended and, right after, the MIDI channels
        are reset: bend, pressure and modulation need no undoing here)."""

    def was_reset(self):
        """The MIDI channels went back to rest: forget any value remembered as sent."""

    def rest(self):
        """The value a continuous mode sends at rest, assumed in place when it starts (-1: none),
        so an untouched sensor sends nothing at all."""
        return -1

    def press(self, strength):
        """A press of `strength` (0..16383) was recognised."""
        m = self.m
        vel = m.velocity(strength)
        m.off()
        m.on(m.note(0), vel)

    def release(self):
        """The press ended."""
        self.m.off()

    def level(self, cont, pressed):
        """The level moved (continuous modes): 0..16383 above the release point."""


class ChordMode(NoteMode):
    name = "chord"
    ends_notes = NoteMode.ends_notes + ("chord",)

    def press(self, strength):
        m = self.m
        vel = m.velocity(strength)
        m.off()
        shape = self.chs.chord
        if shape == 2:  # power chord: root, the fifth as the scale allows, octave
            g = self.glob
            root = m.note(0)
            m.on(root, vel)
            m.on(scales.snap(root + 7, g.scale, g.root + g.transpose), vel)
            m.on(scales.fit(root + 12), vel)
            return
        steps = _SEVENTH if shape == 1 else _TRIAD
        i = 0
        while i < len(steps):
            m.on(m.note(steps[i]), vel)
            i += 1


class SequenceMode(NoteMode):
    name = "sequence"
    help = "next note of a melody"
    ends_notes = ("channel", "scale", "root", "transpose", "melody")

    def __init__(self, mapper):
        super().__init__(mapper)
        self._step = 0  # position in the melody
        self._melody = None

    def configure(self):
        mel = self.chs.melody
        if mel != self._melody:  # a new melody starts from its beginning
            self._melody = mel
            self._step = 0

    def press(self, strength):
        m = self.m
        vel = m.velocity(strength)
        m.off()
        g = self.glob
        mel = self.chs.melody
        n = len(mel)
        k = self._step
        if k >= n:
            k = 0
        self._step = k + 1 if k + 1 < n else 0
        m.on(scales.snap(mel[k] + g.transpose, g.scale, g.root + g.transpose), vel)


class ZonesMode(NoteMode):
    """Position picks the note: the level is split into `zones` equal zones, and a press plays
    the zone the hand is in; moving into another zone while pressed plays that one instead.

    Made for a noisy time-of-flight sensor (a new reading every ~30 ms, a few mm of noise):
    - a zone is left on evidence, not on one reading (a one-sided CUSUM): each reading past
      the zone's edge by more than 3/4 noise adds how far it is past that, and the zone moves
      once the sum passes 2 noise, so a hand on the move changes zone at once or within a few
      readings. While the hand stays still (~0.8 s, within 2 noise of where it has been) these
      grow to 2 1/4 and 6 noise, so a still hand holds its zone, even on an edge. The noise is
      measured on the hand itself (the mean |second difference| of successive readings, so a
      steady movement does not count), never below the conditioner's rest noise, and is 1/8
      zone until measured;
    - notes follow the movement: one zone a step, at most one step per reading (or every
      32 ticks when the readings repeat), so every zone crossed plays in order; a sweep faster
      than that finishes its run just after the hand stops;
    - a hand leaving (a reading a zone or more further out than the last, or the sensor's
      "nothing in range") steps nothing down until two calm readings have followed: a hand that
      goes plays no run of zones on its way out, and one that stops plays where it stopped.
    A reading that repeats (the driver holds the last one) is the same reading, not evidence.
    Per call: the evidence of past readings is folded into two levels once per reading
    (`_hi_at`, `_lo_at`), so a call compares the level with them and does little else.
    """

    name = "zones"
    help = "position picks the note"
    continuous = True
    ends_notes = NoteMode.ends_notes + ("zones", "invert")

    def __init__(self, mapper):
        super().__init__(mapper)
        self._zone = -1
        self._velocity = 0  # of the current press: a new zone replays at it
        self._ch = None  # the instrument's channel: its raw reading tells fresh from repeated
        self._far = -1  # the sensor's "nothing in range" reading
        self._raw = -1  # the reading last seen
        self._inv = 0
        self._n = 1
        self._w = _LEVEL_MAX + 1  # zone width (level)
        self._spread = 0  # mean |second difference| of readings (level); 0: not yet known
        self._floor = 1  # the conditioner's rest noise (level)
        self._sig = 1  # the noise (level) the limits are set from
        self._k = 0  # evidence counts from this far past an edge
        self._h = 0  # ... and moves the zone once it sums to this
        self._lv = 0  # a reading this much further out than the last: the hand is leaving
        self._cur = -1  # level of the current reading, as far as it has settled (-1: none)
        self._p0 = -1  # settled level of the previous reading (-1: none yet)
        self._p1 = -1  # ... and of the one before
        self._up = 0  # evidence for the next zone up / down, through the previous reading
        self._dn = 0
        self._hi_at = _LEVEL_MAX + 1  # this reading steps up above this level...
        self._lo_at = -1  # ... and down below this one
        self._out_at = -1  # ... and is a hand leaving below this one
        self._gap = 0  # calls before another step (0 at each fresh reading)
        self._leave = 0  # calm readings still to wait before a step down
        self._land = 0  # a leave just ended: a step down goes straight to where the hand is
        self._at = 0  # where the hand has been lately (level)
        self._calm = 0  # readings it has stayed there (up to _CALM_READINGS)
        self._count = 0  # readings seen
        self._live = 0  # 1 while a note sounds (what follows is for it)

    def configure(self):
        c = self.chs
        self._inv = c.invert
        n = c.zones
        self._n = n
        self._w = (_LEVEL_MAX + 1) // n
        if self._spread == 0:
            self._spread = self._w >> 2  # a prior of 1/8 zone of noise until it is measured
        ch = self.m.owner
        self._ch = ch
        self._far = getattr(ch.sensor, "NO_TARGET", -1) if ch is not None else -1
        self._limits()

    def _limits(self):
        # hysteresis from the noise: the mean |second difference| of readings is 1.95 sigma
        sig = (self._spread * 33) >> 6
        if sig < self._floor:
            sig = self._floor
        self._sig = sig
        w = self._w
        # evidence counts from 3/4 noise past an edge (at least 1/8 zone: a still hand sways)
        # and moves the zone at 2 noise while the hand moves; as it stays still (~0.8 s) they
        # grow to 2 1/4 and 6 noise
        k = ((sig * 3) >> 2) + ((sig * self._calm) >> 4)
        lo = w >> 3
        hi = (w * 3) >> 3
        self._k = lo if k < lo else (hi if k > hi else k)
        h = sig * 2 + sig * self._calm // 6
        self._h = lo if h < lo else (w * 2 if h > w * 2 else h)
        lv = (w * 3) >> 2
        self._lv = lv if lv > sig * 4 else sig * 4

    def _edges(self):
        # the levels at which the current reading steps: the evidence of the past readings
        # folded in (a step needs up + (cont - edge - k) > h)
        z = self._zone
        w = self._w
        kh = self._k + self._h
        self._hi_at = (z + 1) * w + kh - self._up if z < self._n - 1 else _LEVEL_MAX + 1
        self._lo_at = z * w - kh + self._dn if z > 0 else -1

    def press(self, strength):
        m = self.m
        vel = m.velocity(strength)
        self._velocity = vel
        ch = self._ch
        if ch is not None and ch.cond is not None:
            # the noise the conditioner measured at rest (level), 6 floors in its noise band
            self._floor = ch.cond.noise_level // 6 + 1
            self._limits()
        m.off()
        m.on(m.note(self._zone if self._zone > 0 else 0), vel)

    def level(self, cont, pressed):
        if self._inv:
            cont = _LEVEL_MAX - cont
        m = self.m
        if not (pressed and m.count):
            # no note sounds: the zone is where the hand is, ready for the next press
            z = cont // self._w
            n = self._n
            self._zone = z if z < n else n - 1
            if self._live:  # a note has just ended: its readings and evidence go with it
                self._live = 0
                self._cur = -1
                self._p0 = -1
                self._up = self._dn = 0
                self._leave = 0
                self._calm = 0
                self._out_at = -1
            m.last_cont = cont
            m.last_pressed = pressed
            return
        if not self._live:  # the first reading of a note: steps from the zone it started in
            self._live = 1
            self._edges()
        ch = self._ch
        if ch is None:
            self._fresh()  # (built alone: every call is a reading)
        else:
            raw = ch.raw
            if raw != self._raw:  # (else the sensor repeated itself: the same reading)
                self._raw = raw
                self._fresh()
                if raw == self._far:
                    self._leave = 2  # nothing in range: the hand has gone
        self._cur = cont
        if cont < self._out_at:
            self._leave = 2  # a zone or more further out in one reading: leaving
        if cont > self._hi_at or (cont < self._lo_at and not self._leave):
            if self._gap > 0:
                self._gap -= 1
                return  # one step a reading (or every _STEP_CALLS calls): called again
            z = self._zone
            if cont > self._hi_at:
                z += 1
            elif self._land:
                z = cont // self._w  # where a fast move out stopped, not the run to it
                if z >= self._zone:
                    z = self._zone - 1
            else:
                z -= 1
            self._zone = z
            m.off()
            m.on(m.note(z), self._velocity)
            self._up = self._dn = 0
            self._land = 0
            self._calm = 0
            self._gap = _STEP_CALLS
            self._limits()
            self._edges()
            if cont > self._hi_at or cont < self._lo_at:
                return  # more zones to go: called again on every tick until they are played
        m.last_cont = cont
        m.last_pressed = pressed

    def _fresh(self):
        # a new reading: the last one is complete; learn the noise and the stillness from it,
        # fold its evidence in
        self._gap = 0
        cur = self._cur
        if cur < 0:
            return
        p0 = self._p0
        if p0 >= 0:
            p1 = self._p1
            if p1 >= 0 and not self._leave:  # (a hand leaving is movement, not noise)
                d = cur - p0 - p0 + p1
                if d < 0:
                    d = -d
                # a mean over ~32 readings: steady within +-30 %; a jolt of the hand counts
                # as 3 means at most
                s = self._spread
                if d > s * 3:
                    d = s * 3
                self._spread = s + ((d - s) >> 5)
            self._land = 0
            if self._leave and cur - p0 > -(self._lv >> 1):
                self._leave -= 1  # a calm reading
                if not self._leave:
                    self._land = 1
            # still: within 2 noise of where the hand has been lately (a ~8-reading mean)
            a = self._at
            a += (cur - a) >> 3
            self._at = a
            a = cur - a
            c = self._calm
            if a > self._sig * 2 or a < -self._sig * 2:
                self._calm = c - 4 if c > 4 else 0
            elif c < _CALM_READINGS:
                self._calm = c + 1
        else:
            self._at = cur
        self._p1 = p0
        self._p0 = cur
        # the reading's evidence, from where it settled
        z = self._zone
        w = self._w
        k = self._k
        up = self._up + cur - (z + 1) * w - k
        if up < 0:
            up = 0
        self._up = up
        dn = self._dn + z * w - cur - k
        if dn < 0:
            dn = 0
        self._dn = dn
        self._out_at = cur - self._lv
        n = self._count + 1
        self._count = n
        if n & 3 == 0:  # (the limits move slowly: every 4th reading is soon enough)
            self._limits()
            k = self._k
        # the levels at which the next reading steps (as _edges(), inline: once a reading)
        kh = k + self._h
        self._hi_at = (z + 1) * w + kh - up if z < self._n - 1 else _LEVEL_MAX + 1
        self._lo_at = z * w - kh + dn if z > 0 else -1


class _Continuous(NoteMode):
    """A mode that follows the level and plays no notes (cc, bend, pressure)."""

    continuous = True
    ends_notes = ("channel", "invert")

    def __init__(self, mapper):
        super().__init__(mapper)
        self._sent = -1  # the last value sent

    def configure(self):
        self._sent = self.rest()

    def was_reset(self):
        self._sent = self.rest()

    def press(self, strength):
        pass

    def release(self):
        pass

    def _moved(self, v, lo, hi, dead):
        # small changes are noise, but a change onto an end stop is always sent, so that
        # "fully off" and "fully on" really arrive
        last = self._sent
        d = v - last if v >= last else last - v
        return last < 0 or d > dead or (d and (v <= lo or v >= hi))


class CCMode(_Continuous):
    name = "cc"

    def rest(self):
        c = self.chs
        return c.cc_max if c.invert else c.cc_min

    def level(self, cont, pressed):
        c = self.chs
        lo = c.cc_min
        hi = c.cc_max
        v = ((hi - lo) * cont) // _LEVEL_MAX
        v = hi - v if c.invert else lo + v
        if self._moved(v, lo, hi, c.deadband):
            if not self.midi.cc(self.glob.channel - 1, c.cc, v, self.index):
                return  # the queue was full: try again next tick
            self._sent = v
        m = self.m
        m.last_cont = cont
        m.last_pressed = pressed


class BendMode(_Continuous):
    name = "bend"

    def rest(self):
        return _BEND_CENTRE

    def level(self, cont, pressed):
        c = self.chs
        # invert bends down instead of up
        v = (cont * 8191) // _LEVEL_MAX
        if c.invert:
            v = _BEND_CENTRE - v
            lo = _BEND_CENTRE - 8191
            hi = _BEND_CENTRE
        else:
            v = _BEND_CENTRE + v
            lo = _BEND_CENTRE
            hi = _BEND_CENTRE + 8191
        if self._moved(v, lo, hi, c.deadband * 64):
            if not self.midi.bend(self.glob.channel - 1, v, self.index):
                return  # the queue was full: try again next tick
            self._sent = v
        m = self.m
        m.last_cont = cont
        m.last_pressed = pressed


class PressureMode(_Continuous):
    name = "pressure"

    def rest(self):
        return 127 if self.chs.invert else 0

    def level(self, cont, pressed):
        c = self.chs
        v = (cont * 127) // _LEVEL_MAX
        if c.invert:
            v = 127 - v
        if self._moved(v, 0, 127, c.deadband):
            if not self.midi.pressure(self.glob.channel - 1, v, self.index):
                return  # the queue was full: try again next tick
            self._sent = v
        m = self.m
        m.last_cont = cont
        m.last_pressed = pressed


class LatchMode(NoteMode):
    name = "latch"
    help = "press on, press again off"

    def press(self, strength):
        m = self.m
        if m._latched:
            m.off()
            return
        m.on(m.note(0), m.velocity(strength))
        m._latched = 1

    def release(self):
        pass  # the note holds until the next press


# The registry. A `mode` setting holds an index into it, but profiles store the name, so the
# order means nothing except that the first is the default.
MODES = (NoteMode, ChordMode, SequenceMode, ZonesMode, CCMode, BendMode, PressureMode, LatchMode)
