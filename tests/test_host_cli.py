"""`attune` commands end to end against fake instruments plugged into a fake USB bus: output,
--json, and the plain-language errors with their exit statuses."""

from __future__ import annotations

import json

import pytest
from host_fake import PRESS_VELOCITY, FakeAttune, attune, plug_in, profile_doc
from rich.console import Console

from host_tools import cli, errors


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps tables to the terminal's width


@pytest.fixture
def combo(monkeypatch):
    dev = FakeAttune()
    plug_in(monkeypatch, {"/dev/ttyACM0": dev})
    return dev


def run_json(capsys, *argv):
    code, out, err = attune(capsys, *argv, "--json")
    return code, json.loads(out), err


# -- happy paths ------------------------------------------------------------------------------


def test_help_lists_every_exit_status(capsys):
    code, out, _ = attune(capsys, "--help")
    assert code == 0
    for number, _meaning in errors.EXIT_CODES:
        assert f"  {number} " in out
    for command in ("ports", "status", "params", "monitor", "calibrate", "profile", "deploy"):
        assert command in out


def test_ports_names_the_attune_instruments(monkeypatch, capsys):
    plug_in(
        monkeypatch,
        {
            "/dev/ttyACM0": FakeAttune(),
            "/dev/ttyACM1": FakeAttune("squeeze-pad", "Squeeze pad", ("pad",)),
            "/dev/ttyACM2": FakeAttune(mode="repl"),
        },
    )
    code, out, _ = attune(capsys, "ports", "--timeout", "0.2")
    assert code == 0
    assert "Combo (combo)" in out and "Squeeze pad (squeeze-pad)" in out
    assert "not answering as Attune" in out
    code, ports, _ = run_json(capsys, "ports", "--timeout", "0.2")
    assert [p["attune"] for p in ports] == [True, True, False]
    assert ports[1]["instrument"] == "squeeze-pad" and ports[1]["port"] == "/dev/ttyACM1"


def test_status(combo, capsys):
    combo.faults["hand"] = "not answering (I2C error)"
    code, out, _ = attune(capsys, "status")
    assert code == 0
    assert "Combo" in out and "firmware 0.1.0" in out and "/dev/ttyACM0" in out
    assert "not answering (I2C error)" in out and "defaults" in out
    code, status, _ = run_json(capsys, "status")
    assert status["device"]["instrument"] == "combo" and status["tick_hz"] == 1000


def test_params_json_lists_every_key_per_sensor_with_its_value(combo, capsys):
    code, rows, _ = run_json(capsys, "params")
    assert code == 0
    keys = [r["key"] for r in rows]
    for sensor in ("switch", "pad", "hand"):
        assert sensor + ".sensitivity" in keys and sensor + ".melody" in keys
    assert "scale" in keys and len(keys) == len(set(keys))
    pad = next(r for r in rows if r["key"] == "pad.sensitivity")
    assert (pad["sensor"], pad["value"], pad["min"], pad["max"]) == ("pad", "75", 1, 100)


def test_params_table_for_people(combo, capsys):
    code, out, _ = attune(capsys, "params")
    assert code == 0 and "switch.sensitivity" in out and "Whole instrument" in out


def test_get_one_key_and_a_whole_sensor(combo, capsys):
    assert attune(capsys, "get", "pad.mode")[1].strip() == "pad.mode = note"
    code, out, _ = attune(capsys, "get", "pad")
    assert "pad.sensitivity" in out and "pad.melody" in out
    code, reply, _ = run_json(capsys, "get", "global")
    assert reply["values"]["scale"] == "major_pentatonic"


def test_set_changes_the_instrument(combo, capsys):
    code, out, _ = attune(capsys, "set", "pad.sensitivity", "80")
    assert code == 0 and "pad.sensitivity is now 80" in out
    assert combo.settings.get("pad.sensitivity")[0] == "80"
    code, reply, _ = run_json(capsys, "set", "pad.melody", "C4", "E4", "G4")
    assert reply == {"key": "pad.melody", "value": "C4 E4 G4"}


def test_reset_asks_first(combo, capsys, monkeypatch):
    combo.settings.set("octave", 6)
    monkeypatch.setattr(Console, "input", lambda self, prompt="": "n")
    assert attune(capsys, "reset")[0] == 0
    assert combo.settings.get("octave")[0] == "6"
    assert attune(capsys, "reset", "--yes")[0] == 0
    assert combo.settings.get("octave")[0] == "4"


def test_panic(combo, capsys):
    code, out, _ = attune(capsys, "panic")
    assert code == 0 and "All notes are off" in out and combo.panicked == 1
    assert run_json(capsys, "panic")[1] == {"panic": True}


def test_monitor_json_streams_parsed_lines_then_turns_monitor_off(combo, capsys):
    code, out, _ = attune(capsys, "monitor", "--json", "--seconds", "0.4", "--rate", "10")
    assert code == 0
    lines = [json.loads(x) for x in out.splitlines()]
    kinds = {x["kind"] for x in lines}
    assert {"levels", "monitor", "event", "fault"} <= kinds
    first = lines[0]  # a meter frame: every sensor's level and press
    assert first["kind"] == "levels" and first["sensors"][0]["sensor"] == "switch"
    assert isinstance(first["sensors"][0]["level"], int)
    assert combo.requests[-2:] == ["monitor 10", "monitor off"]
    assert combo.monitor_rate == 0


def test_monitor_meter_shows_levels_notes_and_faults(combo, capsys):
    code, out, _ = attune(capsys, "monitor", "--seconds", "0.4")
    assert code == 0
    assert "pad" in out and "FAULT: not answering (I2C error)" in out
    assert f"note on C4 (60) velocity {PRESS_VELOCITY}" in out
    assert combo.requests[-1] == "monitor off"


def test_calibrate_with_yes_applies_and_saves(combo, capsys):
    code, out, _ = attune(capsys, "calibrate", "pad", "--yes", "--save", "anna")
    assert code == 0
    assert "Keep still" in out and "move as far" in out and "Applied" in out
    assert combo.settings.get("pad.range")[0] == "58"
    assert combo.profiles["anna"]["pad.sensitivity"] == "82"


def test_calibrate_declined_changes_nothing(combo, capsys, monkeypatch):
    monkeypatch.setattr(Console, "input", lambda self, prompt="": "n")
    code, out, _ = attune(capsys, "calibrate", "pad")
    assert code == 0 and "Nothing was changed" in out
    assert combo.requests[-1] == "calibrate cancel"
    assert combo.settings.get("pad.range")[0] == "100"


def test_calibrate_asks_then_offers_to_save(combo, capsys, monkeypatch):
    combo.active = "ben"
    answers = iter(["y", "yes"])
    monkeypatch.setattr(Console, "input", lambda self, prompt="": next(answers))
    code, out, _ = attune(capsys, "calibrate", "pad")
    assert code == 0 and "Saved in profile 'ben'" in out
    assert combo.profiles["ben"]["pad.range"] == "58"


def test_calibrate_json(combo, capsys):
    code, out, _ = attune(capsys, "calibrate", "pad", "--yes", "--json")
    events = [json.loads(x) for x in out.splitlines()]
    assert [e.get("phase", e["kind"]) for e in events] == ["rest", "move", "result", "applied"]


def test_profile_commands(combo, capsys, tmp_path):
    assert "No profiles saved yet" in attune(capsys, "profile", "list")[1]
    assert "Saved as 'anna'" in attune(capsys, "profile", "save", "anna")[1]
    attune(capsys, "set", "octave", "6")
    assert attune(capsys, "profile", "save")[0] == 0  # the one in use
    assert combo.profiles["anna"]["octave"] == "6"
    assert run_json(capsys, "profile", "list")[1] == {"active": "anna", "profiles": ["anna"]}
    assert "octave" in attune(capsys, "profile", "show", "anna")[1]
    assert attune(capsys, "profile", "rename", "anna", "anna_b")[0] == 0
    assert attune(capsys, "profile", "load", "anna_b")[1].startswith("Loaded 'anna_b'")
    path = tmp_path / "anna.json"
    code, out, _ = attune(capsys, "profile", "export", "anna_b", str(path))
    assert code == 0 and json.loads(path.read_text())["values"]["octave"] == "6"
    assert attune(capsys, "profile", "delete", "anna_b", "--yes")[0] == 0
    assert combo.profiles == {}
    code, out, _ = attune(capsys, "profile", "import", str(path), "carla")
    assert code == 0 and "saved them as 'carla'" in out
    assert combo.profiles["carla"]["octave"] == "6"


def test_profile_import_reports_refused_keys(combo, capsys, tmp_path):
    path = tmp_path / "from-harp.json"
    path.write_text(
        profile_doc(
            {"pad.sensitivity": "95", "wings.mode": "note", "pad.zones": "99"}, name="dana"
        )
    )
    code, out, _ = attune(capsys, "profile", "import", str(path))
    assert code == errors.REFUSED
    assert "2 settings were refused" in out
    assert "wings.mode: There is no sensor called 'wings'." in out
    assert "pad.zones: zones must be a whole number from 2 to 16; 99 is out of range." in out
    assert combo.profiles["dana"]["pad.sensitivity"] == "95"
    code, result, _ = run_json(capsys, "profile", "import", str(path), "dana2")
    assert code == errors.REFUSED and len(result["refused"]) == 2 and result["saved"]


def test_profile_import_of_a_broken_file(combo, capsys, tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{oops")
    code, _, err = attune(capsys, "profile", "import", str(path))
    assert code == errors.BAD_FILE and "not a valid JSON file" in err


# -- choosing the instrument ------------------------------------------------------------------


def test_device_name_picks_one_of_several(monkeypatch, capsys):
    pad = FakeAttune("squeeze-pad", "Squeeze pad", ("pad",))
    plug_in(monkeypatch, {"/dev/ttyACM0": FakeAttune(), "/dev/ttyACM1": pad})
    code, out, _ = attune(capsys, "set", "pad.range", "50", "--device", "Squeeze pad")
    assert code == 0 and pad.settings.get("pad.range")[0] == "50"


def test_port_picks_one_of_several(monkeypatch, capsys):
    pad = FakeAttune("squeeze-pad", "Squeeze pad", ("pad",))
    plug_in(monkeypatch, {"/dev/ttyACM0": FakeAttune(), "/dev/ttyACM1": pad})
    assert attune(capsys, "panic", "--port", "/dev/ttyACM1")[0] == 0
    assert pad.panicked == 1


# -- errors -----------------------------------------------------------------------------------


def test_no_device(monkeypatch, capsys):
    plug_in(monkeypatch, {})
    code, _, err = attune(capsys, "status")
    assert code == errors.NO_DEVICE and "No Attune instrument found" in err


def test_several_devices_are_listed_with_advice(monkeypatch, capsys):
    plug_in(
        monkeypatch,
        {
            "/dev/ttyACM0": FakeAttune(),
            "/dev/ttyACM1": FakeAttune("squeeze-pad", "Squeeze pad", ("pad",)),
        },
    )
    code, _, err = attune(capsys, "status", "--timeout", "0.3")
    assert code == errors.SEVERAL_DEVICES
    assert "/dev/ttyACM0: Combo" in err and "/dev/ttyACM1: Squeeze pad" in err
    assert "--port" in err


def test_no_device_with_that_name(combo, capsys):
    code, _, err = attune(capsys, "status", "--device", "air-harp", "--timeout", "0.3")
    assert code == errors.NO_DEVICE and "No instrument called 'air-harp'" in err


def test_missing_port_path(combo, capsys):
    code, _, err = attune(capsys, "status", "--port", "/dev/ttyNOPE")
    assert code == errors.NO_DEVICE and "no port called /dev/ttyNOPE" in err


def test_port_busy(monkeypatch, capsys):
    plug_in(monkeypatch, {"/dev/ttyACM0": FakeAttune()}, busy=("/dev/ttyACM0",))
    code, _, err = attune(capsys, "status")
    assert code == errors.PORT_BUSY and "in use" in err


def test_not_attune(monkeypatch, capsys):
    plug_in(monkeypatch, {"/dev/ttyACM0": FakeAttune(mode="repl")})
    code, _, err = attune(capsys, "status", "--timeout", "0.3")
    assert code == errors.NOT_ATTUNE and "did not answer like an Attune instrument" in err


def test_timeout(monkeypatch, capsys):
    plug_in(monkeypatch, {"/dev/ttyACM0": FakeAttune(mode="mute")})
    code, _, err = attune(capsys, "status", "--timeout", "0.3")
    assert code == errors.TIMEOUT and "did not answer 'status' in time" in err


def test_refused_value_shows_the_reason_verbatim(combo, capsys):
    code, out, err = attune(capsys, "set", "pad.sensitivity", "500")
    assert code == errors.REFUSED
    assert "sensitivity must be a whole number from 1 to 100; 500 is out of range." in err
    assert out == ""


def test_refused_key_in_json(combo, capsys):
    code, reply, err = run_json(capsys, "get", "pad.loudness")
    assert code == errors.REFUSED
    assert reply["error"] == "refused" and reply["code"] == "key" and reply["exit"] == 8
    assert reply["message"] == "'loudness' is not a sensor setting."


def test_errors_in_json_mode_parse(monkeypatch, capsys):
    plug_in(monkeypatch, {})
    code, reply, _ = run_json(capsys, "params")
    assert code == errors.NO_DEVICE and reply["error"] == "no_device"


def test_mistyped_command_is_a_usage_error(capsys):
    assert attune(capsys, "sett", "x")[0] == errors.USAGE


def test_bench_without_benchmarks_says_so(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "REPO_DIR", tmp_path)
    code, _, err = attune(capsys, "bench")
    assert code == errors.FAILED and "benchmarks are not in this checkout" in err


def test_sim_is_skipped_cleanly_when_absent(capsys, monkeypatch):
    monkeypatch.setattr(cli, "_has_simulator", lambda: False)
    code, out, _ = attune(capsys, "--help")
    assert " sim " not in out
    code, _, err = attune(capsys, "sim", "--demo")
    assert code == errors.FAILED and "simulator is not in this checkout" in err


def test_sim_is_handed_to_the_simulator_when_present(capsys):
    if not cli._has_simulator():
        pytest.skip("simulator/cli.py is not in this checkout")
    code, out, _ = attune(capsys, "sim", "--help")
    assert code == 0 and "--serial" in out
