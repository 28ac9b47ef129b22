"""Play modes: what a press, a release and a level change play; one small class per mode.

Usage: mode = ChordMode(mapper); mode.press(strength); mode.release(); mode.level(cont, pressed)

MODES is the one registry: settings take the mode names from it, the Mapper builds a mode from
it by the setting's index. To add a mode, write a class and append it to MODES; nothing else.
"""

from micropython import const

from engine import scales

_LEVEL_MAX = const(16383)
_BEND_CENTRE = const(8192)

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
    name = "zones"
    help = "position picks the note"
    continuous = True
    ends_notes = NoteMode.ends_notes + ("zones", "invert")

    def __init__(self, mapper):
        super().__init__(mapper)
        self._zone = -1
        self._velocity = 0  # of the current press: a new zone replays at it

    def press(self, strength):
        m = self.m
        vel = m.velocity(strength)
        self._velocity = vel
        m.off()
        m.on(m.note(self._zone if self._zone > 0 else 0), vel)

    def level(self, cont, pressed):
        c = self.chs
        n = c.zones
        if c.invert:
            cont = _LEVEL_MAX - cont
        z = self._zone
        width = (_LEVEL_MAX + 1) // n
        if z < 0:
            z = cont // width
        else:
            # hysteresis: leave a zone only a quarter zone past its edge
            lo = z * width - (width >> 2)
            hi = (z + 1) * width + (width >> 2)
            if cont < lo or cont >= hi:
                z = cont // width
        if z >= n:
            z = n - 1
        m = self.m
        if z != self._zone:
            self._zone = z
            if pressed and m.count:
                m.off()
                m.on(m.note(z), self._velocity)
        m.last_cont = cont
        m.last_pressed = pressed


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
