"""The hub's session-journal endpoints (docs/studio-api.md, "Session journal"): cues and notes
for the sessions it records, what is recording now, and the clients' figures and reports read
from the journal (host_tools/journal; nothing of it is re-implemented here).

Usage: routes = journal.routes(hub)   # added to the app by server.build_app
       ms = journal.saved_cue_window_ms(data_dir)   # the page's last cue window, or None
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from host_tools.errors import AttuneError
from host_tools.hub.api import error, json_body, refusals, status_of
from host_tools.hub.hub import Hub
from host_tools.hub.instrument import Instrument
from host_tools.hub.messages import BadMessage

NOTE_MAX = 500  # characters in one note
GOAL_MAX = 200  # characters in one goal
CUE_WINDOW_S = (1, 30)  # the cue window the page may set, in whole seconds
CUE_WINDOW_MS = 5000  # until the page sets one
SETTINGS_FILE = "journal-settings.json"  # in the data folder: the page's cue window
# Goal Attainment Scaling: what each score means, in the words the page shows
GAS_WORDS = {
    -2: "much less than expected",
    -1: "somewhat less than expected",
    0: "the expected level",
    1: "somewhat more than expected",
    2: "much more than expected",
}


def recording(hub: Hub) -> list[Instrument]:
    return [i for i in list(hub.instruments.values()) if i.recorder is not None]


def pick(hub: Hub, device: Any) -> Instrument:
    """The instrument a cue or note is for: the one named, else the only one recording.
    Raises AttuneError (plain words) when it is not recording or the choice is unclear."""
    if device is not None and not isinstance(device, str):
        raise BadMessage("'device' must be an instrument's id or name, as text.")
    if device:
        inst = hub.find(device)
        if inst.recorder is None:
            raise NotRecording(
                "Not recording on "
                + inst.id
                + ": "
                + (inst.not_recording or "it is not connected.").removeprefix("Not recording: ")
            )
        return inst
    live = recording(hub)
    if not live:
        raise NotRecording(
            "Nothing is recording in Attune Studio: load the client's profile on the "
            "instrument first (Studio records while a profile is active)."
        )
    if len(live) > 1:
        raise NotRecording(
            "Several instruments are recording: "
            + ", ".join(i.id + " (" + str(i.recorder.client) + ")" for i in live)
            + ". Choose one with --device NAME."
        )
    return live[0]


class NotRecording(AttuneError):
    """A cue or note for an instrument that records nothing (HTTP 409)."""


def _client_name(request: Request) -> str:
    name = request.query_params.get("client", "")
    if not name or len(name) > 100 or not name.isprintable():
        raise BadMessage("Name the client: ?client=NAME.")
    return name


def _with_journal(hub: Hub, fn: Any, *args: Any) -> Any:
    """fn(journal, *args) with the journal opened for this call (in a worker thread)."""
    from host_tools.journal import open_journal

    journal = open_journal(hub.data_dir)
    try:
        return fn(journal, *args)
    finally:
        journal.close()


def _client_in(data: dict[str, Any]) -> str:
    name = data.get("client")
    if not isinstance(name, str) or not name or len(name) > 100 or not name.isprintable():
        raise BadMessage("'client' must be the client's name, as text.")
    return name


def _known(journal: Any, client: str) -> None:
    """NoSuchClient (404) unless the journal knows this client: no new client by a typo."""
    from host_tools.journal.analysis import NoSuchClient

    if journal.client_id(client, create=False) is None:
        raise NoSuchClient(client, [c["name"] for c in journal.clients()])


def _add_goal(journal: Any, client: str, text: str) -> int:
    _known(journal, client)
    return journal.add_goal(client, text)


def _goals(journal: Any, client: str) -> list[dict[str, Any]]:
    """The client's goals, each score with its GAS words and the start of its session."""
    _known(journal, client)
    started = {s["id"]: s["started"] for s in journal.sessions(client)}
    goals = journal.goals(client)
    for g in goals:
        for sc in g["scores"]:
            sc["words"] = GAS_WORDS.get(sc["score"], "")
            sc["session_started"] = started.get(sc["session_id"])
    return goals


_ANY = object()  # no session named: the one recording now, else today's latest


def _todays_session(sessions: list[dict[str, Any]], now: float) -> dict[str, Any] | None:
    """The client's latest session that started today (this computer's day), else None."""
    midnight = datetime.datetime.fromtimestamp(now).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    today = [s for s in sessions if s["started"] >= midnight.timestamp()]
    return today[-1] if today else None


def _score_goal(
    journal: Any, client: str, goal: int, score: int, session: Any, live: int | None
) -> dict[str, Any] | None:
    """Scores the goal now, kept with a session of the client's: `session` (an id, or None
    for none) when the page names one, else the session recording now (`live`), else their
    latest session of today. Returns that session ({"id", "started", ...}) or None."""
    _known(journal, client)
    if goal not in {g["id"] for g in journal.goals(client)}:
        raise BadMessage(client + " has no goal number " + str(goal) + ".")
    sessions = journal.sessions(client)
    if session is _ANY:
        chosen = next((s for s in sessions if s["id"] == live), None)
        chosen = chosen or _todays_session(sessions, time.time())
    elif session is None:
        chosen = None
    else:
        chosen = next((s for s in sessions if s["id"] == session), None)
        if chosen is None:
            raise BadMessage(client + " has no session number " + str(session) + ".")
    journal.score_goal(goal, time.time(), score, chosen["id"] if chosen else None)
    return chosen


def _live_session(hub: Hub, client: str) -> int | None:
    """The journal session recording `client` now in this Studio (the latest begun), or None."""
    recs = [i.recorder for i in recording(hub)]
    ids = [
        (r.started, r.session_id)
        for r in recs
        if r is not None and r.client == client and r.session_id is not None
    ]
    return max(ids)[1] if ids else None


def saved_cue_window_ms(data_dir: Path) -> int | None:
    """The cue window the page last set, kept in the data folder (None when it never set one,
    or the file is unreadable: Studio then starts with the default)."""
    try:
        ms = json.loads((Path(data_dir) / SETTINGS_FILE).read_text()).get("cue_window_ms")
    except (OSError, ValueError, AttributeError):
        return None
    lo, hi = CUE_WINDOW_S
    if isinstance(ms, int) and not isinstance(ms, bool) and lo * 1000 <= ms <= hi * 1000:
        return ms
    return None


def save_cue_window(data_dir: Path, ms: int) -> bool:
    """Keeps the cue window for Studio's next start; False when the file cannot be written."""
    path = Path(data_dir) / SETTINGS_FILE
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps({"cue_window_ms": int(ms)}) + "\n")
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return False
    return True


def _report_html(journal: Any, client: str) -> bytes:
    from host_tools.journal.report import write_report

    with tempfile.TemporaryDirectory(prefix="attune-report-") as tmp:
        out = write_report(journal, client, Path(tmp) / "report.html")
        return out.read_bytes()


def _journal_error(e: AttuneError) -> JSONResponse:
    from host_tools.journal.analysis import NoSuchClient

    if isinstance(e, NoSuchClient):
        return error(404, e.message)
    if isinstance(e, NotRecording):
        return error(409, e.message)
    from host_tools.journal import JournalError

    if isinstance(e, JournalError):
        return error(503, e.message)
    return error(status_of(e), e.message)


def routes(hub: Hub) -> list[Route]:
    """The routes, bound to `hub`."""

    @refusals(_journal_error)
    async def cue(request: Request) -> Response:
        """`attune cue` and the page's Cue button: the therapist invites a response now."""
        data = await json_body(request)
        t = data.get("t")
        if t is not None and (not isinstance(t, int | float) or isinstance(t, bool)):
            raise BadMessage("'t' must be the cue's time in seconds (unix time).")
        inst = pick(hub, data.get("device"))
        at_ms = float(t) * 1000.0 if t is not None else time.time() * 1000.0
        rec = inst.recorder
        if rec is None:  # it stopped recording this very moment
            return error(409, "Not recording on " + inst.id + " any more.")
        rec.cue(at_ms)
        return JSONResponse({"cue": at_ms, "device": inst.id, "client": rec.client})

    @refusals(_journal_error)
    async def note(request: Request) -> Response:
        """A note the therapist types, kept with the session."""
        data = await json_body(request)
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            raise BadMessage("'text' must be the note, as text.")
        text = " ".join(text.split())
        if len(text) > NOTE_MAX or not text.isprintable():
            raise BadMessage("A note is at most 500 printable characters.")
        inst = pick(hub, data.get("device"))
        rec = inst.recorder
        if rec is None:
            return error(409, "Not recording on " + inst.id + " any more.")
        rec.note(text)
        return JSONResponse({"note": text, "device": inst.id, "client": rec.client})

    async def live(request: Request) -> Response:
        """What each connected instrument is recording now, with the session's figures."""
        out = []
        for inst in list(hub.instruments.values()):
            if not inst.ever_connected:
                continue
            rec = inst.recorder
            row: dict[str, Any] = {"device": inst.id, "recording": rec is not None}
            if rec is not None:
                row.update(rec.stats(), client=rec.client, started=rec.started)
            else:
                row["reason"] = inst.not_recording or "Not recording: it is not connected."
            out.append(row)
        return JSONResponse({"instruments": out})

    @refusals(_journal_error)
    async def clients(request: Request) -> Response:
        rows = await asyncio.to_thread(_with_journal, hub, lambda j: j.clients())
        return JSONResponse({"clients": rows})

    @refusals(_journal_error)
    async def report(request: Request) -> Response:
        """The client's figures (host_tools/journal/analysis.client_report)."""
        from host_tools.journal.analysis import client_report

        name = _client_name(request)
        doc = await asyncio.to_thread(_with_journal, hub, client_report, name)
        return JSONResponse(doc)

    @refusals(_journal_error)
    async def report_html(request: Request) -> Response:
        """The client's report as a self-contained HTML file, to download."""
        name = _client_name(request)
        html = await asyncio.to_thread(_with_journal, hub, _report_html, name)
        safe = re.sub(r"[^A-Za-z0-9_-]+", "_", name) or "client"
        return Response(
            html,
            media_type="text/html; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="' + safe + '-report.html"'},
        )

    return [
        Route("/api/journal/cue", cue, methods=["POST"]),
        Route("/api/journal/note", note, methods=["POST"]),
        Route("/api/journal/live", live),
        Route("/api/journal/clients", clients),
        Route("/api/journal/report", report),
        Route("/api/journal/report.html", report_html),
        *goal_routes(hub),
    ]


def _goal_text(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise BadMessage("Say what the goal is, in a few words.")
    text = " ".join(text.split())
    if len(text) > GOAL_MAX or not text.isprintable():
        raise BadMessage("A goal is at most 200 printable characters.")
    return text


def _goal_score(data: dict[str, Any]) -> tuple[int, int]:
    goal, score = data.get("goal"), data.get("score")
    if not isinstance(goal, int) or isinstance(goal, bool):
        raise BadMessage("'goal' must be the goal's number.")
    if not isinstance(score, int) or isinstance(score, bool) or score not in GAS_WORDS:
        raise BadMessage(
            "A goal's score is a whole number from -2 (much less than expected) "
            "to +2 (much more than expected)."
        )
    return goal, score


def _session_in(data: dict[str, Any]) -> Any:
    if "session" not in data:
        return _ANY
    session = data["session"]
    if session is not None and (not isinstance(session, int) or isinstance(session, bool)):
        raise BadMessage("'session' must be the number of one of the client's sessions, or null.")
    return session


def _cue_window_s(secs: Any) -> float:
    lo, hi = CUE_WINDOW_S
    if not isinstance(secs, int | float) or isinstance(secs, bool) or not lo <= secs <= hi:
        raise BadMessage(
            "An answer must count within "
            + str(lo)
            + " to "
            + str(hi)
            + " seconds of a cue; choose a number of seconds in that range."
        )
    return float(secs)


def goal_routes(hub: Hub) -> list[Route]:
    """The goals (Goal Attainment Scaling) and the cue window, bound to `hub`."""

    @refusals(_journal_error)
    async def goals(request: Request) -> Response:
        """The client's goals with their Goal Attainment Scaling scores, oldest first."""
        name = _client_name(request)
        rows = await asyncio.to_thread(_with_journal, hub, _goals, name)
        return JSONResponse({"client": name, "goals": rows, "words": GAS_WORDS})

    @refusals(_journal_error)
    async def add_goal(request: Request) -> Response:
        """A new goal for a client: {"client": NAME, "text": WHAT}."""
        data = await json_body(request)
        name = _client_in(data)
        text = _goal_text(data.get("text"))
        gid = await asyncio.to_thread(_with_journal, hub, _add_goal, name, text)
        return JSONResponse({"client": name, "goal": gid, "text": text})

    @refusals(_journal_error)
    async def score_goal(request: Request) -> Response:
        """Today's score of a goal: {"client": NAME, "goal": ID, "score": -2..2}, kept with
        the client's session recording now, else their latest of today (or the "session":
        ID named; null for none)."""
        data = await json_body(request)
        name = _client_in(data)
        goal, score = _goal_score(data)
        session = _session_in(data)
        live = _live_session(hub, name)
        chosen = await asyncio.to_thread(
            _with_journal, hub, _score_goal, name, goal, score, session, live
        )
        out = {"client": name, "goal": goal, "score": score, "words": GAS_WORDS[score]}
        out["session"] = chosen["id"] if chosen else None
        out["session_started"] = chosen["started"] if chosen else None
        return JSONResponse(out)

    @refusals(_journal_error)
    async def cue_window(request: Request) -> Response:
        """How long after a cue a press answers it: GET it, or POST {"seconds": 1..30} to set
        it for the sessions recording now (cues from now on) and for new ones, and keep it in
        the data folder for Studio's next start ("kept": false when that failed)."""
        if request.method == "POST":
            data = await json_body(request)
            secs = _cue_window_s(data.get("seconds"))
            hub.cue_window_ms = int(round(float(secs) * 1000))
            for inst in recording(hub):
                rec = inst.recorder
                if rec is not None:
                    rec.set_cue_window(hub.cue_window_ms)
            kept = await asyncio.to_thread(save_cue_window, hub.data_dir, hub.cue_window_ms)
            ms = hub.cue_window_ms
            return JSONResponse({"ms": ms, "seconds": ms / 1000.0, "kept": kept})
        ms = hub.cue_window_ms
        return JSONResponse({"ms": ms, "seconds": ms / 1000.0})

    return [
        Route("/api/journal/goals", goals),
        Route("/api/journal/goal", add_goal, methods=["POST"]),
        Route("/api/journal/goal/score", score_goal, methods=["POST"]),
        Route("/api/journal/cue-window", cue_window, methods=["GET", "POST"]),
    ]
