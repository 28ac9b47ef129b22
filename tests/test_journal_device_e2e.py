"""A standalone session on the simulated Pico, over its pseudo-terminal (`attune sim --serial`,
real time): played with no host, saved at the pause after it, the power cut, and collected
by host_tools.devicejournal when a host connects after the next boot."""

from __future__ import annotations

import pytest
from test_host_e2e import after_next_boot, pytestmark  # noqa: F401  (the same skip rule)

from host_tools import devicejournal
from host_tools.doctor import serial_simulator
from host_tools.errors import AttuneError

PRESSES_MS = (600, 1100, 1600, 2100, 2600)
HOLD_MS = 200


def test_a_standalone_session_survives_the_power_cut_and_is_collected(tmp_path):
    movement = pytest.importorskip("simulator.movement")
    seconds = 30
    sig = movement.rest(seconds * 1000, 1600.0)
    for t in PRESSES_MS:
        movement.add_press(sig, t, 20000.0, rise_ms=40, hold_ms=HOLD_MS, fall_ms=40)
    movement.write_csv(str(tmp_path / "presses.csv"), {"pad": [int(v) for v in sig]})
    # the summary is written at the pause after the last press (~12.9 s); the power goes at 14 s
    args = ["--trace", str(tmp_path / "presses.csv"), "--fault", "power-cut@14"]
    try:
        proc, path = serial_simulator(tmp_path, args, seconds)
    except AttuneError:
        pytest.fail("`attune sim --serial` did not start:\n" + (tmp_path / "sim.log").read_text())
    try:
        client, status = after_next_boot(path, seconds=28.0)
        got = devicejournal.collect(client)
        assert got.problems == []
        assert [(s.seq, s.boot) for s in got.sessions] == [(1, 1)]
        (pad,) = got.sessions[0].sensors
        assert (pad.name, pad.unit, pad.count) == ("pad", "read_u16", len(PRESSES_MS))
        # the first press plays sooner in its rise than the rest (the trigger is learned from
        # it and sits higher after: docs/sensing.md "Auto-ranging"), so the first interval is
        # up to ~30 ms longer than the others, which are 500 to the ms
        assert 500 <= pad.ioi_mean_ms <= 508 and pad.ioi_sd_ms <= 13
        assert 150 <= pad.hold_ms_mean <= 300
        devicejournal.clear(client, 1)
        assert devicejournal.collect(client).sessions == []
        client.port.close()
    finally:
        proc.kill()
        proc.wait()
