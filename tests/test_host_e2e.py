"""`attune` against the real firmware running in the simulator, over its pseudo-terminal: the same
bytes a Pico's USB serial port carries. Each test starts its own simulated Pico (real time).

The simulator runs as `attune sim --serial` in a child process, exactly as a developer starts it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from host_tools import cli, errors
from host_tools.client import Client, parse_async
from host_tools.device import open_client
from host_tools.doctor import serial_simulator
from host_tools.errors import AttuneError
from host_tools.firmware import REPO_DIR

pytestmark = pytest.mark.skipif(
    sys.platform == "win32"
    or not (REPO_DIR / "simulator" / "cli.py").is_file()
    or not (REPO_DIR / "firmware" / "console.py").is_file(),
    reason="needs `attune sim --serial` (simulator/cli.py), the firmware console and a pty",
)


def start_pico(
    tmp: Path,
    seconds: int = 30,
    press_every_ms: int = 0,
    amplitude: float = 0.0,
    power_cut_at_s: float | None = None,
) -> tuple[subprocess.Popen, str]:
    """`attune sim --serial` in a child process: a simulated combo on a pseudo-terminal.
    Its flash folder is tmp/flash, kept across runs; returns (process, serial port path)."""
    args: list[str] = []
    if press_every_ms:
        movement = pytest.importorskip("simulator.movement")
        sig = movement.rest(seconds * 1000, 1600.0)
        for t in range(1000, seconds * 1000 - 500, press_every_ms):
            movement.add_press(sig, t, amplitude, rise_ms=40, hold_ms=200, fall_ms=40)
        movement.write_csv(str(tmp / "presses.csv"), {"pad": [int(v) for v in sig]})
        args += ["--trace", str(tmp / "presses.csv")]
    if power_cut_at_s is not None:
        args += ["--fault", f"power-cut@{power_cut_at_s:g}"]
    try:
        return serial_simulator(tmp, args, seconds)
    except AttuneError:
        pytest.fail("`attune sim --serial` did not start:\n" + (tmp / "sim.log").read_text())


def wait_for_attune(path: str, seconds: float = 10.0) -> Client:
    """A client once the firmware answers `hello` (it boots in a moment of real time)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return open_client(path, 1.0)
        except AttuneError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def pico(tmp_path) -> Iterator[str]:
    proc, path = start_pico(tmp_path)
    try:
        wait_for_attune(path).port.close()
        yield path
    finally:
        proc.kill()
        proc.wait()


def attune(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_commands_against_the_simulated_pico(pico, capsys, tmp_path):
    code, out, _ = attune(capsys, "status", "--port", pico, "--json")
    status = json.loads(out)
    assert code == 0 and status["device"]["instrument"] == "combo"
    assert [c["name"] for c in status["channels"]] == ["switch", "pad", "hand"]

    code, out, _ = attune(capsys, "params", "--port", pico, "--json")
    keys = {p["key"] for p in json.loads(out)}
    assert {"scale", "pad.sensitivity", "hand.range", "switch.debounce"} <= keys

    assert attune(capsys, "set", "pad.sensitivity", "85", "--port", pico)[0] == 0
    assert attune(capsys, "get", "pad.sensitivity", "--port", pico)[1].strip() == (
        "pad.sensitivity = 85"
    )
    code, _, err = attune(capsys, "set", "pad.sensitivity", "500", "--port", pico)
    assert code == errors.REFUSED and "500 is out of range" in err

    assert attune(capsys, "profile", "save", "anna", "--port", pico)[0] == 0
    export = tmp_path / "anna.json"
    assert attune(capsys, "profile", "export", "anna", str(export), "--port", pico)[0] == 0
    doc = json.loads(export.read_text())
    doc["values"]["wings.mode"] = "note"
    export.write_text(json.dumps(doc))
    code, out, _ = attune(capsys, "profile", "import", str(export), "ben", "--port", pico)
    assert code == errors.REFUSED and "wings.mode" in out
    code, out, _ = attune(capsys, "profile", "list", "--port", pico, "--json")
    assert set(json.loads(out)["profiles"]) >= {"anna", "ben"}

    code, out, _ = attune(capsys, "monitor", "--port", pico, "--json", "--seconds", "0.6")
    lines = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and any(x["kind"] == "monitor" and x["sensor"] == "pad" for x in lines)
    assert attune(capsys, "panic", "--port", pico)[0] == 0


def light_presses_at(tmp_path: Path, first: int, then: int) -> tuple[dict, dict]:
    """Presses of about a tenth of the pad's span, played at sensitivity `first`, then `then`:
    what the monitor saw in each half (presses, note-ons)."""
    proc, path = start_pico(tmp_path, press_every_ms=400, amplitude=6000)
    try:
        client = wait_for_attune(path)
        client.set("pad.sensitivity", first)
        client.monitor(20)
        before = watch_pad(client, 2.0)
        client.set("pad.sensitivity", then)
        after = watch_pad(client, 2.0)
        client.monitor_off()
        client.port.close()
        return before, after
    finally:
        proc.kill()
        proc.wait()


def watch_pad(client: Client, seconds: float) -> dict:
    end = time.monotonic() + seconds
    seen = {"pressed": 0, "note_on": 0}
    while time.monotonic() < end:
        line = client.read_async(0.1)
        if line is None:
            continue
        msg = parse_async(line)
        if msg["kind"] == "levels":  # a meter frame: every sensor's level and press
            if any(s["sensor"] == "pad" and s["pressed"] for s in msg["sensors"]):
                seen["pressed"] += 1
        elif msg.get("sensor") == "pad" and msg["kind"] == "event":
            seen["note_on"] += msg.get("type") == "note_on"
    return seen


def test_a_sensitivity_change_is_heard_while_playing(tmp_path):
    # too light at sensitivity 1 (a note needs half the range), easily enough at 100
    before, after = light_presses_at(tmp_path, 1, 100)
    assert before == {"pressed": 0, "note_on": 0}
    assert after["pressed"] >= 4
    assert after["note_on"] >= 2


def test_a_saved_profile_survives_a_power_cut(tmp_path):
    cut_s = 8
    proc, path = start_pico(tmp_path, power_cut_at_s=cut_s)
    try:
        client = wait_for_attune(path)
        client.set("pad.sensitivity", 91)
        client.set("scale", "blues")
        client.profile_save("anna")
        saved = client.profile_show("anna")["values"]
        saved_at_s = client.status()["uptime_s"]
        assert saved_at_s < cut_s, "the machine was too slow: the save came after the power cut"
        client.port.close()
        # the board may already have booted again when we first look: count from the save
        client, status = after_next_boot(path, since_uptime_s=saved_at_s)
        assert status["profile"] == "anna" and status["config"] == "saved"
        assert client.get("pad.sensitivity") == "91" and client.get("scale") == "blues"
        assert client.profile_show("anna")["values"] == saved
        client.port.close()
    finally:
        proc.kill()
        proc.wait()


def after_next_boot(
    path: str, since_uptime_s: int = -1, seconds: float = 20.0
) -> tuple[Client, dict]:
    """A client and its status once the board has booted again: its uptime went below one seen
    before (`since_uptime_s`, or any later reading)."""
    deadline = time.monotonic() + seconds
    last = since_uptime_s
    while time.monotonic() < deadline:
        try:
            client = open_client(path, 1.0)
            status = client.status()
        except AttuneError:  # the power is off, or the board is still booting
            time.sleep(0.2)
            continue
        if 0 <= status["uptime_s"] < last:
            return client, status
        last = status["uptime_s"]
        client.port.close()
        time.sleep(0.3)
    pytest.fail("the simulated Pico did not boot again after its power cut")


def test_killing_the_simulator_mid_session_then_restarting_keeps_the_profile(tmp_path):
    proc, path = start_pico(tmp_path)
    try:
        client = wait_for_attune(path)
        client.set("pad.range", 55)
        client.profile_save("carla")
        client.port.close()
    finally:
        proc.kill()  # the abrupt end of the process: nothing more is written
        proc.wait()
    proc, path = start_pico(tmp_path)
    try:
        client = wait_for_attune(path)
        assert client.profile_list()["active"] == "carla"
        assert client.get("pad.range") == "55"
        client.port.close()
    finally:
        proc.kill()
        proc.wait()


def test_the_next_tool_starts_clean_after_a_flood_and_a_half_line(pico, capsys):
    # a careless program: bad lines whose replies are still on their way when it exits, then
    # half a command with no line end (the issue: `status` then failed, a leftover
    # `profile rename anna ` renamed anna to `hello`)
    assert attune(capsys, "profile", "save", "anna", "--port", pico)[0] == 0
    careless = serial.Serial(pico, timeout=0.05)
    for _ in range(3):
        careless.write(b"x" * 4936 + b"\n")
    careless.write(b"set pad.sensitivity 8")
    careless.close()
    code, out, err = attune(capsys, "status", "--port", pico, "--timeout", "10")
    assert code == 0, err
    assert attune(capsys, "get", "pad.sensitivity", "--port", pico)[1].strip() == (
        "pad.sensitivity = 75"
    )
    careless = serial.Serial(pico, timeout=0.05)
    careless.write(b"profile rename anna ")
    careless.close()
    code, out, _ = attune(capsys, "profile", "list", "--port", pico, "--json")
    assert code == 0 and json.loads(out)["profiles"] == ["anna"]
