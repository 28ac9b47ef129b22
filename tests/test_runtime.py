"""The play loop on the simulator: Ctrl-C hands over to the REPL without a watchdog reset."""

from simulator.run import Simulation
from simulator.world import SerialInput


def test_ctrl_c_stops_play_with_all_notes_off_and_the_watchdog_leaves_the_repl_alone(tmp_path):
    trace = {"switch": [0] * 1500 + [1] * 6000}
    with Simulation(
        "big-switch",
        tmp_path / "flash",
        trace=trace,
        duration_s=7.0,
        strict=False,
        faults=[SerialInput(at_s=2.0, data=b"\x03")],
    ) as sim:
        events = sim.run()
    notes = [e["type"] for e in events if e["type"].startswith("note")]
    assert notes == ["note_on", "note_off"]  # pressed at 1.5 s, ended by Ctrl-C at 2 s
    assert b"All notes off" in sim.serial_log
    assert sim.resets == []  # 5 s at the REPL, well past the 2 s watchdog timeout


def test_maintenance_over_serial_restarts_into_maintenance_mode_once(tmp_path):
    # one flag (system.MAINTENANCE_FLAG): the console writes it, the next boot reads and removes it
    with Simulation(
        "big-switch",
        tmp_path / "flash",
        trace={"switch": [0] * 4000},
        duration_s=4.0,
        strict=False,
        faults=[SerialInput(at_s=1.5, data=b"maintenance\n")],
    ) as sim:
        sim.run()
    assert b'OK {"maintenance": true}' in sim.serial_log
    assert len(sim.resets) == 1
    assert b"maintenance mode" in sim.serial_log
    assert not (tmp_path / "flash" / "maintenance").exists()  # one-shot
