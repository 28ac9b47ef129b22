"""The journal's `attune` commands: record, cue, clients, journal export/forget/goal.

Usage: attune record --port /dev/ttyACM0 --client anna     (Ctrl-C ends the session)
       attune cue            (in another terminal: the therapist invites a response now)
       attune clients | attune journal export anna --out DIR | attune journal forget anna

host_tools/cli.py calls `add_commands(sub, dev, add)` while it builds its parser.

How `attune cue` reaches a recording: `attune record` announces itself in the data folder
(`recording-<pid>.json`, with the instrument and client) and watches `recording-<pid>.cues`;
`attune cue` appends the moment it was started (unix ms) to that file, so the cue keeps its
exact time however late it is read. With no `attune record` running, it asks Attune Studio
(`POST /api/journal/cue`), which records on its own while an instrument has a profile.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from host_tools import errors
from host_tools.errors import AttuneError, NoDevice, SeveralDevices
from host_tools.journal.db import Journal, JournalError, default_dir, open_journal
from host_tools.journal.standalone import collect_into
from host_tools.journal.units import channel_rows

ANNOUNCE_PREFIX = "recording-"
READ_SLICE_S = 0.05  # longest wait for a line before looking at cues and the clock
SHOW_EVERY_S = 0.25
DEFAULT_RATE = 8  # monitor lines a second: enough for the device clock and peaks, and the
# most a three-sensor instrument's link carries (docs/protocol.md "Monitor cap")

Adder = Callable[..., argparse.ArgumentParser]


# -- helpers --------------------------------------------------------------------------------


def _folder(args: argparse.Namespace) -> Path:
    data = getattr(args, "data", None)
    return Path(data) if data else default_dir()


def _open(args: argparse.Namespace) -> Journal:
    data = getattr(args, "data", None)
    return open_journal(Path(data) if data else None)


def _when(t: float | None) -> str:
    if t is None:
        return "-"
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M")


def _process_started() -> float:
    """When this command was started (unix s): a cue is the moment it was typed, not the
    moment Python finished loading (~0.2-0.5 s later). Linux only; elsewhere: now."""
    now = time.time()
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        started = now - uptime + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return now
    return started if 0.0 <= now - started < 10.0 else now


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _private_write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def recordings(folder: Path) -> list[dict[str, Any]]:
    """The `attune record` sessions running now (their announcements in the data folder)."""
    found = []
    for p in sorted(folder.glob(ANNOUNCE_PREFIX + "*.json")):
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
            pid = int(doc["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if _alive(pid):
            doc["cue_file"] = str(folder / doc.get("cues", ""))
            found.append(doc)
    return found


class _Announcement:
    """`recording-<pid>.json` + `.cues` while `attune record` runs; removed when it ends."""

    def __init__(self, folder: Path, instrument: str, title: str, client: str) -> None:
        stem = ANNOUNCE_PREFIX + str(os.getpid())
        self.doc = folder / (stem + ".json")
        self.cues = folder / (stem + ".cues")
        _private_write(self.cues, "")
        doc = {
            "pid": os.getpid(),
            "instrument": instrument,
            "title": title,
            "client": client,
            "cues": self.cues.name,
            "started": time.time(),
        }
        _private_write(self.doc, json.dumps(doc))
        self._pos = 0

    def new_cues(self) -> list[float]:
        """Cue times (unix ms) appended since the last call."""
        try:
            with open(self.cues, "rb") as f:
                f.seek(self._pos)
                data = f.read()
        except OSError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self._pos += end + 1
        out = []
        now = time.time() * 1000.0
        for word in data[:end].split():
            try:
                t = float(word)
            except ValueError:
                continue
            out.append(t if abs(now - t) < 60_000 else now)  # a clock far off: use now
        return out

    def remove(self) -> None:
        for p in (self.doc, self.cues):
            try:
                p.unlink()
            except OSError:
                pass


def _live_text(name: str, instrument: str, stats: dict[str, Any], left: float | None) -> str:
    text = (
        "Recording "
        + name
        + " on "
        + instrument
        + ": "
        + str(stats["activations"])
        + " presses ("
        + format(stats["per_minute"], ".1f")
        + "/min), "
        + str(stats["responded"])
        + " of "
        + str(stats["cues"])
        + " cues answered"
    )
    if stats.get("last_reaction_ms") is not None:
        text += ", last in " + format(stats["last_reaction_ms"], ".0f") + " ms"
    if stats.get("problem"):
        text += ". Not saved yet: " + str(stats["problem"])
    text += ". " + ("Ends in " + format(left, ".0f") + " s." if left is not None else "")
    return text + " Ctrl-C ends."


# -- commands -------------------------------------------------------------------------------


def cmd_record(args: argparse.Namespace, ctx: Any) -> int:
    from host_tools.cli import session
    from host_tools.journal.recorder import Recorder, settings_of

    folder = _folder(args)
    journal = _open(args)  # a damaged or newer journal stops here, before the instrument
    try:
        with session(args) as client:
            info = client.info
            instrument = info.instrument if info else "?"
            title = info.name if info else instrument
            status = client.status()
            name = args.client or status.get("profile")
            if not name:
                raise AttuneError(
                    "Whose session is this? Give the client's name (a pseudonym is fine) with "
                    "--client NAME, or load their profile on the instrument."
                )
            if type(client.port).__name__ == "HubPort":
                ctx.err.print(
                    "Attune Studio holds this instrument; it records sessions on its own "
                    "while a profile is active.",
                    style="yellow",
                    markup=False,
                )
            channels = channel_rows(status)
            stored, problems = collect_into(journal, client, name)
            for problem in problems:
                ctx.err.print(problem, style="yellow", markup=False, soft_wrap=True)
            if stored:
                ctx.say(
                    "Collected "
                    + str(stored)
                    + " session(s) played without a computer and cleared them on the "
                    "instrument."
                )
            settings = settings_of(client, channels)
            rec = Recorder(
                Path(args.data) if args.data else None,
                name,
                instrument,
                channels,
                settings,
                cue_window_ms=args.cue_window,
            )
            announce = _Announcement(folder, instrument, title, name)
            ended = ""
            try:
                client.monitor(args.rate)
                ended = _record_loop(client, rec, announce, args, ctx, name, instrument)
            finally:
                announce.remove()
                rec.close()
                try:
                    client.monitor_off()
                except Exception:  # the port may be gone: the recording is what matters
                    pass
    finally:
        journal.close()
    stats = rec.stats()
    lost = ended not in ("", "interrupted")
    if lost:
        ctx.err.print(ended, style="bold red", markup=False, soft_wrap=True)
    if ctx.as_json:
        ctx.emit({"client": name, "instrument": instrument, "standalone": stored, **stats})
    else:
        ctx.say(
            ("Stopped. " if ended == "interrupted" else "")
            + "Session "
            + str(stats["session_id"])
            + " for "
            + name
            + " is saved: "
            + str(stats["activations"])
            + " presses, "
            + str(stats["responded"])
            + " of "
            + str(stats["cues"])
            + " cues answered."
        )
    return errors.TIMEOUT if lost else 0


def _record_loop(
    client: Any,
    rec: Any,
    announce: _Announcement,
    args: argparse.Namespace,
    ctx: Any,
    name: str,
    instrument: str,
) -> str:
    """Read lines until --seconds pass, Ctrl-C or the port is lost: "", "interrupted" or
    why the connection ended."""
    import serial
    from rich.live import Live
    from rich.text import Text

    end = time.monotonic() + args.seconds if args.seconds else None
    live = None
    if not ctx.as_json:
        live = Live(Text(""), console=ctx.out, refresh_per_second=4, transient=False)
        live.start()
    shown = 0.0
    try:
        while end is None or time.monotonic() < end:
            line = client.read_async(READ_SLICE_S)
            if line is not None:
                rec.feed(line, time.time() * 1000.0)
            for t in announce.new_cues():
                rec.cue(t)
            if live is not None and time.monotonic() - shown >= SHOW_EVERY_S:
                shown = time.monotonic()
                left = end - shown if end is not None else None
                live.update(Text(_live_text(name, instrument, rec.stats(), left)))
        return ""
    except KeyboardInterrupt:
        return "interrupted"
    except (serial.SerialException, OSError) as e:
        return "The connection to the instrument was lost (" + str(e) + ")."
    finally:
        if live is not None:
            live.stop()


def cmd_cue(args: argparse.Namespace, ctx: Any) -> int:
    at = _process_started() * 1000.0
    folder = _folder(args)
    running = recordings(folder) if folder.is_dir() else []
    if args.device:
        wanted = args.device.strip().lower()
        running = [
            r
            for r in running
            if wanted in (str(r.get("instrument")).lower(), str(r.get("title")).lower())
        ]
    if len(running) > 1:
        listed = [str(r.get("instrument")) + " (" + str(r.get("client")) + ")" for r in running]
        raise SeveralDevices(
            "Several recordings are running:\n  "
            + "\n  ".join(listed)
            + "\nChoose one with --device NAME.",
            details=listed,
        )
    if running:
        r = running[0]
        fd = os.open(r["cue_file"], os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, (format(at, ".1f") + "\n").encode())
        finally:
            os.close(fd)
        ctx.result(
            {"cue": at, "instrument": r.get("instrument"), "client": r.get("client")},
            "Cue marked for " + str(r.get("client")) + " on " + str(r.get("instrument")) + ".",
        )
        return 0
    return _cue_through_studio(args, ctx, at)


def _cue_through_studio(args: argparse.Namespace, ctx: Any, at: float) -> int:
    from host_tools.hub import remote

    hub = remote.find_hub()
    if hub is None:
        raise NoDevice(
            "Nothing is recording"
            + (" on '" + args.device + "'" if args.device else "")
            + ": start `attune record --client NAME` (or Attune Studio with the client's "
            "profile loaded) first."
        )
    status, body = remote._call(
        hub, "POST", "/api/journal/cue", {"device": args.device, "t": at / 1000.0}
    )
    if status == 404 and not body.get("error"):
        raise AttuneError("This Attune Studio does not take cues yet; update Attune.")
    if status != 200:
        raise AttuneError(
            str(body.get("message") or body.get("error") or "Studio refused the cue.")
        )
    ctx.result(body or {"cue": at}, "Cue marked in Attune Studio.")
    return 0


def cmd_clients(args: argparse.Namespace, ctx: Any) -> int:
    from rich.markup import escape
    from rich.table import Table

    with _open(args) as j:
        if args.client:
            rows = j.sessions(args.client)
            if ctx.as_json:
                ctx.emit(rows)
                return 0
            table = Table(show_edge=False)
            for col in ("session", "started", "minutes", "instrument", "source", "presses"):
                table.add_column(col)
            for s in rows:
                minutes = (s["ended"] - s["started"]) / 60 if s["ended"] else None
                table.add_row(
                    str(s["id"]),
                    ("~" if s["approx"] else "") + _when(s["started"]),
                    format(minutes, ".0f") if minutes is not None else "(cut short)",
                    escape(str(s["instrument"])),
                    "played alone" if s["source"] == "standalone" else "live",
                    str(s["activations"]),
                )
            ctx.out.print(table)
            if not rows:
                ctx.say(args.client + " has no sessions yet.")
            return 0
        rows = j.clients()
    if ctx.as_json:
        ctx.emit(rows)
        return 0
    if not rows:
        ctx.say("The journal has no clients yet: `attune record --client NAME` starts one.")
        return 0
    table = Table(show_edge=False)
    for col in ("client", "sessions", "first", "last", "presses"):
        table.add_column(col)
    for c in rows:
        table.add_row(
            escape(c["name"]),
            str(c["sessions"]),
            _when(c["first"]),
            _when(c["last"]),
            str(c["activations"]),
        )
    ctx.out.print(table)
    return 0


def cmd_journal(args: argparse.Namespace, ctx: Any) -> int:
    action = args.action
    if action == "export":
        with _open(args) as j:
            files = j.export_csv(args.client, Path(args.out))
        ctx.result(
            {"client": args.client, "files": [str(p) for p in files]},
            "Wrote "
            + str(len(files))
            + " CSV files for "
            + args.client
            + " into "
            + args.out
            + ". They hold personal health information: keep them safe, and delete them "
            "when they are no longer needed.",
        )
        return 0
    if action == "forget":
        return _forget(args, ctx)
    if action == "goal":
        return _goal(args, ctx)
    raise AttuneError("Unknown journal action '" + str(action) + "'.")  # argparse stops these


def _forget(args: argparse.Namespace, ctx: Any) -> int:
    from host_tools.cli import _can_ask, _confirm

    with _open(args) as j:
        known = j.client_id(args.client, create=False)
        if known is None:
            raise JournalError("The journal has no client called '" + args.client + "'.")
        n = len(j.sessions(args.client))
        if not args.yes:
            if not _can_ask():
                raise AttuneError(
                    "Forgetting "
                    + args.client
                    + " erases their "
                    + str(n)
                    + " session(s) for good, and no question can be asked here (no "
                    "terminal): add --yes to erase."
                )
            question = (
                "Erase everything recorded for "
                + args.client
                + " ("
                + str(n)
                + " sessions, goals and notes)? This cannot be undone."
            )
            if not _confirm(ctx, args, question):
                ctx.say("Nothing was erased.")
                return 0
        j.forget(args.client)
    ctx.result(
        {"forgotten": args.client, "sessions": n},
        "Everything recorded for "
        + args.client
        + " is erased from the journal (exports you made are not: delete those yourself).",
    )
    return 0


def _goal(args: argparse.Namespace, ctx: Any) -> int:
    with _open(args) as j:
        if args.goal_action == "add":
            gid = j.add_goal(args.client, args.text)
            ctx.result(
                {"goal": gid, "client": args.client, "text": args.text},
                "Goal "
                + str(gid)
                + " for "
                + args.client
                + ": "
                + args.text
                + " (score it with `attune journal goal score "
                + str(gid)
                + " SCORE`, -2 to +2).",
            )
        elif args.goal_action == "score":
            j.score_goal(args.goal_id, time.time(), args.score, args.session)
            ctx.result(
                {"goal": args.goal_id, "score": args.score, "session_id": args.session},
                "Goal " + str(args.goal_id) + " scored " + format(args.score, "+d") + ".",
            )
        else:
            goals = j.goals(args.client)
            if ctx.as_json:
                ctx.emit(goals)
            elif not goals:
                ctx.say(args.client + " has no goals yet.")
            for g in goals if not ctx.as_json else []:
                last = g["scores"][-1]["score"] if g["scores"] else None
                ctx.say(
                    str(g["id"])
                    + ". "
                    + g["text"]
                    + ("  (last score " + format(last, "+d") + ")" if last is not None else "")
                )
    return 0


# -- the parser -----------------------------------------------------------------------------


def _data_option(with_json: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--data",
        metavar="DIR",
        help="the folder holding journal.sqlite (default: $ATTUNE_DATA, else your data folder)",
    )
    if with_json:
        p.add_argument("--json", action="store_true", help="print JSON for scripts")
    return p


def _score(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 99
    if not -2 <= value <= 2:
        raise argparse.ArgumentTypeError("a score is a whole number from -2 to +2")
    return value


def add_cue_window_option(
    p: argparse.ArgumentParser, default: int | None = 5000, said: str = "5000"
) -> None:
    """--cue-window, for `attune record` and `attune studio`. Usage: add_cue_window_option(p)"""
    p.add_argument(
        "--cue-window",
        type=int,
        default=default,
        metavar="MS",
        help="a press this soon after a cue answers it (default: " + said + ")",
    )


def add_commands(
    sub: argparse._SubParsersAction, dev: argparse.ArgumentParser, add: Adder
) -> None:
    """Register record, cue, clients and journal on `attune`'s subcommand parser."""
    data = _data_option()
    p = add(
        "record",
        cmd_record,
        "record a session into the journal without Studio (Ctrl-C ends it)",
        [dev, _data_option(with_json=False)],
    )
    p.add_argument(
        "--client",
        metavar="NAME",
        help="whose session it is (a pseudonym is fine; default: the profile in use)",
    )
    p.add_argument("--seconds", type=float, default=None, help="stop after this long")
    add_cue_window_option(p)
    p.add_argument(
        "--rate",
        type=int,
        default=DEFAULT_RATE,
        metavar="HZ",
        help=f"monitor lines a second (default {DEFAULT_RATE})",
    )

    p = sub.add_parser(
        "cue",
        help="mark a cue now: the journal times the client's answer",
        description="Mark the moment you invite a response, in the running `attune record` "
        "(or Attune Studio); the journal measures the time to the next press.",
        parents=[data],
    )
    p.add_argument("--device", metavar="NAME", help="the instrument, when several record")
    p.set_defaults(func=cmd_cue)

    p = sub.add_parser(
        "clients",
        help="the clients in the journal, or one client's sessions",
        description="List the clients in the journal; with a NAME, that client's sessions.",
        parents=[data],
    )
    p.add_argument("client", metavar="NAME", nargs="?")
    p.set_defaults(func=cmd_clients)

    jp = sub.add_parser(
        "journal",
        help="the session journal: export, forget, goals",
        description="The session journal on this computer (journal.sqlite in the data "
        "folder): export a client's data, erase it, and set and score their goals.",
    )
    jp.set_defaults(func=cmd_journal)
    acts = jp.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = acts.add_parser(
        "export",
        help="write one client's data as CSV files (one per table)",
        description="Write one client's data as CSV files (one per table) into a folder.",
        parents=[data],
    )
    p.add_argument("client", metavar="CLIENT")
    p.add_argument("--out", metavar="DIR", required=True, help="the folder to write into")
    p = acts.add_parser(
        "forget",
        help="erase a client and all their sessions for good",
        description="Erase a client and everything recorded for them; the file is rebuilt "
        "so their data is gone from it, not just hidden.",
        parents=[data],
    )
    p.add_argument("client", metavar="CLIENT")
    p.add_argument("--yes", action="store_true", help="do not ask first")
    gp = acts.add_parser(
        "goal",
        help="a client's goals: add, score (-2..+2), list",
        description="Goals and their attainment scores (Goal Attainment Scaling, -2 to +2).",
    )
    goals = gp.add_subparsers(dest="goal_action", metavar="ACTION", required=True)
    p = goals.add_parser("add", help="add a goal for a client", parents=[data])
    p.add_argument("client", metavar="CLIENT")
    p.add_argument("text", metavar="TEXT")
    p = goals.add_parser("score", help="score a goal, -2 to +2", parents=[data])
    p.add_argument("goal_id", metavar="GOAL_ID", type=int)
    p.add_argument("score", metavar="SCORE", type=_score)
    p.add_argument("--session", type=int, default=None, metavar="ID", help="the session scored")
    p = goals.add_parser("list", help="a client's goals and last scores", parents=[data])
    p.add_argument("client", metavar="CLIENT")
