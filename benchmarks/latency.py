"""Latency and idle figures from the simulator running the unmodified firmware (virtual time).

switch_latency_ms: a switch edge to its USB-MIDI packet reaching the host.
analog_latency_ms: a pressure step crossing the trigger point to its note-on reaching the host.
idle_messages_10min: MIDI messages from untouched, noisy sensors in 10 simulated minutes.
gc_presses_delayed: switch presses a garbage collection held up by more than 5 ms, with the
collection charged what it takes on an RP2040.
"""

from __future__ import annotations

import random
import statistics
import tempfile

from simulator import movement as mv
from simulator.run import Simulation


def _notes(events: list) -> list[float]:
    return [e["t_ms"] for e in events if e["type"] == "note_on"]


def _run(instrument: str, trace: dict, seconds: float, gc_us: int = 0) -> list:
    with open("/dev/null", "w") as quiet, tempfile.TemporaryDirectory() as flash:
        sim = Simulation(instrument, flash, trace=trace, duration_s=seconds, console=quiet)
        with sim:
            if gc_us:
                sim.world.gc_collect_us = gc_us
            return sim.run()


def _latency(kind: str, instrument: str, trace: dict, ms: int, onsets: list[int]) -> dict:
    """The worst and mean delay from each onset to the next note-on, and the onsets counted."""
    notes = _notes(_run(instrument, trace, ms / 1000))
    lat = [min(n for n in notes if n >= t) - t for t in onsets]
    return {
        kind + "_latency_ms": round(max(lat), 3),
        kind + "_latency_ms_mean": round(statistics.mean(lat), 3),
        kind + "_presses": len(onsets),
    }


def switch_latency(presses: int = 40, seed: int = 3) -> dict:
    """Presses at random moments (so every phase of the 1 ms tick is hit)."""
    rng = random.Random(seed)
    ms = 2000 + presses * 400
    edges = [1500 + k * 400 + rng.randrange(0, 97) for k in range(presses)]
    trace = mv.switch_presses(ms, [(t, 150) for t in edges])
    return _latency("switch", "big-switch", {"switch": trace}, ms, edges)


def analog_latency(presses: int = 30, seed: int = 4) -> dict:
    """Steps of 10 % of full scale on the squeeze pad, crossing the trigger at the step."""
    rng = random.Random(seed)
    ms = 2000 + presses * 600
    sig = mv.rest(ms, 2000.0)
    steps = [1500 + k * 600 + rng.randrange(0, 97) for k in range(presses)]
    for t in steps:
        for i in range(t, t + 250):
            sig[i] += 0.10 * 65535
    return _latency("analog", "squeeze-pad", {"pad": mv.adc_read_u16(sig, rng)}, ms, steps)


def idle_messages(seconds: int = 600, seed: int = 5) -> dict:
    """The combo instrument untouched: ADC noise with the E11 spikes, a ToF seeing nothing."""
    rng = random.Random(seed)
    n = seconds * 1000
    trace = {
        "switch": [0] * n,
        "pad": mv.adc_read_u16(mv.rest(n, 1536 * 16 + 40), rng),
        "hand": mv.quantise(mv.rest(n, 255.0), rng, noise=0.0, lo=0, hi=255),
    }
    events = _run("combo", trace, seconds)
    # the All Notes Off the firmware sends when the host opens the port is start-up, not the
    # sensors: it ends whatever an earlier boot left sounding
    startup = [
        e for e in events if e["type"] == "cc" and e.get("control") == 123 and e["t_ms"] < 1000
    ]
    idle = len(events) - len(startup)
    return {
        "idle_messages_10min": idle * 600 // seconds,
        "idle_seconds": seconds,
        "startup_all_notes_off": len(startup),
    }


_RP2040_GC_US = 23000  # a collection on the emulated Pico (docs/benchmarks.md, session 6-8)


def presses_in_collections(seconds: int = 300, seeds: tuple[int, ...] = (1, 2, 3)) -> dict:
    """How many switch presses a garbage collection held up by more than 5 ms.

    The combo instrument played on its own (no host asking anything), `seconds` per seed: the
    switch pressed for 80-400 ms every 0.4-1.9 s and the pad for 150-800 ms every 0.55-2.8 s,
    each at random. Collections cost what they take on an RP2040 (~23 ms, against the
    simulator's usual 2 ms). The loop collects just after a note begins or ends, when the next
    press is least likely (runtime.py), so few should wait."""
    presses = delayed = 0
    worst = 0.0
    for seed in seeds:
        rng = random.Random(seed)
        ms = seconds * 1000
        switch: list[tuple[int, int]] = []
        t = 1500
        while t < ms - 1000:
            hold = rng.randint(80, 400)
            switch.append((t, hold))
            t += hold + rng.randint(300, 1500)
        pad = mv.rest(ms, 1600.0)
        t = 1700
        while t < ms - 1000:
            hold = rng.randint(150, 800)
            for i in range(t, min(ms, t + hold)):
                pad[i] = 30000.0
            t += hold + rng.randint(400, 2000)
        trace = {"switch": mv.switch_presses(ms, switch), "pad": mv.adc_read_u16(pad, rng)}
        notes = _notes(_run("combo", trace, seconds, _RP2040_GC_US))
        for start, _ in switch:
            wait = min(n for n in notes if n >= start) - start
            presses += 1
            delayed += wait > 5
            worst = max(worst, wait)
    return {
        "gc_presses_delayed": delayed,
        "gc_presses": presses,
        "gc_press_wait_ms_max": round(worst, 3),
    }
