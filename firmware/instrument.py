"""The instrument: one channel per sensor (read -> condition -> gesture -> map -> MIDI), the
tick that runs them, and fault isolation so one failing sensor never silences the others.

Usage: inst = Instrument(settings, [("pad", sensor, "fsr")]); inst.begin(now_us);
       inst.tick(now_us)   # then send inst.midi's queued packets

Sensors are duck-typed (see sensors/__init__.py): KIND, FULL_SCALE, invert, fault, fault_text,
begin(), read(now_us). Everything else here is pure: readings and time come in as arguments.
"""

from time import ticks_diff

from engine.conditioning import LEVEL_MAX, Conditioner
from engine.gestures import PRESS, Debouncer, Gesture
from engine.mapper import Mapper
from micropython import const
from midi.packets import MidiOut

_RECONFIGURE_TICKS = const(256)  # refresh noise-based trigger points this often
_RAIL_US = const(3000000)  # a reading pinned at its "most" end this long is a wiring fault
_RETRY_US = const(1000000)  # after an internal error, try the channel again this much later
_SWITCH_TRIGGER = const(8192)
_FAULT_RAIL = const(1001)
_FAULT_CRASH = const(1002)

RAIL_TEXT = "reading stuck at the end of its range: check the wiring"
CRASH_TEXT = "stopped after an internal error; trying again"


class Channel:
    """One sensor and the stages that turn its readings into music: a switch is debounced, an
    analog reading conditioned; both then go through the gesture and the mapping."""

    def __init__(self, index, name, sensor, sensor_type, settings, midi):
        self.index = index
        self.name = name
        self.sensor = sensor
        self.sensor_type = sensor_type
        self.settings = settings
        self.chs = settings.ch[index]
        self.kind = sensor.KIND
        self.full_scale = sensor.FULL_SCALE
        self.invert = bool(getattr(sensor, "invert", False))
        analog = self.kind != "switch"
        self.cond = Conditioner(self.full_scale, self.invert, self.chs) if analog else None
        self.debouncer = None if analog else Debouncer(self.chs)
        self.gesture = Gesture(self.chs, analog, self.cond)
        self.mapper = Mapper(index, settings, midi, self)
        self.raw = 0
        self.level = 0
        self.pressed = 0
        self.fault = 0
        self.fault_text = ""
        self.enabled = 1
        # only sensors that say so (ADC inputs) treat a pinned reading as a fault; a distance
        # sensor resting at its far limit is simply at rest
        never = 1 << 29
        rail = self.full_scale >> 9
        if getattr(sensor, "RAIL_FAULT", False):
            self._rail_hi = never if self.invert else self.full_scale - rail
            self._rail_lo = rail if self.invert else -1
        else:
            self._rail_hi = never
            self._rail_lo = -1
        self._t_rail = 0
        self._on_rail = 0
        self._t_retry = 0
        # "nothing in range" says nothing about where rest is: if the rest point (a lap, a
        # tray) leaves the view and comes back, that must not look like a press held for ever
        self._no_target = getattr(sensor, "NO_TARGET", -1)
        if self.cond:
            self.cond.rail = self._no_target

    # what monitors and plots read
    @property
    def trigger_level(self):
        return self.cond.trigger_level if self.cond else _SWITCH_TRIGGER

    @property
    def release_level(self):
        return self.cond.release_level if self.cond else _SWITCH_TRIGGER

    @property
    def baseline(self):
        return self.cond.baseline if self.cond else 0

    @property
    def noise(self):
        return self.cond.noise if self.cond else 0

    @property
    def trigger_raw(self):
        return self.cond.trigger_raw if self.cond else 1

    def configure(self):
        """Take in changed settings (slow path)."""
        self.mapper.configure()
        if self.cond:
            # auto-ranging places the trigger of presses; a level mode keeps the whole range
            self.cond.presses = not self.mapper.continuous
            self.cond.configure()
            self.gesture.guard = self.chs.tremor_guard
        self.enabled = self.chs.enabled
        if not self.enabled and self.pressed:
            self.pressed = 0
            self.gesture.pressed = 0

    def restart(self, now_us, relearn=True):
        """Start afresh: forget any press (notes are ended) and, with `relearn`, learn the rest
        baseline again (a baseline never learned is always learned)."""
        self.mapper.off()
        self.gesture.reset(now_us)
        self.pressed = 0
        self.level = 0
        if self.cond and (relearn or not self.cond.learned):
            self.cond.restart(now_us)

    def set_fault(self, code, text, now_us):
        """Stop playing this channel (its notes end, the MIDI channels go back to rest) until
        the fault clears."""
        self.mapper.stop()
        self.gesture.reset(now_us)
        self.pressed = 0
        self.level = 0
        self.fault = code
        self.fault_text = text

    def recovered(self, raw, now_us):
        """A sensor or channel fault is on (slow path): whether `raw` may be played now."""
        sensor = self.sensor
        code = sensor.fault
        if code:
            if self.fault != code:
                self.set_fault(code, sensor.fault_text, now_us)
            return False
        fault = self.fault
        if fault == _FAULT_RAIL:
            if self.on_rail(raw):
                return False
        elif fault == _FAULT_CRASH:
            if ticks_diff(now_us, self._t_retry) < _RETRY_US:
                return False
        # recovered: the rest position learned before the fault still holds (the sensor is
        # where it was), unless the fault was a crash: then relearn
        self.fault = 0
        self.fault_text = ""
        self._on_rail = 0
        self.restart(now_us, fault == _FAULT_CRASH)
        return True

    def on_rail(self, raw):
        """Whether `raw` is at the rail that counts as a wiring fault."""
        return raw >= self._rail_hi or raw <= self._rail_lo

    def update(self, raw, now_us):
        """One reading of this channel's sensor (settings already taken in by the tick).
        One method for both kinds: a call costs more than a branch, on either interpreter."""
        self.raw = raw
        deb = self.debouncer
        if deb is not None:
            if raw != deb.state or deb.holding:  # (else the debouncer has nothing to do)
                deb.update(raw, now_us)
            lvl = LEVEL_MAX if deb.state else 0
            trig = _SWITCH_TRIGGER
            rel = _SWITCH_TRIGGER
        else:
            cond = self.cond
            if cond is None:
                return  # (never: a channel has a debouncer or a conditioner)
            # a reading pinned at the "most" end for seconds is a short or a stuck ADC, not a
            # client: end the note instead of holding it for ever
            if raw >= self._rail_hi or raw <= self._rail_lo:
                if not self._on_rail:
                    self._on_rail = 1
                    self._t_rail = now_us
                    self.gesture.not_a_shake()
                elif ticks_diff(now_us, self._t_rail) >= _RAIL_US:
                    self.set_fault(_FAULT_RAIL, RAIL_TEXT, now_us)
                    return
            elif self._on_rail:
                self._on_rail = 0
            # rest tracking pauses while pressed, unless the level has sunk below the trigger:
            # if rest moved while the sensor was away (a reading stuck at zero, garbage), the
            # real rest point would otherwise hold the note for ever; tracking on, it ends
            lvl = cond.update(
                raw,
                now_us,
                (self.pressed and self.level >= cond.trigger_level) or raw == self._no_target,
            )
            if cond.settling:
                return
            trig = cond.trigger_level
            rel = cond.release_level
        self.level = lvl
        g = self.gesture
        if g.idle and lvl < (rel >> 1):
            # at rest, nothing in progress (most ticks): all the gesture would do is note the
            # time, and a call costs more than that on either interpreter
            g.t_rest = now_us
            ev = 0
        else:
            ev = g.update(lvl, trig, rel, now_us)
        m = self.mapper
        if m.continuous:
            cont = (lvl - rel) * LEVEL_MAX // (LEVEL_MAX - rel) if lvl > rel else 0
            if cont != m.last_cont or g.pressed != m.last_pressed:
                m.level(cont, g.pressed)
        if ev:
            if ev == PRESS:
                self.pressed = 1
                m.press(g.strength)
            else:
                self.pressed = 0
                m.release()


def kind_defaults(channels):
    """Per-kind defaults for (name, kind) pairs: switches play a fixed velocity."""
    out = {}
    for name, kind in channels:
        if kind == "switch":
            out[name + ".velocity"] = "fixed"
    return out


class Instrument:
    """All channels of one instrument, ticked together, sharing one MIDI queue."""

    def __init__(self, settings, sensors, midi=None):
        self.settings = settings
        self.midi = midi if midi is not None else MidiOut()
        self.channels = []
        i = 0
        for name, sensor, sensor_type in sensors:
            self.channels.append(Channel(i, name, sensor, sensor_type, settings, self.midi))
            i += 1
        self.errors = 0
        self._seen = -1
        self._ticks = 0

    def begin(self, now_us):
        """Start every sensor (a missing I2C sensor just starts faulted) and learn baselines."""
        for ch in self.channels:
            try:
                ch.sensor.begin()
            except Exception:  # a sensor that cannot start must not stop the others
                self.errors += 1
            ch.restart(now_us)

    def tick(self, now_us):
        """Read every sensor once and queue the MIDI that results."""
        if self._seen != self.settings.version:
            self._configure()
        self._ticks += 1
        if self._ticks >= _RECONFIGURE_TICKS:
            # follow the measured noise floor: trigger points move with it; and let an old
            # tremor guard expire while it is within reach of ticks_diff (an idle channel's
            # gesture is not called at all)
            self._ticks = 0
            for ch in self.channels:
                if ch.cond is not None:
                    ch.cond.configure()
                    ch.gesture.chore(now_us)
        # (a for loop over a list allocates nothing on MicroPython: its iterator is on the stack)
        for ch in self.channels:
            try:
                sensor = ch.sensor
                raw = sensor.read(now_us)
                if sensor.fault or ch.fault:
                    if not ch.recovered(raw, now_us):
                        continue
                if ch.enabled:
                    ch.update(raw, now_us)
            except Exception:  # isolate the fault: this channel stops, the others play on
                self.errors += 1
                self._crashed(ch, now_us)

    def _configure(self):
        for ch in self.channels:
            try:
                ch.configure()
            except Exception:
                self.errors += 1
        self._seen = self.settings.version

    def _crashed(self, ch, now_us):
        try:
            ch.set_fault(_FAULT_CRASH, CRASH_TEXT, now_us)
        except Exception:
            ch.fault = _FAULT_CRASH
            ch.fault_text = CRASH_TEXT
        ch._t_retry = now_us

    def panic(self):
        """Every sounding note off, now, and every MIDI channel played on back to rest (bend,
        pressure, controllers). Returns True when all of it was queued."""
        for ch in self.channels:
            ch.mapper.off()
            ch.pressed = 0
            ch.gesture.pressed = 0
        return self.midi.panic()
