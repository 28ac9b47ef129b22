"""A long run of the engine and the console in the MicroPython VM, with faults injected, that
measures the memory in use after each full collection: it must not grow.

Usage (in the VM, tests/micropython on the path): from soak_memory import soak
       figures = soak(phases=12, ticks=20000)   # one JSON line per phase, then a summary

Three sensors (a switch, a pad, a hand) play presses with noise; between them the pad sticks at
its rail, the hand stops answering, a driver raises, readings turn to garbage, the USB host
stops reading (the MIDI queue fills), and the therapist's commands arrive: status, set, get,
params, profile save, panic and junk. The test (tests/test_reliability.py) runs it for `make
soak`; check_soak_memory.py runs a short one in the fast suite.
"""

import gc
import json
import os

from console import Console
from fakesensor import FakeSensor
from fourchannel import Noise
from instrument import Instrument, kind_defaults
from profiles import Profiles
from runtime import Stats
from settings import Settings
from store import Store
from system import System

_MASK = (1 << 30) - 1
_PERIOD = 4000  # ticks in one round of presses and faults (long enough for a rail fault)


class Troubled(FakeSensor):
    """The shared fake sensor, with a `mode` the soak sets: 0 plays, 1 not answering (fault 5),
    2 raises like a driver bug, 3 pinned at the rail, 4 garbage."""

    def __init__(self, kind, full, rest, press, invert=False, rail=False):
        super().__init__(kind, full, value=rest, invert=invert, rail_fault=rail)
        self.rest = rest
        self.press = press
        self.mode = 0
        self.pressed = False
        self.noise = Noise(full + rest)
        self.last = rest

    def read(self, now_us):
        mode = self.mode
        if mode == 1:
            self.fault = 5
            self.fault_text = "sensor not answering: check its cable"
            return self.last
        if self.fault:
            self.fault = 0
            self.fault_text = ""
        if mode == 2:
            raise ValueError("driver bug")
        if mode == 3:
            v = self.FULL_SCALE
        elif mode == 4:
            v = (self.noise.x >> 7) % (self.FULL_SCALE + 1)
            self.noise.next(1)
        elif self.KIND == "switch":
            v = 1 if self.pressed else 0
        else:
            v = (self.press if self.pressed else self.rest) + self.noise.next(2)
            if v < 0:
                v = 0
            elif v > self.FULL_SCALE:
                v = self.FULL_SCALE
        self.last = v
        return v


class Out:
    """The console's output: counted, not kept (a host that reads everything)."""

    def __init__(self):
        self.lines = 0

    def write(self, text):
        self.lines += 1
        return True


COMMANDS = (
    b"status",
    b"set pad.sensitivity 61",
    b"get pad",
    b"params 8",
    b"profile save anna",
    b"set pad.sensitivity 60",
    b"profile list",
    b"panic",
    b"calibrate",
    b"monitor 20",
    b"monitor off",
    b"no such command",
    b"set hand.range 999",
    b"profile show anna",
)


def build():
    names = ("switch", "pad", "hand")
    st = Settings(names)
    defaults = kind_defaults((("switch", "switch"), ("pad", "analog"), ("hand", "analog")))
    defaults.update({"pad.mode": "chord", "hand.mode": "zones", "switch.mode": "sequence"})
    assert st.apply(defaults) == []
    sensors = (
        Troubled("switch", 1, 0, 1),
        Troubled("analog", 65535, 1600, 30000, rail=True),
        Troubled("analog", 255, 200, 60, invert=True),
    )
    inst = Instrument(
        st,
        (
            ("switch", sensors[0], "switch"),
            ("pad", sensors[1], "fsr"),
            ("hand", sensors[2], "vl6180x"),
        ),
    )
    try:
        os.mkdir("/soak")
    except OSError:
        pass
    os.chdir("/soak")
    store = Store("soak")
    store.save("anna", st.to_dict())
    store.set_active("anna")
    out = Out()
    system = System("soak", "pico", "combo", "Combo")
    console = Console(inst, Profiles(store, st, defaults), system, Stats(), out.write)
    inst.begin(0)
    return inst, sensors, console, out


def step_world(k, sensors, period):
    """Presses and faults as a function of the tick number: rounds of `period` ticks, each of
    the 8 kinds in turn (plain play, pad at its rail, hand unplugged, hand garbage, USB host
    not reading, pad driver raising, switch driver raising, plain play)."""
    phase = k % period
    rnd = (k // period) % 8
    f = phase * 20 // period  # twentieths of the round
    sw, pad, hand = sensors
    if rnd == 4:  # quick taps while the host is not reading: the MIDI queue fills up
        sw.pressed = phase % 40 < 15
    else:
        sw.pressed = f == 1 or f == 9
    pad.pressed = 3 <= f < 7
    hand.pressed = 11 <= f < 15
    trouble = 2 <= f < 19  # 3.4 s of 4 s: a pad pinned at its rail is reported after 3 s
    pad.mode = 3 if trouble and rnd == 1 else 2 if trouble and rnd == 5 else 0
    hand.mode = 1 if trouble and rnd == 2 else 4 if trouble and rnd == 3 else 0
    sw.mode = 2 if trouble and rnd == 6 else 0
    return rnd == 4 and trouble  # the USB host stops reading


class Soak:
    """The soak's state, kept between phases."""

    def __init__(self, phases, ticks, warmup, done, period, every):
        self.inst, self.sensors, self.console, self.out = build()
        self.phases = phases
        self.ticks = ticks
        self.warmup = warmup
        self.done = done
        self.period = period
        self.every = every
        self.phase = 0
        self.k = 0
        self.t = 0
        self.cmd = 0
        self.alloc = [0] * (phases + 1)  # allocated up front: the record must not grow

    def run_phase(self):
        """Measure, then play one phase. In the VM each phase is its own call from JavaScript:
        the WebAssembly port only frees memory in a collection made outside any Python call
        (a gc.collect() inside a running script frees nothing), so phases chain through
        js.setTimeout and each starts at the top level."""
        gc.collect()
        self.alloc[self.phase] = gc.mem_alloc()
        if self.phase:
            print(
                json.dumps(
                    {
                        "phase": self.phase,
                        "ticks": self.k,
                        "mem_alloc": self.alloc[self.phase],
                        "midi_dropped": self.inst.midi.dropped,
                        "errors": self.inst.errors,
                        "console_lines": self.out.lines,
                    }
                )
            )
        if self.phase == self.phases:
            self.finish()
            return False
        inst, sensors, console = self.inst, self.sensors, self.console
        midi = inst.midi
        k, t, cmd = self.k, self.t, self.cmd
        period = self.period
        every = self.every
        end = k + self.ticks
        while k < end:
            stalled = step_world(k, sensors, period)
            inst.tick(t)
            console.capture()
            if not stalled:
                midi.count = 0  # the host took the tick's packets
            if k & 3 == 1:
                console.poll(t // 1000)
            if k % every == 0:
                console.handle(COMMANDS[cmd % len(COMMANDS)])
                cmd += 1
            k += 1
            t = (t + 1000) & _MASK
        self.k, self.t, self.cmd = k, t, cmd
        self.phase += 1
        return True

    def finish(self):
        steady = self.alloc[1 + self.warmup : self.phase + 1]
        inst = self.inst
        summary = {
            "soak": True,
            "phases": self.phases,
            "ticks": self.k,
            "mem_alloc_first": steady[0],
            "mem_alloc_last": steady[-1],
            "mem_alloc_max": max(steady),
            "growth": steady[-1] - steady[0],
            "midi_dropped": inst.midi.dropped,
            "errors": inst.errors,
            "commands": self.cmd,
            "console_lines": self.out.lines,
        }
        print(json.dumps(summary))
        if self.done is not None:
            self.done(summary)


def soak(phases=12, ticks=20000, warmup=1, done=None, period=_PERIOD, every=997):
    """Run `phases` x `ticks` ticks, printing one JSON line per phase with the memory in use
    after a full collection, then a summary line (also given to `done`). Faults come in
    rounds of `period` ticks, a console command every `every` ticks. The first `warmup`
    phases are left out of the comparison (one-time set-up, first saves, first replies)."""
    state = Soak(phases, ticks, warmup, done, period, every)
    try:
        import js  # the WebAssembly VM's bridge to JavaScript (not on a Pico: harness only)
    except ImportError:
        js = None

    def next_phase():
        if state.run_phase() and js is not None:
            js.setTimeout(next_phase, 0)

    next_phase()
    if js is None:  # CPython or a board, for debugging: one call, collections still work
        while state.run_phase():
            pass


if __name__ == "__main__":
    soak()
