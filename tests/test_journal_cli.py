"""`attune record`, `cue`, `clients` and `journal ...` (host_tools/journal/cli.py): a session of
the simulated Pico recorded over its pty, cues from `attune cue`'s file, and the journal's
export, forget and goal commands."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from host_tools import cli, errors
from host_tools.firmware import REPO_DIR
from host_tools.journal import cli as jcli
from host_tools.journal import open_journal
from host_tools.journal.db import FILE_NAME


@pytest.fixture(autouse=True)
def own_data(tmp_path, monkeypatch):
    """Never the user's journal, nor a Studio someone else runs."""
    monkeypatch.setenv("ATTUNE_DATA", str(tmp_path / "data"))


def attune(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def two_clients(folder: Path) -> None:
    with open_journal(folder) as j:
        for name, n in (("anna", 3), ("ben", 5)):
            sid = j.begin_session(name, "squeeze-pad", 1.7e9)
            j.add_activations(
                sid, [("pad", 1.7e9 + i, 90, 40.0, "% of full scale", 9000, 300) for i in range(n)]
            )
            j.end_session(sid, 1.7e9 + 600)


def test_clients_lists_clients_and_one_clients_sessions(tmp_path, capsys):
    data = tmp_path / "data"
    code, out, _ = attune(capsys, "clients")
    assert code == 0 and "no clients yet" in out
    two_clients(data)
    code, out, _ = attune(capsys, "clients", "--json")
    assert [(c["name"], c["activations"]) for c in json.loads(out)] == [("anna", 3), ("ben", 5)]
    code, out, _ = attune(capsys, "clients", "ben")
    assert code == 0 and "squeeze-pad" in out and "5" in out
    code, _, err = attune(capsys, "clients", "zoe")
    assert code == errors.FAILED and "no client called 'zoe'" in err


def test_export_forget_and_goals_from_the_command_line(tmp_path, capsys, monkeypatch):
    data = tmp_path / "data"
    two_clients(data)
    code, out, _ = attune(capsys, "journal", "export", "anna", "--out", str(tmp_path / "x"))
    assert code == 0 and "personal health information" in out
    assert (tmp_path / "x" / "activations.csv").read_text().count("\n") == 4

    code, out, _ = attune(capsys, "journal", "goal", "add", "anna", "Presses on cue", "--json")
    gid = json.loads(out)["goal"]
    assert attune(capsys, "journal", "goal", "score", str(gid), "-2")[0] == 0
    assert attune(capsys, "journal", "goal", "score", str(gid), "+1")[0] == 0
    code, _, err = attune(capsys, "journal", "goal", "score", str(gid), "3")
    assert code == errors.USAGE and "-2 to +2" in err
    code, out, _ = attune(capsys, "journal", "goal", "list", "anna")
    assert "Presses on cue" in out and "last score +1" in out

    # no terminal, no --yes: refused
    monkeypatch.setattr(cli, "_can_ask", lambda: False)
    code, _, err = attune(capsys, "journal", "forget", "anna")
    assert code == errors.FAILED and "add --yes" in err
    # a terminal, answered no: nothing erased
    monkeypatch.setattr(cli, "_can_ask", lambda: True)
    monkeypatch.setattr(cli.Ctx, "__init__", _ctx_answering("n"))
    code, out, _ = attune(capsys, "journal", "forget", "anna")
    assert code == 0 and "Nothing was erased" in out
    monkeypatch.setattr(cli.Ctx, "__init__", _ctx_answering("yes"))
    code, out, _ = attune(capsys, "journal", "forget", "anna")
    assert code == 0 and "erased" in out
    assert attune(capsys, "journal", "forget", "ben", "--yes")[0] == 0
    for p in data.iterdir():
        assert b"anna" not in p.read_bytes() and b"ben" not in p.read_bytes()


def _ctx_answering(answer: str):
    original = cli.Ctx.__init__

    def init(self, as_json: bool = False) -> None:
        original(self, as_json)
        self.ask = lambda question: answer

    return init


def test_a_damaged_journal_stops_every_command_and_is_left_alone(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / FILE_NAME).write_bytes(b"\x00garbage" * 512)
    before = (data / FILE_NAME).read_bytes()
    for argv in (
        ["clients"],
        ["journal", "forget", "anna", "--yes"],
        ["record", "--port", "/dev/null-nothing", "--client", "anna"],
    ):
        code, _, err = attune(capsys, *argv)
        assert code == errors.FAILED and "not an SQLite database" in err, argv
    assert (data / FILE_NAME).read_bytes() == before


def test_cue_reaches_a_running_recording_through_its_file(tmp_path, capsys, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    code, _, err = attune(capsys, "cue")
    assert code == errors.NO_DEVICE and "Nothing is recording" in err
    ann = jcli._Announcement(data, "squeeze-pad", "Squeeze pad", "anna")
    try:
        typed = time.time() - 0.3  # the command was typed before Python had loaded
        monkeypatch.setattr(jcli, "_process_started", lambda: typed)
        code, out, _ = attune(capsys, "cue", "--json")
        assert code == 0 and json.loads(out)["client"] == "anna"
        (t,) = ann.new_cues()
        assert abs(t - typed * 1000) < 1
        assert ann.new_cues() == []
        code, _, err = attune(capsys, "cue", "--device", "big-switch")
        assert code == errors.NO_DEVICE
    finally:
        ann.remove()
    assert list(data.iterdir()) == []


def test_a_cue_is_timed_from_when_the_command_started():
    code = (
        "import time; t = time.time(); from host_tools.journal.cli import _process_started; "
        "print(t - _process_started())"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_DIR))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    lead = float(out.stdout)
    assert 0.0 <= lead < 5.0  # on Linux: the interpreter's start-up; elsewhere 0


# -- through the simulator ------------------------------------------------------------------

needs_sim = pytest.mark.skipif(
    sys.platform == "win32" or not (REPO_DIR / "simulator" / "cli.py").is_file(),
    reason="needs `attune sim --serial` and a pty",
)

PRESS_EVERY_MS = 2000
FIRST_PRESS_MS = 5000
SIM_S = 17
CUE_LEAD_MS = 250.0


def _cue_each_next_press(data: Path, done: threading.Event, sent: list[float]) -> None:
    """Like a therapist with a metronome: 250 ms before each next press (the last recorded
    onset + the press interval), `attune cue`'s file gets a cue at that exact time."""
    path = data / FILE_NAME
    while not done.is_set() and not list(data.glob("recording-*.cues")):
        time.sleep(0.05)
    cues = next(iter(data.glob("recording-*.cues")), None)
    second = None
    while not done.is_set() and cues is not None and second is None:
        time.sleep(0.05)
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            n, last = con.execute("SELECT COUNT(*), MAX(t) FROM activations").fetchone()
            con.close()
        except sqlite3.Error:
            continue
        if n >= 2:
            second = last
    if second is None:
        return
    # every later press, at the simulator's pace (real time) from the second one (the first
    # plays sooner in its rise: the trigger is learned from it, docs/sensing.md "Auto-ranging")
    for k in range(2, len(press_times())):
        at = second * 1000 + (k - 1) * PRESS_EVERY_MS - CUE_LEAD_MS
        wait = (at - 150) / 1000 - time.time()
        if wait < 0:
            continue  # too late to announce it before the press
        if done.wait(wait):
            return
        with open(cues, "a") as f:
            f.write(format(at, ".1f") + "\n")
        sent.append(at)


def press_times() -> range:
    return range(FIRST_PRESS_MS, SIM_S * 1000 - 3000, PRESS_EVERY_MS)


@needs_sim
def test_a_simulated_session_is_recorded_press_for_press_with_cue_times(tmp_path, capsys):
    from test_host_e2e import wait_for_attune

    movement = pytest.importorskip("simulator.movement")
    from host_tools.doctor import serial_simulator

    sig = movement.rest(SIM_S * 1000, 1600.0)
    for t in press_times():
        movement.add_press(sig, t, 20000, rise_ms=40, hold_ms=200, fall_ms=40)
    movement.write_csv(str(tmp_path / "presses.csv"), {"pad": [int(v) for v in sig]})
    events = tmp_path / "events.jsonl"
    started = time.monotonic()
    proc, port = serial_simulator(
        tmp_path, ["--trace", str(tmp_path / "presses.csv"), "--events-jsonl", str(events)], SIM_S
    )
    data = tmp_path / "data"
    done = threading.Event()
    sent: list[float] = []
    cuer = threading.Thread(target=_cue_each_next_press, args=(data, done, sent), daemon=True)
    try:
        wait_for_attune(port).port.close()
        cuer.start()
        until = SIM_S - 1.2 - (time.monotonic() - started)  # stop before the simulator does
        code, out, err = attune(
            capsys, "record", "--port", port, "--client", "anna", "--seconds", f"{until:.1f}"
        )
        done.set()
        proc.wait(timeout=30)
    finally:
        done.set()
        proc.kill()
        proc.wait()
    assert code in (0, errors.TIMEOUT), err  # TIMEOUT: the simulator ended first (load)
    assert "is saved" in out
    lines = [json.loads(x) for x in events.read_text().splitlines()]
    # the combo's pad plays a chord: its notes start on the same millisecond
    presses = sorted({e["t_ms"] for e in lines if e["type"] == "note_on"})
    assert len(presses) == len(press_times())
    with open_journal(data) as j:
        (s,) = j.sessions("anna")
        assert s["activations"] == len(presses)
        rows = j.db.execute("SELECT t, response_ms FROM cues ORDER BY t").fetchall()
        n_settings = j.db.execute("SELECT COUNT(*) FROM settings_changes").fetchone()[0]
    assert n_settings > 10  # the settings in use at the start
    assert len(rows) == len(sent) >= 2
    errors_ms = [abs(r - CUE_LEAD_MS) for _, r in rows]
    # The firmware's `* act` lines carry the device's clock, so a busy machine delaying the
    # serial line moves no press: every trial is measured within 5 ms (issue 15).
    assert max(errors_ms) <= 5, errors_ms
    assert not [p for p in os.listdir(data) if p.startswith("recording-")]


class FakeInstrument:
    """Just enough of a Client for `attune record`: a combo sending a few `* act` lines, then
    the therapist presses Ctrl-C."""

    def __init__(self, lines: list[str]) -> None:
        from types import SimpleNamespace

        self.info = SimpleNamespace(instrument="combo", name="Combo")
        self.port = SimpleNamespace(close=lambda: None)
        self.lines = list(lines)
        self.monitoring = None

    def status(self) -> dict:
        return {
            "profile": "anna",
            "channels": [{"name": "pad", "sensor": "fsr"}, {"name": "hand", "sensor": "vl6180x"}],
        }

    def values(self, scope: str) -> dict:
        return {"global": {"scale": "major"}, "pad": {"pad.sensitivity": "80"}}.get(scope, {})

    def monitor(self, rate: int) -> dict:
        self.monitoring = rate
        return {"monitor": rate}

    def monitor_off(self) -> dict:
        self.monitoring = 0
        return {"monitor": 0}

    def request(self, line: str) -> dict:
        from host_tools.errors import Refused

        # an instrument whose firmware keeps no journal of its own (no `journal` command)
        raise Refused("unknown", "unknown command", line)

    def read_async(self, timeout: float) -> str | None:
        if not self.lines:
            raise KeyboardInterrupt
        return self.lines.pop(0)


def test_record_ends_cleanly_on_ctrl_c_with_the_profile_as_client(tmp_path, capsys, monkeypatch):
    from contextlib import contextmanager

    fake = FakeInstrument(
        [f"* monitor t={1000 + k * 125} pad raw=1600 level=0 pressed=0" for k in range(8)]
        + ["* act pad t=1500 hold=200 vel=90 peak=65535 level=16383"]
        + ["* act hand t=1700 hold=300 vel=0 peak=80 level=9000"]
    )

    @contextmanager
    def session(args):
        yield fake

    monkeypatch.setattr(cli, "session", session)
    code, out, err = attune(capsys, "record", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["client"] == "anna" and doc["activations"] == 2 and doc["instrument"] == "combo"
    assert fake.monitoring == 0  # the monitor is turned off again
    with open_journal(tmp_path / "data") as j:
        (s,) = j.sessions("anna")
        assert s["ended"] is not None and s["activations"] == 2
        rows = j.db.execute("SELECT sensor, peak, unit FROM activations ORDER BY t").fetchall()
        settings = dict(j.db.execute("SELECT key, value FROM settings_changes").fetchall())
    assert rows == [("pad", 100.0, "% of full scale"), ("hand", 80.0, "mm")]
    assert settings == {"scale": "major", "pad.sensitivity": "80"}
    assert not list((tmp_path / "data").glob("recording-*"))
