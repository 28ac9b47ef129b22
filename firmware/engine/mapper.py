"""Musical mapping for one sensor channel: gestures and levels in, scale-locked MIDI out.

Usage: m = Mapper(0, settings, midi); m.press(strength); m.release(); m.level(cont, pressed)

The mapper tracks notes and dispatches; what a press, a release or a level plays is the current
play mode's (engine.modes). Every note this channel starts is remembered with its MIDI channel,
so its note-off always matches, whatever settings change in between; a change to what the
channel plays ends its notes first and puts the MIDI channels back to rest (`stop()`).
"""

from micropython import const

from engine import modes, scales

_MAX_NOTES = const(4)
_VEL_FIXED = const(0)
_CURVE_SOFT = const(1)
_CURVE_HARD = const(2)


class Mapper:
    """Plays one channel's gestures as MIDI into a MidiOut, through its current play mode."""

    def __init__(self, index, settings, midi, owner=None):
        self.index = index
        # the instrument's Channel this mapper plays for (None when built alone, as in tests):
        # a play mode may read its raw reading
        self.owner = owner
        self.settings = settings
        self.chs = settings.ch[index]
        self.midi = midi
        self.notes = bytearray(_MAX_NOTES)  # notes now sounding from this channel
        self.count = 0
        self.vel = 0  # the velocity of the last note started
        self._out = 0  # MIDI channel those notes were started on
        # the last level() input fully acted on: most ticks repeat it, and the channel then
        # skips the call (a repeat would change nothing)
        self.last_cont = -1
        self.last_pressed = 0
        self._latched = 0  # a latch mode's note holds past its release
        self._seen = -1
        self._what = None  # what the channel plays, to notice changes
        # each mode is built when first chosen and kept (a sequence keeps its place)
        self._modes = [None] * len(modes.MODES)
        self.mode = self._mode(0)
        self._take(self.mode)
        midi.players.append(self)  # told when the MIDI channels are reset

    def _mode(self, i):
        m = self._modes[i]
        if m is None:
            m = modes.MODES[i](self)
            self._modes[i] = m
        return m

    def _take(self, mode):
        # the mode's methods, looked up once here rather than on every call
        self.mode = mode
        self.continuous = mode.continuous
        self._press = mode.press
        self.release = mode.release  # the press ended
        # Continuous level (0..16383 above the release point), called on the ticks it changes
        self.level = mode.level

    def configure(self):
        """Take in changed settings (slow path): end notes if what they mean has changed."""
        c = self.chs
        g = self.settings.glob
        mode = self._mode(c.mode)
        what = [c.mode, c.enabled]
        for key in mode.ends_notes:
            what.append(getattr(c, key) if hasattr(c, key) else getattr(g, key))
        if what != self._what:
            self.off()
            self._what = what
            if mode is not self.mode:
                self.mode.leave()
                self._take(mode)
            mode.configure()
            self.midi.reset()  # nothing the old settings bent or pressed colours the new
        self.last_cont = -1  # settings read live by level() may have changed
        self._seen = self.settings.version

    def velocity(self, strength):
        """MIDI velocity for a press of `strength` (0..16383), within the global floor/ceiling."""
        c = self.chs
        g = self.settings.glob
        if c.velocity == _VEL_FIXED:
            v = c.fixed_velocity
            if v < g.velocity_min:
                return g.velocity_min
            return v if v < g.velocity_max else g.velocity_max
        x = strength
        if c.curve == _CURVE_SOFT:
            x = (x * (32768 - x)) >> 14
        elif c.curve == _CURVE_HARD:
            x = (x * x) >> 14
        return g.velocity_min + (((g.velocity_max - g.velocity_min) * x) >> 14)

    def note(self, step):
        """The note `step` scale steps above the channel's degree, in the current scale."""
        g = self.settings.glob
        return scales.degree_note(
            g.scale, g.root + g.transpose, g.octave, self.chs.degree - 1 + step
        )

    def on(self, note, vel):
        """Start a note (at most four sound at once); the first sets their MIDI channel."""
        n = self.count
        if n == 0:
            self._out = self.settings.glob.channel - 1
        if n < _MAX_NOTES and self.midi.note_on(self._out, note, vel, self.index):
            self.notes[n] = note
            self.count = n + 1
            self.vel = vel  # what the press played (the journal's activity reads it)

    def off(self):
        """End every note this channel started (release, fault, panic, settings change)."""
        n = self.count
        while n > 0:
            n -= 1
            self.midi.note_off(self._out, self.notes[n], self.index)
        self.count = 0
        self._latched = 0

    def stop(self):
        """End every note and put the MIDI channels played on back to rest (a fault)."""
        self.off()
        self.midi.reset()

    def was_reset(self):
        """The MIDI channels went back to rest (MidiOut.reset): the mode forgets what it sent,
        and the next level is acted on even if unchanged (a held bend is sent again)."""
        self.mode.was_reset()
        self.last_cont = -1

    def press(self, strength):
        """A press was recognised."""
        if self._seen != self.settings.version:
            self.configure()
        self._press(strength)
