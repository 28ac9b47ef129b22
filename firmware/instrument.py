"""The instrument: one channel per sensor (read -> condition -> gesture -> map -> MIDI), the
tick that runs them, and fault isolation so one failing sensor never silences the others.

Usage: inst = Instrument(settings, [("pad", sensor, "fsr")]); inst.begin(now_us);
       inst.tick(now_us)   # then send inst.midi's queued packets

Sensors are duck-typed (see sensors/__init__.py): KIND, FULL_SCALE, invert, fault, fault_text,
begin(), read(now_us). Everything else here is pure: readings and time come in as arguments.
"""

from time import ticks_diff

from engine.activity import Activity
from engine.conditioning import LEVEL_MAX, Conditioner
from engine.gestures import PRESS, Debouncer, Gesture
from engine.mapper import Mapper
from micropython import const
from midi.packets import MidiOut

_RECONFIGURE_TICKS = const(256)  # refresh noise-based trigger points this often
_RAIL_US = const(3000000)  # a reading pinned at its "most" end this long is a wiring fault
_RETRY_US = const(1000000)  # after an internal error, try the channel again this much later
_SWITCH_TRIGGER = const(8192)
# analog channels read every tick, at most: each costs ~0.36 ms on an RP2040 (read, condition,
# gesture, map: measured on the emulated Pico), so two leave ~0.2 ms for the switches and the
# serial port in a 1 ms tick; with more, one is read a tick, in turn (Instrument.stride)
ANALOG_PER_TICK = const(2)
_FAULT_RAIL = const(1001)
_FAULT_CRASH = const(1002)

RAIL_TEXT = "reading stuck at the end of its range: check the wiring"
CRASH_TEXT = "stopped after an internal error; trying again"


class Channel:
    """One sensor and the stages that turn its readings into music: a switch is debounced, an
    analog reading conditioned; both then go through the gesture and the mapping."""

    def __init__(self, index, name, sensor, sensor_type, settings, midi, activity=None):
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
        # each press's onset, velocity, peak and end, for `* act` lines and the journal
        self.activity = activity if activity is not None else Activity(index + 1)
        self.peak_level = 0  # the highest level of the press under way...
        self.peak_raw = 0  # ...and the reading there
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
            self.activity.end(self, -1)
            self.pressed = 0
            self.gesture.hush()

    def restart(self, now_us, relearn=True):
        """Start afresh: forget any press (notes are ended) and, with `relearn`, learn the rest
        baseline again (a baseline never learned is always learned)."""
        self.activity.end(self, now_us)
        self.mapper.off()
        self.gesture.reset(now_us)
        self.pressed = 0
        self.level = 0
        if self.cond and (relearn or not self.cond.learned):
            self.cond.restart(now_us)

    def set_fault(self, code, text, now_us):
        """Stop playing this channel (its notes end, the MIDI channels go back to rest) until
        the fault clears."""
        self.activity.end(self, now_us)
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
            if g.pressed and lvl > self.peak_level:  # the press's peak (Activity)
                self.peak_level = lvl
                self.peak_raw = raw
        m = self.mapper
        if m.continuous:
            cont = (lvl - rel) * LEVEL_MAX // (LEVEL_MAX - rel) if lvl > rel else 0
            if cont != m.last_cont or g.pressed != m.last_pressed:
                m.level(cont, g.pressed)
        if ev:
            if ev == PRESS:
                self.pressed = 1
                m.press(g.strength)
                self.activity.press(self, now_us)
            else:
                self.pressed = 0
                m.release()
                self.activity.end(self, now_us)


def kind_defaults(channels):
    """Per-kind defaults for (name, kind) pairs: switches play a fixed velocity."""
    out = {}
    for name, kind in channels:
        if kind == "switch":
            out[name + ".velocity"] = "fixed"
    return out


class Instrument:
    """All channels of one instrument, ticked together, sharing one MIDI queue.

    A tick runs in two halves so that a switch's note leaves before the analog channels' work:
    `tick_switches(now)` (every switch; the runtime sends their MIDI straight away), then
    `tick_analog(now)`; `tick(now)` runs both. Switches in a SwitchBank (sensors/switch.py)
    are read with one register load, and only the ones whose contact changed or that are still
    busy (debouncing, a dwell, a lockout) are updated: a resting switch costs nothing."""

    def __init__(self, settings, sensors, midi=None):
        self.settings = settings
        self.midi = midi if midi is not None else MidiOut()
        self.activity = Activity(len(sensors))
        self.channels = []
        i = 0
        for name, sensor, sensor_type in sensors:
            self.channels.append(
                Channel(i, name, sensor, sensor_type, settings, self.midi, self.activity)
            )
            i += 1
        self.now_us = 0  # the last tick's time (the console turns it into ticks_ms)
        self.errors = 0
        self._seen = -1
        self._ticks = 0
        # the tick's order: switches first (those of the bank apart), then analog channels
        self._bank = None
        self._banked = []  # channels read through the bank, and their bits
        self._bits = []
        self._switches = []  # other switches, read one by one
        self._analog = []
        for ch in self.channels:
            bank = getattr(ch.sensor, "bank", None)
            if bank is not None and (self._bank is None or bank is self._bank):
                self._bank = bank
                self._banked.append(ch)
                self._bits.append(ch.sensor.bit)
            elif ch.kind == "switch":
                self._switches.append(ch)
            else:
                self._analog.append(ch)
        self._banked = tuple(self._banked)
        self.banked = len(self._banked)  # switches read through the bank
        self._bits = tuple(self._bits)
        self._switches = tuple(self._switches)
        self._analog = tuple(self._analog)
        # ticks between two readings of one analog channel: 1 (every tick, 1 kHz) up to
        # ANALOG_PER_TICK analog channels; beyond, one channel a tick in turn (3: 333 Hz
        # each, 4: 250 Hz), as two already fill most of an RP2040's tick
        n = len(self._analog)
        self.stride = 1 if n <= ANALOG_PER_TICK else n
        self._phase = 0
        # one analog channel's refresh (trigger points, tremor guard) every this many ticks,
        # in turn, so each is refreshed every _RECONFIGURE_TICKS: all of them in one tick took
        # ~2 ms on the emulated Pico with four pads (a late tick, and a switch heard late)
        self._cfg_every = _RECONFIGURE_TICKS // n if n else _RECONFIGURE_TICKS
        self._cfg_i = 0
        self._all_bits = 0
        for bit in self._bits:
            self._all_bits |= bit
        self.sw_last = 0  # the bank's last reading (the loop compares the register with it)
        self._sw_busy = self._all_bits  # banked switches to update on the next tick anyway
        self._t_last = 0  # the last tick's time

    def begin(self, now_us):
        """Start every sensor (a missing I2C sensor just starts faulted) and learn baselines."""
        for ch in self.channels:
            try:
                ch.sensor.begin()
            except Exception:  # a sensor that cannot start must not stop the others
                self.errors += 1
            ch.restart(now_us)
        self._sw_busy = self._all_bits
        self._t_last = now_us

    def tick(self, now_us):
        """Read every sensor once and queue the MIDI that results."""
        self.tick_switches(now_us)
        self.tick_analog(now_us)

    def tick_switches(self, now_us):
        """The first half of a tick: take in changed settings, then every switch."""
        self.now_us = now_us  # the tick's time, for the journal's slow path (commands/journal)
        if self._seen != self.settings.version:
            self._configure()
        bank = self._bank
        if bank is not None:
            # one load for every switch; only a changed or busy one costs more than that
            v = (bank.mem[bank.addr] ^ bank.flip) & bank.mask
            bank.value = v
            todo = (v ^ self.sw_last) | self._sw_busy
            if todo:
                self.sw_last = v
                self._banked_switches(v, todo, now_us)
        # (the same loop as tick_analog's: a shared method would cost a call per channel)
        for ch in self._switches:
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
        self._t_last = now_us

    def switch_bank(self):
        """The SwitchBank its banked switches are read through, or None: the loop reads
        (bank.mem[bank.addr] ^ bank.flip) & bank.mask itself between its steps, with those four
        held in locals (a method call per look cost ~50 us on the emulated Pico)."""
        return self._bank

    def switches_moved(self):
        """Whether a banked switch's contact differs from the last tick's reading (one register
        load): between ticks, the loop then runs the switch half again, so a press made while
        the tick waits is played at once rather than at the next tick."""
        bank = self._bank
        if bank is None:
            return False
        return (bank.mem[bank.addr] ^ bank.flip) & bank.mask != self.sw_last

    def tick_analog(self, now_us):
        """The second half of a tick: every channel that is not a switch."""
        self._ticks += 1
        analog = self._analog
        n = len(analog)
        if self._ticks >= self._cfg_every:
            # follow the measured noise floor: trigger points move with it; and let an old
            # tremor guard expire while it is within reach of ticks_diff (an idle channel's
            # gesture is not called at all). One channel at a time, in turn. (The count
            # restarts with no analog channel too: left to grow, after ~12 days at 1 kHz it
            # would pass MicroPython's small-int range and allocate on every tick)
            self._ticks = 0
            if n:
                k = self._cfg_i
                ch = analog[k]
                ch.cond.configure()
                ch.gesture.chore(now_us)
                self._cfg_i = k + 1 if k + 1 < n else 0
        # with more analog channels than fit in a tick, each tick reads every `stride`-th one,
        # starting one further on each tick (staggered: the same work every tick)
        stride = self.stride
        i = self._phase
        self._phase = i + 1 if i + 1 < stride else 0
        while i < n:
            ch = analog[i]
            i += stride
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

    def _banked_switches(self, v, todo, now_us):
        """Update the banked switches in `todo` (bits) from the bank's reading `v`, and note
        which of them must be updated on the next tick even if their contact stays."""
        busy = 0
        chans = self._banked
        bits = self._bits
        n = len(bits)
        i = 0
        while i < n:
            bit = bits[i]
            if todo & bit:
                ch = chans[i]
                try:
                    raw = 1 if v & bit else 0
                    if ch.fault and not ch.recovered(raw, now_us):
                        busy |= bit
                    elif ch.enabled:
                        g = ch.gesture
                        if g.idle:
                            # the ticks skipped at rest would have noted the time: the last one
                            g.t_rest = self._t_last
                        ch.update(raw, now_us)
                        deb = ch.debouncer
                        # after this, a tick with the same contact changes nothing: nothing
                        # debouncing, the gesture at rest and idle or holding a press, and the
                        # mapping not a continuous mode (which follows every tick)
                        if (
                            ch.fault
                            or deb.holding
                            or raw != deb.state
                            or not (g.pressed or g.idle)
                            or ch.mapper.continuous
                        ):
                            busy |= bit
                except Exception:  # isolate the fault: this channel stops, the others play on
                    self.errors += 1
                    self._crashed(ch, now_us)
                    busy |= bit
            i += 1
        self._sw_busy = busy

    def _configure(self):
        for ch in self.channels:
            try:
                ch.configure()
            except Exception:
                self.errors += 1
        self._seen = self.settings.version
        self._sw_busy = self._all_bits  # every switch looks at its new settings

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
            ch.activity.end(ch, -1)
            ch.mapper.off()
            ch.pressed = 0
            ch.gesture.hush()
        self._sw_busy = self._all_bits  # a switch still held plays again, as it always did
        return self.midi.panic()
