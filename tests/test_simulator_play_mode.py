"""A play mode added through the registry alone: a copy of firmware/ whose engine/modes.py gains
one class, appended to MODES, plays it on the simulator; no other file knows about it."""

import random
import shutil
from pathlib import Path

from simulator import movement as mv
from simulator.run import FIRMWARE_DIR, Simulation
from simulator.world import SerialInput

# a throw-away mode: each press plays the note an octave above the chosen degree
OCTAVE_UP = """

class OctaveUpMode(NoteMode):
    name = "octave_up"
    help = "the note an octave higher"

    def press(self, strength):
        m = self.m
        vel = m.velocity(strength)
        m.off()
        m.on(m.note(0) + 12, vel)


MODES = MODES + (OctaveUpMode,)
"""


def firmware_with_octave_up(tmp_path: Path) -> Path:
    fw = tmp_path / "firmware"
    shutil.copytree(FIRMWARE_DIR, fw, ignore=shutil.ignore_patterns("__pycache__"))
    modes = fw / "engine" / "modes.py"
    modes.write_text(modes.read_text(encoding="utf-8") + OCTAVE_UP, encoding="utf-8")
    return fw


def test_a_mode_appended_to_the_registry_plays_on_the_simulated_pico(tmp_path):
    sig = mv.rest(4000, 2000.0)
    for t in (1500, 2800):
        mv.add_press(sig, t, 8000.0, rise_ms=60, hold_ms=300, fall_ms=80)
    trace = {"pad": mv.adc_read_u16(sig, random.Random(1))}
    ask = [SerialInput(at_s=0.5, data=b"get pad.mode\nparams 8\n")]
    with Simulation(
        "squeeze-pad",
        tmp_path / "flash",
        trace=trace,
        faults=ask,
        firmware_dir=firmware_with_octave_up(tmp_path),
        profile={"pad.mode": "octave_up", "scale": "major", "root": "C", "octave": "4"},
    ) as sim:
        events = sim.run()
    assert sim.crashes == [] and sim.resets == []
    notes = [(e["type"], e["note"]) for e in events if e["type"] in ("note_on", "note_off")]
    assert notes == [("note_on", 72), ("note_off", 72)] * 2  # C5, not the degree's C4
    # the settings took its name and help from the class
    assert b'"value":"octave_up"' in sim.serial_log
    assert b"octave_up (the note an octave higher)" in sim.serial_log
