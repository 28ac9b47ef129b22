"""`attune doctor`, `attune maintenance` and `attune status` on a board that did not start: each
fault doctor diagnoses, injected into the simulated Pico (real firmware, over its pty), is named
with its cause and a fix in plain words; BOOTSEL drives are found in a fake mount folder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from host_fake import FakeAttune, attune, plug_in

from host_tools import doctor, errors
from host_tools.device import open_client
from host_tools.errors import AttuneError
from host_tools.firmware import BOARDS_DIR, REPO_DIR

needs_simulator = pytest.mark.skipif(
    sys.platform == "win32" or not (REPO_DIR / "simulator" / "cli.py").is_file(),
    reason="needs `attune sim --serial` and a pty",
)


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch, tmp_path):
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setenv("ATTUNE_MOUNT_ROOTS", str(tmp_path / "no-mounts"))


def doctor_json(capsys, *argv: str) -> tuple[int, dict]:
    code, out, _ = attune(capsys, "doctor", "--json", *argv)
    return code, json.loads(out)["devices"][0]


def causes(report: dict) -> dict[str, dict]:
    return {f["cause"]: f for f in report["findings"] if f["level"] == "problem"}


# -- against the simulated Pico, one fault at a time ------------------------------------------


@needs_simulator
def only_cause(capsys, fault: str, kind: str) -> dict:
    """Doctor on the combo simulator with one fault: it fails and finds `kind` alone.
    Usage: `cause = only_cause(capsys, "unplug:hand@0", "sensor_missing")`."""
    code, report = doctor_json(capsys, "--sim", "combo", "--fault", fault)
    found = causes(report)
    assert code == errors.FAILED and list(found) == [kind]
    return found[kind]


def test_a_healthy_instrument_is_playing_and_says_how_to_hear_it(capsys):
    code, out, _ = attune(capsys, "doctor", "--sim", "combo")
    assert code == 0
    assert "OK: Attune Combo on a Raspberry Pi Pico is playing" in out
    assert "choose 'Attune Combo' as the MIDI input" in out


@needs_simulator
def test_missing_sensor_names_the_bus_pins_and_the_wires_to_check(capsys):
    missing = only_cause(capsys, "unplug:hand@0", "sensor_missing")
    assert "'hand'" in missing["text"] and "0x29" in missing["text"]
    assert "SDA to GP4, SCL to GP5" in missing["fix"]


@needs_simulator
def test_wrong_address_names_the_address_that_answers(capsys):
    wrong = only_cause(capsys, "address:hand=0x30@0", "wrong_address")
    assert "answers at 0x30" in wrong["text"]
    assert '"address": 48' in wrong["fix"] and "combo.json" in wrong["fix"]


@needs_simulator
def test_stuck_bus_says_which_line_is_held_and_to_power_cycle(capsys):
    stuck = only_cause(capsys, "sda-short:0@0", "bus_stuck")
    assert "SDA is held low" in stuck["text"]
    assert "plug it back in" in stuck["fix"]


@needs_simulator
def test_missing_usb_device_midi_is_found_through_the_raw_repl(capsys):
    code, report = doctor_json(
        capsys, "--sim", "combo", "--fault", "missing-lib:usb-device-midi@0"
    )
    found = causes(report)
    assert report["state"] == "repl"  # Attune could not start: doctor read the board itself
    assert code == errors.FAILED and list(found) == ["usb_midi_missing"]
    fix = found["usb_midi_missing"]["fix"]
    assert "attune deploy --board pico --instrument combo" in fix
    assert "--fetch-deps" in fix and "--offline" in fix


@needs_simulator
def test_other_firmware_is_stopped_read_and_named(capsys, tmp_path):
    other = tmp_path / "blink"
    other.mkdir()
    (other / "main.py").write_text(
        "import time\nprint('Blink!')\nwhile True:\n    time.sleep(0.5)\n"
    )
    # (a longer wait: on a busy machine the simulated board's prompt came after the 4 s default,
    # and doctor then said no MicroPython answered at all)
    code, report = doctor_json(
        capsys, "--sim", "combo", "--sim-firmware", str(other), "--timeout", "10"
    )
    found = causes(report)
    assert code == errors.FAILED and list(found) == ["attune_missing"], report
    assert "Attune is not installed" in found["attune_missing"]["text"]
    assert "attune deploy --board pico --instrument" in found["attune_missing"]["fix"]


@needs_simulator
def test_other_firmware_is_stopped_with_sigint_ignored_as_in_a_background_script(tmp_path):
    # a script without job control starts its background commands with SIGINT ignored; the
    # simulated board's Ctrl-C (_thread.interrupt_main) did nothing then, so doctor, and this
    # suite run as `make test &` from a script, saw no prompt
    other = tmp_path / "blink"
    other.mkdir()
    (other / "main.py").write_text("import time\nwhile True:\n    time.sleep(0.5)\n")
    cmd = [sys.executable, "-m", "host_tools.cli", "doctor", "--json", "--sim", "combo"]
    cmd += ["--sim-firmware", str(other), "--timeout", "10"]
    env = dict(os.environ, ATTUNE_MOUNT_ROOTS=str(tmp_path / "no-mounts"))
    done = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        cwd=REPO_DIR,
        env=env,
        timeout=120,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    report = json.loads(done.stdout)["devices"][0]
    assert list(causes(report)) == ["attune_missing"], report


def _miswired(tmp_path: Path) -> Path:
    inst = json.loads((BOARDS_DIR / "instruments" / "combo.json").read_text())
    inst["name"] = "bent"
    inst["channels"][1]["pin"] = 5  # the pad on a pin without an ADC
    path = tmp_path / "bent.json"
    path.write_text(json.dumps(inst))
    return path


@needs_simulator
def test_a_wiring_mistake_at_start_up_names_the_pin(capsys, tmp_path):
    code, report = doctor_json(capsys, "--sim", str(_miswired(tmp_path)))
    found = causes(report)
    assert code == errors.FAILED and list(found) == ["wiring"]
    assert "GP5" in found["wiring"]["text"] and "GP26, GP27, GP28" in found["wiring"]["text"]
    assert "bent.json" in found["wiring"]["fix"]


@needs_simulator
def test_status_explains_a_wiring_mistake_instead_of_not_answering(capsys, tmp_path):
    proc, port, tmp = doctor.start_simulator(str(_miswired(tmp_path)), [])
    try:
        code, _, err = attune(capsys, "status", "--port", port, "--timeout", "1")
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    assert code == errors.NOT_ATTUNE
    assert "GP5, which is not an analog (ADC) pin" in err and "attune deploy" in err


# -- maintenance ------------------------------------------------------------------------------


def _hello_within(path: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            open_client(path, 1.0).port.close()
            return True
        except AttuneError:
            time.sleep(0.2)
    return False


@needs_simulator
def test_maintenance_then_leave_plays_again(capsys):
    proc, port, tmp = doctor.start_simulator("combo", [])
    try:
        code, out, _ = attune(capsys, "maintenance", "--port", port)
        assert code == 0 and "maintenance mode" in out and "--leave" in out
        time.sleep(1.5)  # the reply leaves, then the board restarts without its loop
        assert not _hello_within(port, 1.0)
        code, out, _ = attune(capsys, "maintenance", "--leave", "--port", port)
        assert code == 0 and "plays again" in out
        assert _hello_within(port, 8.0)
        code, out, _ = attune(capsys, "maintenance", "--leave", "--port", port)
        assert code == 0 and "already playing" in out
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def test_maintenance_asks_the_instrument(capsys, monkeypatch):
    pico = FakeAttune()
    plug_in(monkeypatch, {"/dev/ttyACM0": pico})
    code, out, _ = attune(capsys, "maintenance")
    assert code == 0 and pico.maintenance


# -- finding the board ------------------------------------------------------------------------


def test_a_pico_in_bootsel_mode_is_found_as_a_drive(capsys, monkeypatch, tmp_path):
    plug_in(monkeypatch, {})
    drive = tmp_path / "media" / "RP2350"
    drive.mkdir(parents=True)
    (drive / "INFO_UF2.TXT").write_text(
        "UF2 Bootloader v1.0\nModel: Raspberry Pi RP2350\nBoard-ID: RP2350\n"
    )
    monkeypatch.setenv("ATTUNE_MOUNT_ROOTS", str(tmp_path / "media"))
    code, out, _ = attune(capsys, "doctor")
    assert code == errors.FAILED
    assert "BOOTSEL mode" in out and "RPI_PICO2 (the ARM build" in out and "attune deploy" in out


def test_nothing_plugged_in_says_to_use_a_data_cable(capsys, monkeypatch):
    plug_in(monkeypatch, {})
    code, out, _ = attune(capsys, "doctor")
    assert code == errors.NO_DEVICE and "data USB cable" in out


def test_older_firmware_without_diagnose_still_gets_a_report(capsys, monkeypatch):
    import commands

    # firmware from before `diagnose`: the real console without that command
    monkeypatch.delitem(commands.HANDLERS, "diagnose")
    plug_in(monkeypatch, {"/dev/ttyACM0": FakeAttune()})
    code, report = doctor_json(capsys)
    assert report["state"] == "playing"
    assert "old_firmware" in [f["cause"] for f in report["findings"]]


def test_a_busy_port_says_to_close_the_other_program(capsys, monkeypatch):
    plug_in(monkeypatch, {"/dev/ttyACM0": FakeAttune()}, busy=("/dev/ttyACM0",))
    code, report = doctor_json(capsys)
    assert code == errors.FAILED and "port_busy" in causes(report)


def test_old_micropython_is_named(tmp_path):
    r = doctor.Report(
        "/dev/ttyACM0",
        "repl",
        {"micropython": "1.22.2", "attune": "", "machine": "Raspberry Pi Pico2 with RP2350"},
    )
    doctor.analyse(r)
    found = {f.cause: f for f in r.problems}
    assert "1.23 or later" in found["micropython_old"].text
    assert "--board pico2" in found["attune_missing"].fix


def test_wiring_table_lists_every_channel_and_its_pins():
    lines = doctor.wiring_table("combo", "pico")
    text = "\n".join(lines)
    assert "switch: switch -> GP15 and GND" in text
    assert "pad: fsr -> 3V3(OUT) -> FSR -> GP26 (ADC)" in text and "SDA GP4, SCL GP5" in text


# -- the device side: `diagnose` (firmware/diagnosis.py) --------------------------------------


def test_diagnose_reply_is_one_short_line_with_the_facts(tmp_path, monkeypatch):
    from console_kit import Kit

    monkeypatch.chdir(tmp_path)
    kit = Kit()
    kit.play(50)
    reply = kit.ask("diagnose")
    facts = json.loads(reply[3:])
    assert reply.startswith("OK ") and facts["board_file"] == "missing"
    assert [c[0] for c in facts["channels"]] == ["switch", "pad", "hand"]
    board = json.loads((BOARDS_DIR / "pico.json").read_text())
    inst = {
        "name": "two",
        "channels": [
            {"name": "switch", "sensor": "switch", "pin": 15},
            {"name": "pad", "sensor": "fsr", "pin": 26},
        ],
    }
    (tmp_path / "board.json").write_text(json.dumps({"board": board, "instrument": inst}))
    (tmp_path / "errors.log").write_text("--- play loop at 5 ms\n" + "x" * 5000 + "\nboom\n")
    reply = kit.ask("diagnose")
    facts = json.loads(reply[3:])
    assert facts["board_file"] == "" and facts["wiring"] == "" and facts["scan"] == []
    assert facts["crash_log"].endswith("boom\n") and len(reply) < 1000


def test_a_sensor_pinned_at_its_rail_points_at_its_wires_and_resistor():
    r = doctor.Report(
        "/dev/ttyACM0",
        "playing",
        {
            "micropython": "1.24.1",
            "attune": "0.1.0",
            "board": "pico",
            "instrument": "combo",
            "channels": [
                ["pad", "fsr", "reading stuck at the end of its range: check the wiring"],
                ["hand", "vl6180x", "sensor stopped measuring"],
            ],
            "scan": [],
        },
    )
    doctor.analyse(r)
    found = {f.cause: f for f in r.problems}
    assert set(found) == {"sensor_rail", "sensor_fault"}
    assert "resistor" in found["sensor_rail"].fix and "'hand'" in found["sensor_fault"].text
