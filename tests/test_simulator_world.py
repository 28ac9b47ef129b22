"""Traces and faults: CSV parsing (values hold until the next row), wiring, fault specs."""

import pytest

from simulator.clock import Clock
from simulator.world import (
    FloodSerial,
    PowerCut,
    StickADC,
    StuckBus,
    Unplug,
    World,
    load_csv,
    parse_fault,
    write_csv,
)


def _load(tmp_path, text):
    """load_csv of a file holding this text."""
    path = tmp_path / "t.csv"
    path.write_text(text)
    return load_csv(path)


def test_csv_values_hold_until_the_next_row(tmp_path):
    trace = _load(tmp_path, "time_ms,button,pad\n0,0,1000\n3,1,\n5,0,2000.4\n")
    assert trace["button"] == [0, 0, 0, 1, 1, 0]
    assert trace["pad"] == [1000, 1000, 1000, 1000, 1000, 2000]


def test_csv_rows_may_start_late_and_times_may_be_fractional(tmp_path):
    assert _load(tmp_path, "time_ms,pad\n2.0,7\n3.6,9\n")["pad"] == [7, 7, 7, 7, 9]


@pytest.mark.parametrize(
    "text, reason",
    [
        ("ms,pad\n0,1\n", "first column must be 'time_ms'"),
        ("time_ms,pad\n5,1\n2,1\n", "goes back from 5 to 2"),
        ("time_ms,pad\n0,soft\n", "'soft' in column 'pad' is not a number"),
        ("time_ms,pad\n", "no rows"),
    ],
)
def test_a_bad_csv_is_refused_in_plain_words(tmp_path, text, reason):
    with pytest.raises(ValueError, match=reason):
        _load(tmp_path, text)


def test_write_csv_then_load_csv_gives_the_same_trace(tmp_path):
    cols = {"a": [0, 0, 1, 1, 0], "b": [5, 6, 6, 6, 7]}
    write_csv(tmp_path / "r.csv", cols)
    assert load_csv(tmp_path / "r.csv") == cols


def test_the_world_maps_channels_to_pins_adc_channels_and_buses():
    inst = {
        "channels": [
            {"name": "sw", "sensor": "switch", "pin": 15, "pull": "up"},
            {"name": "foot", "sensor": "switch", "pin": "GP14", "pull": "down"},
            {"name": "pad", "sensor": "fsr", "pin": 27},
            {"name": "hand", "sensor": "vl6180x", "sda": 6, "scl": 7},
            {"name": "breath", "sensor": "lps22", "bus": 0, "sda": 4, "scl": 5},
        ]
    }
    world = World(Clock(), inst)
    assert world.pins[15][1] == 0 and world.pins[14][1] == 1  # pressed levels
    assert world.adcs[1].name == "pad"
    assert list(world.buses[1]) == [0x29] and list(world.buses[0]) == [0x5D]
    with pytest.raises(ValueError, match="not channels of this instrument"):
        world.load_trace({"elbow": [1, 2]})


def test_held_and_live_inputs_override_the_trace():
    world = World(Clock(), {"channels": [{"name": "pad", "sensor": "fsr", "pin": 26}]})
    pad = world.inputs["pad"]
    world.load_trace({"pad": [1, 2, 3]})
    pad.hold(65535)
    assert pad.at(1) == 65535
    pad.release()
    assert (pad.at(1), pad.at(50)) == (2, 3)
    world.make_live()
    world.set_level("pad", 1.0)
    assert pad.at(0) == pad.full


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("unplug:hand@2-3.5", Unplug(channel="hand", at_s=2.0, until_s=3.5)),
        ("stick:pad=low@1", StickADC(channel="pad", value="low", at_s=1.0)),
        ("stick:pad=123@1-2", StickADC(channel="pad", value=123, at_s=1.0, until_s=2.0)),
        ("stuck-bus:1@2", StuckBus(bus=1, at_s=2.0)),
        ("sda-short:0@2-3", StuckBus(bus=0, at_s=2.0, until_s=3.0, recoverable=False)),
        ("power-cut@4-4.25", PowerCut(at_s=4.0, off_s=0.25)),
        ("flood:500@1", FloodSerial(at_s=1.0, nbytes=500)),
    ],
)
def test_fault_specs_from_the_command_line(spec, expected):
    assert parse_fault(spec) == expected


def test_an_unknown_fault_is_refused():
    with pytest.raises(ValueError, match="Unknown fault 'melt'"):
        parse_fault("melt@1")
