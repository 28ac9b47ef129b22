"""The Studio hub records sessions into the journal (issue 15): one Recorder per connected
instrument with an active profile, fed every `* ` line; settings changed through the hub;
cues (`attune cue` through POST /api/journal/cue) and notes; the clients' figures and reports.

One Studio (a simulated big-switch, real time) serves the module.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from host_fake import attune
from hubkit import running_studio

from host_tools.hub import remote
from host_tools.hub.instrument import wait_until
from host_tools.hub.studio import Studio
from host_tools.journal import cli as journal_cli

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="simulated instruments use a pty")

SIM = "sim-big-switch-1"


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    with running_studio(tmp_path_factory, "big-switch", "studio-journal") as s:
        yield s


def http(studio: Studio, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(studio.url.rstrip("/") + path, data=data)
    req.add_header("X-Attune-Token", studio.token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, json.loads(
                raw
            ) if r.headers.get_content_type() == "application/json" else raw
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def ask(studio: Studio, line: str) -> str:
    status, body = http(studio, "/api/request", {"device": SIM, "line": line})
    assert status == 200, body
    return body["reply"]


def press(studio: Studio, times: int) -> None:
    inst = studio.hub.instruments[SIM]
    for _ in range(times):
        inst.send_input("switch", 1.0)
        time.sleep(0.25)
        inst.send_input("switch", 0.0)
        time.sleep(0.35)  # past the switch's debounce and lockout


def test_without_a_profile_nothing_records_and_the_page_is_told_why(studio: Studio) -> None:
    inst = studio.hub.instruments[SIM]
    if inst.status.get("profile"):
        pytest.skip("the simulated instrument started with a profile")
    (row,) = [i for i in studio.hub.instruments_json() if i["id"] == SIM]
    assert row["recording"] is None
    assert row["not_recording"] == "Not recording: choose this client's profile."
    status, body = http(studio, "/api/journal/cue", {})
    assert status == 409 and "load the client's profile" in body["error"]


def test_a_session_is_recorded_for_the_active_profile(
    studio: Studio, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    inst = studio.hub.instruments[SIM]
    assert ask(studio, "profile save anna").startswith("OK")
    assert wait_until(lambda: inst.recorder is not None, 5), inst.not_recording
    rec = inst.recorder
    assert rec.client == "anna"
    (row,) = [i for i in studio.hub.instruments_json() if i["id"] == SIM]
    assert row["recording"]["client"] == "anna" and row["not_recording"] is None
    # `attune cue` (jcore's command) reaches the hub's endpoint
    monkeypatch.setenv(remote.DATA_ENV, str(studio.data_dir))
    # a cue is the moment `attune cue` started: here (in-process) that is now
    monkeypatch.setattr(journal_cli, "_process_started", time.time)
    code, out, err = attune(capsys, "cue")
    assert code == 0, err
    press(studio, 3)
    assert ask(studio, "set switch.lockout 120").startswith("OK")  # a change during the session
    status, body = http(
        studio, "/api/journal/note", {"device": SIM, "text": "Smiled at the bell."}
    )
    assert status == 200 and body["client"] == "anna"
    assert wait_until(lambda: rec.stats()["activations"] >= 3, 5), rec.stats()
    # the cue's answer is settled once the presses are over (the recorder's release grace)
    assert wait_until(lambda: rec.stats()["responded"] >= 1, 5), rec.stats()
    status, live = http(studio, "/api/journal/live")
    (mine,) = [r for r in live["instruments"] if r["device"] == SIM]
    assert mine["recording"] and mine["client"] == "anna" and mine["activations"] == 3
    assert mine["cues"] == 1 and mine["responded"] == 1
    # loading no profile (another one) ends the session: its figures are in the journal
    assert ask(studio, "profile save ben").startswith("OK")
    assert wait_until(lambda: inst.recorder is not None and inst.recorder.client == "ben", 5)
    status, body = http(studio, "/api/journal/clients")
    names = {c["name"]: c for c in body["clients"]}
    assert names["anna"]["sessions"] == 1 and names["anna"]["activations"] == 3
    status, report = http(studio, "/api/journal/report?client=anna")
    assert status == 200, report
    (session,) = report["sessions"]
    assert session["activations"] == 3 and session["cues"] == 1 and session["responded"] == 1
    assert [n["text"] for n in session["notes"]] == ["Smiled at the bell."]
    assert any(c["key"] == "switch.lockout" for c in session["settings"]), session
    assert report["captions"]
    status, html = http(studio, "/api/journal/report.html?client=anna")
    assert status == 200 and b"anna" in html and b"<html" in html.lower()


def test_journal_requests_are_checked(studio: Studio) -> None:
    assert http(studio, "/api/journal/report?client=nobody")[0] == 404
    assert http(studio, "/api/journal/report")[0] == 400
    assert http(studio, "/api/journal/note", {"device": SIM, "text": "a\x00b"})[0] == 400
    assert http(studio, "/api/journal/note", {"device": SIM, "text": 5})[0] == 400
    assert http(studio, "/api/journal/cue", {"t": "now"})[0] == 400
    assert http(studio, "/api/journal/cue", {"device": "nothing-here"})[0] == 404


def test_sessions_played_without_a_computer_are_collected_for_the_client(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The device's own journal (host_tools/devicejournal.py, a stand-in here) is collected when
    recording starts for a profile, stored as a standalone session, then cleared."""
    import types

    cleared: list[int] = []
    sensor = types.SimpleNamespace(
        name="switch", unit="1", count=12, hold_ms_mean=300, hold_ms_max=900,
        peak_mean=1, peak_max=1, ioi_mean_ms=2000, ioi_sd_ms=400,
    )  # fmt: skip
    session = types.SimpleNamespace(seq=4, boot=2, dur_s=600, sensors=[sensor])
    fake = types.ModuleType("host_tools.devicejournal")
    fake.collect = lambda client: types.SimpleNamespace(sessions=[session], problems=[])  # type: ignore[attr-defined]
    fake.clear = lambda client, upto: cleared.append(upto)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "host_tools.devicejournal", fake)
    import host_tools

    monkeypatch.setattr(host_tools, "devicejournal", fake, raising=False)  # if imported before
    s = Studio(tmp_path, sims=["big-switch"], discover=None).start_in_thread()
    try:
        inst = s.hub.instruments[SIM]
        assert wait_until(lambda: inst.connected, 30), inst.problem
        assert not cleared  # no profile yet: whose sessions they are is not known
        assert ask(s, "profile save cara").startswith("OK")
        assert wait_until(lambda: inst.recorder is not None, 5), inst.not_recording
        assert cleared == [4]
        status, body = http(s, "/api/journal/report?client=cara")
        standalone = [x for x in body["sessions"] if x["source"] == "standalone"]
        assert len(standalone) == 1 and standalone[0]["activations"] == 12
    finally:
        s.stop()


def test_goals_are_added_scored_and_listed_with_their_gas_words(studio: Studio) -> None:
    from host_tools.journal import open_journal

    journal = open_journal(studio.data_dir)
    try:
        journal.client_id("gina")  # a client the journal knows (goals never create one)
    finally:
        journal.close()
    status, body = http(studio, "/api/journal/goal", {"client": "gina", "text": "Starts a  note"})
    assert status == 200 and body["text"] == "Starts a note", body
    gid = body["goal"]
    status, body = http(
        studio, "/api/journal/goal/score", {"client": "gina", "goal": gid, "score": -1}
    )
    assert status == 200 and body["words"] == "somewhat less than expected", body
    assert body["session"] is None and body["session_started"] is None  # gina has none
    assert (
        http(studio, "/api/journal/goal/score", {"client": "gina", "goal": gid, "score": 2})[0]
        == 200
    )
    status, body = http(studio, "/api/journal/goals?client=gina")
    assert status == 200, body
    (goal,) = body["goals"]
    assert goal["text"] == "Starts a note"
    assert [(s["score"], s["words"]) for s in goal["scores"]] == [
        (-1, "somewhat less than expected"),
        (2, "much more than expected"),
    ]
    assert [(s["session_id"], s["session_started"]) for s in goal["scores"]] == [(None, None)] * 2
    assert body["words"]["0"] == "the expected level"
    # checked, in plain words
    bad = [
        ({"client": "gina", "goal": gid, "score": 3}, 400, "from -2"),
        ({"client": "gina", "goal": gid, "score": "1"}, 400, "from -2"),
        ({"client": "gina", "goal": gid, "score": True}, 400, "from -2"),
        ({"client": "gina", "goal": 9999, "score": 0}, 400, "no goal number"),
        ({"client": "nobody", "goal": gid, "score": 0}, 404, "nobody"),
    ]
    for req, code, words in bad:
        status, body = http(studio, "/api/journal/goal/score", req)
        assert status == code and words in body["error"], (req, body)
    assert http(studio, "/api/journal/goal", {"client": "gina", "text": "  "})[0] == 400
    assert http(studio, "/api/journal/goal", {"client": "gina", "text": "x" * 201})[0] == 400
    assert http(studio, "/api/journal/goal", {"client": "nobody", "text": "a goal"})[0] == 404
    assert http(studio, "/api/journal/goals?client=nobody")[0] == 404
    assert http(studio, "/api/journal/goals")[0] == 400


def test_the_cue_window_is_set_for_running_and_new_recordings(studio: Studio) -> None:
    inst = studio.hub.instruments[SIM]
    if inst.recorder is None:
        assert ask(studio, "profile save ben").startswith("OK")
    assert wait_until(lambda: inst.recorder is not None, 5), inst.not_recording
    assert http(studio, "/api/journal/cue-window")[1]["ms"] == 5000
    status, body = http(studio, "/api/journal/cue-window", {"seconds": 8})
    assert status == 200 and body == {"ms": 8000, "seconds": 8.0, "kept": True}
    assert inst.recorder.cue_window_ms == 8000 and studio.hub.cue_window_ms == 8000
    for bad in (0, 31, "5", None, True):
        status, body = http(studio, "/api/journal/cue-window", {"seconds": bad})
        assert status == 400 and "1 to 30 seconds" in body["error"], body
    assert http(studio, "/api/journal/cue-window")[1]["ms"] == 8000
    status, body = http(studio, "/api/journal/cue-window", {"seconds": 5})
    assert status == 200 and inst.recorder.cue_window_ms == 5000


def test_a_goal_score_is_kept_with_the_session_it_was_given_in(studio: Studio) -> None:
    from host_tools.journal import open_journal

    inst = studio.hub.instruments[SIM]
    assert ask(studio, "profile save hana").startswith("OK")
    assert wait_until(lambda: inst.recorder is not None and inst.recorder.client == "hana", 5)
    assert wait_until(lambda: inst.recorder.session_id is not None, 5)
    live = inst.recorder.session_id
    status, body = http(studio, "/api/journal/goal", {"client": "hana", "text": "Waits for a cue"})
    assert status == 200, body
    gid = body["goal"]
    score = {"client": "hana", "goal": gid}
    # during the session: kept with it
    status, body = http(studio, "/api/journal/goal/score", dict(score, score=1))
    assert status == 200 and body["session"] == live, body
    assert body["session_started"] == pytest.approx(inst.recorder.started)
    # after it (another client's profile ends hana's session): still today's session of hers
    assert ask(studio, "profile save ben").startswith("OK")
    assert wait_until(lambda: inst.recorder is not None and inst.recorder.client == "ben", 5)
    status, body = http(studio, "/api/journal/goal/score", dict(score, score=2))
    assert status == 200 and body["session"] == live, body
    # a session named, or none
    status, body = http(studio, "/api/journal/goal/score", dict(score, score=0, session=None))
    assert status == 200 and body["session"] is None, body
    status, body = http(studio, "/api/journal/goal/score", dict(score, score=0, session=live))
    assert status == 200 and body["session"] == live, body
    ben = inst.recorder.session_id
    for bad, words in ((99999, "no session number"), (ben, "no session number"), ("1", "null")):
        status, body = http(studio, "/api/journal/goal/score", dict(score, score=0, session=bad))
        assert status == 400 and words in body["error"], (bad, body)
    journal = open_journal(studio.data_dir)
    try:
        (goal,) = journal.goals("hana")
    finally:
        journal.close()
    assert [(s["score"], s["session_id"]) for s in goal["scores"]] == [
        (1, live),
        (2, live),
        (0, None),
        (0, live),
    ]
    status, body = http(studio, "/api/journal/goals?client=hana")
    started = [s["session_started"] for s in body["goals"][0]["scores"]]
    assert started[2] is None and started[0] == started[1] == started[3] is not None


def test_the_cue_window_is_kept_for_studios_next_start(tmp_path: Any) -> None:
    from host_tools.hub import journal

    def start(**kwargs: Any) -> Studio:
        return Studio(tmp_path, sims=[], discover=None, **kwargs).start_in_thread()

    s = start()
    try:
        assert http(s, "/api/journal/cue-window")[1]["ms"] == 5000  # nothing kept yet
        assert http(s, "/api/journal/cue-window", {"seconds": 8})[1]["kept"] is True
    finally:
        s.stop()
    assert journal.saved_cue_window_ms(tmp_path) == 8000
    s = start()
    try:
        assert s.hub.cue_window_ms == 8000
        assert http(s, "/api/journal/cue-window")[1] == {"ms": 8000, "seconds": 8.0}
    finally:
        s.stop()
    s = start(cue_window_ms=3000)  # `attune studio --cue-window 3000` wins over the kept one
    try:
        assert http(s, "/api/journal/cue-window")[1]["ms"] == 3000
    finally:
        s.stop()
    # a damaged or strange file: the default, and Studio still starts
    for text in ("{", "[]", '{"cue_window_ms": 999999}', '{"cue_window_ms": "8000"}'):
        (tmp_path / journal.SETTINGS_FILE).write_text(text)
        assert journal.saved_cue_window_ms(tmp_path) is None, text
    s = start()
    try:
        assert s.hub.cue_window_ms == 5000
    finally:
        s.stop()
    # a folder it cannot write: set for now, and the page is told it was not kept
    (tmp_path / journal.SETTINGS_FILE).unlink()
    (tmp_path / journal.SETTINGS_FILE).mkdir()
    s = start()
    try:
        status, body = http(s, "/api/journal/cue-window", {"seconds": 7})
        assert status == 200 and body["kept"] is False and s.hub.cue_window_ms == 7000
    finally:
        s.stop()


def test_goal_and_cue_window_changes_need_the_token(studio: Studio) -> None:
    for path, body in (
        ("/api/journal/goal", {"client": "gina", "text": "a goal"}),
        ("/api/journal/cue-window", {"seconds": 3}),
    ):
        req = urllib.request.Request(studio.url.rstrip("/") + path, data=json.dumps(body).encode())
        req.add_header("Origin", "http://evil.example")
        with pytest.raises(urllib.error.HTTPError) as got:
            urllib.request.urlopen(req, timeout=10)
        assert got.value.code in (401, 403)
    assert studio.hub.cue_window_ms == 5000
