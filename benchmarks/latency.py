"""Latency and idle figures from the simulator running the unmodified firmware (virtual time).

switch_latency_ms: a switch edge to its USB-MIDI packet reaching the host.
analog_latency_ms: a pressure step crossing the trigger point to its note-on reaching the host.
idle_messages_10min: MIDI messages from untouched, noisy sensors in 10 simulated minutes.
"""

from __future__ import annotations

import random
import statistics
import tempfile

from simulator import movement as mv
from simulator.run import Simulation


def _notes(events: list) -> list[float]:
    return [e["t_ms"] for e in events if e["type"] == "note_on"]


def _run(instrument: str, trace: dict, seconds: float) -> list:
    with open("/dev/null", "w") as quiet, tempfile.TemporaryDirectory() as flash:
        sim = Simulation(instrument, flash, trace=trace, duration_s=seconds, console=quiet)
        with sim:
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
