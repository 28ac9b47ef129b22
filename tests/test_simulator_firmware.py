"""End to end: the real firmware (firmware/main.py, unmodified) on the simulator, playing the
squeeze-pad instrument from generated movement traces."""

import random
from pathlib import Path

import pytest

from simulator import movement as mv
from simulator.run import FIRMWARE_DIR, Simulation

pytestmark = pytest.mark.skipif(
    not (FIRMWARE_DIR / "runtime.py").is_file(),
    reason="needs the firmware's play loop (firmware/runtime.py)",
)

PRESSES_MS = (2000, 4500, 7000, 9500)
HOLD_MS = 300


def pad_trace(presses: bool, seconds: int = 12) -> dict[str, list[int]]:
    """A resting pad with slow drift, a 5 Hz tremor throughout and ADC noise; optionally four
    small presses (about an eighth of the sensor's span)."""
    sig = mv.rest(seconds * 1000, 2000.0)
    if presses:
        for t in PRESSES_MS:
            mv.add_press(sig, t, 8000.0, rise_ms=60, hold_ms=HOLD_MS, fall_ms=80)
    mv.add_tremor(sig, 1000, 10_000, 5.0, 800.0, random.Random(2))
    mv.add_drift(sig, 300.0)
    return {"pad": mv.adc_read_u16(sig, random.Random(1))}


def play(tmp_path: Path, trace: dict[str, list[int]]) -> list[dict]:
    with Simulation("squeeze-pad", tmp_path / "flash", trace=trace) as sim:
        events = sim.run()
    assert sim.crashes == [] and sim.resets == []
    assert not (tmp_path / "flash" / "errors.log").exists()
    return events


def test_small_presses_play_on_time_and_every_note_ends(tmp_path):
    events = play(tmp_path, pad_trace(presses=True))
    starts = sorted({e["t_ms"] for e in events if e["type"] == "note_on"})
    assert len(starts) == len(PRESSES_MS)
    for start, press in zip(starts, PRESSES_MS, strict=True):
        assert press < start <= press + 40  # heard within 40 ms of the movement starting
    sounding = set()
    for e in events:
        key = (e["channel"], e.get("note"))
        if e["type"] == "note_on":
            sounding.add(key)
        elif e["type"] == "note_off":
            assert key in sounding
            sounding.discard(key)
            assert any(p + HOLD_MS < e["t_ms"] < p + HOLD_MS + 250 for p in PRESSES_MS)
    assert not sounding


def test_the_same_trace_with_only_noise_and_tremor_plays_nothing(tmp_path):
    events = play(tmp_path, pad_trace(presses=False))
    # only start-up's All Notes Off on every channel (it ends what an earlier boot left)
    assert [e for e in events if (e["type"], e.get("control")) != ("cc", 123)] == []


def test_a_profile_given_to_the_simulation_is_the_one_the_firmware_plays(tmp_path):
    from simulator.world import SerialInput

    profile = {"name": "anna", "values": {"pad.sensitivity": 85}}
    asks = [SerialInput(at_s=0.5, data=b"get pad.sensitivity\nprofile list\n")]
    with Simulation(
        "squeeze-pad", tmp_path / "flash", duration_s=1.0, profile=profile, faults=asks
    ) as sim:
        sim.run()
    assert b'"value":"85"' in sim.serial_log and b'"active":"anna"' in sim.serial_log
