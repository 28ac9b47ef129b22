"""Musical mapping for one sensor channel: gestures and levels in, scale-locked MIDI out.

Usage: m = Mapper(0, settings, midi); m.press(strength); m.release(); m.level(cont)

Modes (settings.MODES): note, chord, sequence, zones, cc, bend, pressure, latch. Every note this
channel starts is remembered with its MIDI channel, so its note-off always matches, whatever
settings change in between; a change to what the channel plays ends its notes first.
"""

from micropython import const

from engine import scales

_LEVEL_MAX = const(16383)
_MAX_NOTES = const(4)
_NOTE = const(0)
_CHORD = const(1)
_SEQUENCE = const(2)
_ZONES = const(3)
_CC = const(4)
_BEND = const(5)
_PRESSURE = const(6)
_LATCH = const(7)
_VEL_FIXED = const(0)
_CURVE_SOFT = const(1)
_CURVE_HARD = const(2)
_BEND_CENTRE = const(8192)

# chord shapes in scale steps above the chosen degree (power: root, fifth, octave by semitones)
_TRIAD = b"\x00\x02\x04"
_SEVENTH = b"\x00\x02\x04\x06"


class Mapper:
    """Plays one channel's gestures as MIDI into a MidiOut."""

    def __init__(self, index, settings, midi):
        self.index = index
        self.settings = settings
        self.chs = settings.ch[index]
        self.midi = midi
        self.notes = bytearray(_MAX_NOTES)  # notes now sounding from this channel
        self.count = 0
        self._out = 0  # MIDI channel those notes were started on
        self._step = 0  # sequence position
        self._zone = -1
        self._velocity = 0  # velocity of the current press (zones reuse it)
        self._sent = -1  # last continuous value sent
        # the last level() input fully acted on: most ticks repeat it, and the channel then
        # skips the call (a repeat would change nothing)
        self.last_cont = -1
        self.last_pressed = 0
        self._latched = 0
        self._seen = -1
        self._what = None  # what the channel plays, to notice changes
        self.mode = 0
        self.continuous = False
        self._melody_len = 1

    def configure(self):
        """Take in changed settings (slow path): end notes if what they mean has changed."""
        g = self.settings.glob
        c = self.chs
        what = (c.mode, g.scale, g.root, g.octave, g.transpose, c.degree, c.chord, g.channel,
                c.enabled, c.melody, c.zones, c.invert)
        if what != self._what:
            self.off()
            if self._what is None or c.melody != self._what[9]:
                self._step = 0
            old_mode = self.mode
            self._what = what
            self.mode = c.mode
            self.continuous = c.mode in (_ZONES, _CC, _BEND, _PRESSURE)
            self._melody_len = len(c.melody)
            self._leave(old_mode)
            self._sent = self._rest_value()
        self.last_cont = -1  # settings read live by level() may have changed
        self._seen = self.settings.version

    def _rest_value(self):
        # what a continuous mode sends at rest; assumed in place, so an untouched sensor
        # sends nothing at all
        c = self.chs
        if self.mode == _CC:
            return c.cc_max if c.invert else c.cc_min
        if self.mode == _BEND:
            return _BEND_CENTRE
        if self.mode == _PRESSURE:
            return 127 if c.invert else 0
        return -1

    def _leave(self, old_mode):
        # a bend or pressure left behind would detune or colour the next notes
        if old_mode != self.mode:
            ch = self.settings.glob.channel - 1
            if old_mode == _BEND:
                self.midi.bend(ch, _BEND_CENTRE, self.index)
            elif old_mode == _PRESSURE:
                self.midi.pressure(ch, 0, self.index)

    def velocity(self, strength):
        """MIDI velocity for a press of `strength` (0..16383), within the global floor/ceiling."""
        c = self.chs
        g = self.settings.glob
        if c.velocity == _VEL_FIXED:
            v = c.fixed_velocity
            return v if v < g.velocity_max else g.velocity_max
        x = strength
        if c.curve == _CURVE_SOFT:
            x = (x * (32768 - x)) >> 14
        elif c.curve == _CURVE_HARD:
            x = (x * x) >> 14
        return g.velocity_min + (((g.velocity_max - g.velocity_min) * x) >> 14)

    def _note(self, step):
        g = self.settings.glob
        return scales.degree_note(g.scale, g.root + g.transpose, g.octave,
                                  self.chs.degree - 1 + step)

    def _on(self, note, vel):
        n = self.count
        if n < _MAX_NOTES and self.midi.note_on(self._out, note, vel, self.index):
            self.notes[n] = note
            self.count = n + 1

    def _play(self, vel):
        """Start the notes of one activation."""
        g = self.settings.glob
        self._out = g.channel - 1
        mode = self.mode
        if mode == _CHORD:
            shape = self.chs.chord
            if shape == 2:  # power chord: root, the fifth as the scale allows, octave
                root = self._note(0)
                self._on(root, vel)
                self._on(scales.snap(root + 7, g.scale, g.root + g.transpose), vel)
                self._on(scales.fit(root + 12), vel)
                return
            steps = _SEVENTH if shape == 1 else _TRIAD
            i = 0
            while i < len(steps):
                self._on(self._note(steps[i]), vel)
                i += 1
        elif mode == _SEQUENCE:
            m = self.chs.melody
            k = self._step
            if k >= self._melody_len:
                k = 0
            self._step = k + 1 if k + 1 < self._melody_len else 0
            self._on(scales.snap(m[k] + g.transpose, g.scale, g.root + g.transpose), vel)
        elif mode == _ZONES:
            self._on(self._note(self._zone if self._zone > 0 else 0), vel)
        else:
            self._on(self._note(0), vel)

    def off(self):
        """End every note this channel started (release, fault, panic, settings change)."""
        n = self.count
        while n > 0:
            n -= 1
            self.midi.note_off(self._out, self.notes[n], self.index)
        self.count = 0
        self._latched = 0

    def press(self, strength):
        """A press was recognised."""
        if self._seen != self.settings.version:
            self.configure()
        mode = self.mode
        if mode >= _CC and mode != _LATCH:
            return
        vel = self.velocity(strength)
        self._velocity = vel
        if mode == _LATCH:
            if self._latched:
                self.off()
                return
            self._play(vel)
            self._latched = 1
            return
        self.off()
        self._play(vel)

    def release(self):
        """The press ended."""
        if self.mode != _LATCH:
            self.off()

    def level(self, cont, pressed):
        """Continuous level (0..16383 above the release point) for zones, cc, bend, pressure."""
        mode = self.mode
        if mode == _ZONES:
            self._zones(cont, pressed)
            self._done(cont, pressed)
            return
        c = self.chs
        ch = self.settings.glob.channel - 1
        dead = c.deadband
        lo = 0
        hi = 127
        if mode == _CC:
            lo = c.cc_min
            hi = c.cc_max
            v = (((hi - lo) * cont) // _LEVEL_MAX)
            v = hi - v if c.invert else lo + v
        elif mode == _BEND:
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
            dead = dead * 64
        else:
            v = (cont * 127) // _LEVEL_MAX
            if c.invert:
                v = 127 - v
        last = self._sent
        d = v - last if v >= last else last - v
        # small changes are noise, but a change onto an end stop is always sent, so that
        # "fully off" and "fully on" really arrive
        if last >= 0 and d <= dead and not (d and (v <= lo or v >= hi)):
            self._done(cont, pressed)
            return
        if mode == _CC:
            ok = self.midi.cc(ch, c.cc, v, self.index)
        elif mode == _BEND:
            ok = self.midi.bend(ch, v, self.index)
        else:
            ok = self.midi.pressure(ch, v, self.index)
        if ok:  # (else the queue was full: try again next tick)
            self._sent = v
            self._done(cont, pressed)

    def _done(self, cont, pressed):
        self.last_cont = cont
        self.last_pressed = pressed

    def _zones(self, cont, pressed):
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
        if z != self._zone:
            self._zone = z
            if pressed and self.count:
                self.off()
                self._on(self._note(z), self._velocity)
