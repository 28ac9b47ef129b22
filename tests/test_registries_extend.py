"""Both extension points at once: a copy of firmware/ gains a throw-away sensor type (a driver
file and one registry entry) and a throw-away play mode (one class appended to the mode
registry); an instrument using both plays in the simulator, and no other file knows of either."""

from test_sensor_registry import KnobChip, firmware_with_knob
from test_simulator_play_mode import OCTAVE_UP

from simulator import chips
from simulator.run import Simulation


def test_a_new_sensor_playing_a_new_mode_needs_only_the_two_registries(tmp_path, monkeypatch):
    fw = firmware_with_knob(tmp_path)
    modes = fw / "engine" / "modes.py"
    modes.write_text(modes.read_text(encoding="utf-8") + OCTAVE_UP, encoding="utf-8")
    monkeypatch.setitem(chips.SIMULATED, "knob", chips.Simulated(0, 80, KnobChip, "set_turn"))
    instrument = {
        "name": "knob",
        "title": "Knob",
        "description": "a test",
        "profile": {"knob.mode": "octave_up", "scale": "major", "root": "C", "octave": "4"},
        "channels": [{"name": "knob", "sensor": "knob", "bus": 0, "sda": 4, "scl": 5}],
    }
    turn = [0] * 1500 + [80] * 600 + [0] * 900 + [80] * 600 + [0] * 900
    with Simulation(instrument, tmp_path / "flash", trace={"knob": turn}, firmware_dir=fw) as sim:
        assert sim.world.warnings == []
        events = sim.run()
    assert sim.crashes == [] and sim.resets == []
    notes = [(e["type"], e["note"]) for e in events if e["type"] in ("note_on", "note_off")]
    assert notes == [("note_on", 72), ("note_off", 72)] * 2  # C5: the new mode, on the new sensor
