"""What a client's journal says, figure by figure: per session, per week, goals, and captions.

Usage: report = client_report(open_journal(), "Mia", weeks=12)   # a JSON-able dict

The figures a therapist reports (docs/journal.md explains each):
- activations per minute;
- response to cues, banded as IMTAP does (never 0 %, rarely < 50 %, inconsistent 50-79 %,
  consistent 80-100 %), and reaction time as a median and the middle half (IQR);
- range of movement per sensor in real units (10th, 50th and 90th percentile of the presses'
  peaks), hold time, and tempo steadiness (the coefficient of variation of the gaps between
  presses);
- the settings used, with sensitivity changes flagged beside the figures they affect;
- sessions played without a computer (the device's own summaries), marked as such;
- goals with their Goal Attainment Scaling scores (-2..+2) over time.
It reads the journal through a connection of its own (query only), so Studio may call it from any
thread while the recorder writes.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from host_tools import errors
from host_tools.journal.db import JournalError

PAUSE_S = 10.0  # a gap longer than this is a pause (between pieces), not part of the tempo
START_SLACK_S = 1.0  # settings rows this close to a session's start are its starting settings
UNMEASURED = ("on", "")  # a switch's "peak" is just "pressed"; "" is a peak not measured
FLAGGED = ("sensitivity",)  # settings whose change moves the figures (more or fewer presses)
BANDS = ("never", "rarely", "inconsistent", "consistent")
GAS_WORDS = {
    -2: "much less than expected",
    -1: "somewhat less than expected",
    0: "the expected outcome",
    1: "somewhat more than expected",
    2: "much more than expected",
}


class NoSuchClient(JournalError):
    """The journal has no client of that name; the message says so and names the known ones.
    `attune` ends with exit status 2, as for any name typed wrongly."""

    exit_code = errors.USAGE
    kind = "no_such_client"

    def __init__(self, name: str, known: list[str]) -> None:
        if known:
            listed = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "")
            message = f"The journal has no client called '{name}'. Known clients: {listed}."
        else:
            message = f"The journal has no client called '{name}': it has no clients yet."
        super().__init__(message)
        self.name = name


# -- small figures, each testable on its own ----------------------------------------------------


def cue_band(responded: int, cues: int) -> str | None:
    """IMTAP's band for `responded` answers out of `cues` (None without cues).
    Integer arithmetic, so 4 of 5 is exactly 80 %: consistent."""
    if cues <= 0:
        return None
    if responded <= 0:
        return "never"
    if responded * 100 < 50 * cues:
        return "rarely"
    if responded * 100 < 80 * cues:
        return "inconsistent"
    return "consistent"


def percentiles(values: Any, qs: tuple[float, ...]) -> tuple[float, ...] | None:
    """The qs-th percentiles (0..100) of values, interpolated linearly between the two nearest
    ranks (as numpy's default); None for no values. Plain Python: for a session's few hundred
    values it is quicker than numpy's per-call overhead."""
    v = sorted(values)
    if not v:
        return None
    out = []
    for q in qs:
        pos = (len(v) - 1) * q / 100.0
        lo = math.floor(pos)
        hi = min(lo + 1, len(v) - 1)
        out.append(float(v[lo] + (v[hi] - v[lo]) * (pos - lo)))
    return tuple(out)


def quartiles(values: Any) -> tuple[float, ...] | None:
    """(25th, 50th, 75th percentile); None for no values."""
    return percentiles(values, (25, 50, 75))


def _median(values: Any) -> float | None:
    p = percentiles(values, (50,))
    return None if p is None else p[0]


def tempo_cv(onsets_s: Any) -> float | None:
    """Coefficient of variation (standard deviation / mean) of the gaps between onsets, in
    seconds; gaps longer than PAUSE_S are pauses and left out. None with fewer than 2 gaps.
    0 is a metronome; 0.5 means the gaps typically differ from the average gap by half of it."""
    t = sorted(onsets_s)
    gaps = [b - a for a, b in zip(t, t[1:], strict=False) if 0 < b - a <= PAUSE_S]
    if len(gaps) < 2:
        return None
    mean = sum(gaps) / len(gaps)
    sd = math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps))
    return sd / mean


def tempo_words(cv: float | None) -> str:
    """The tempo figure in words (docs/journal.md gives the same scale)."""
    if cv is None:
        return "not enough presses in a row to tell"
    if cv < 0.1:
        return "very steady"
    if cv < 0.25:
        return "fairly steady"
    if cv < 0.5:
        return "uneven"
    return "very uneven"


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(float(x), nd)


# -- reading ------------------------------------------------------------------------------------


def _connect(journal: Any) -> sqlite3.Connection:
    # mode=rw: a report never creates a file, even if the journal vanished meanwhile
    uri = Path(journal.path).absolute().as_uri() + "?mode=rw"
    con = sqlite3.connect(uri, uri=True, timeout=5.0)
    con.execute("PRAGMA query_only = ON")  # a report never writes
    return con


def _client(con: sqlite3.Connection, name: str) -> int:
    row = con.execute("SELECT id FROM clients WHERE name = ?", (name,)).fetchone()
    if row is None:
        known = [r[0] for r in con.execute("SELECT name FROM clients ORDER BY name")]
        raise NoSuchClient(name, known)
    return int(row[0])


def _by_session(con: sqlite3.Connection, sql: str, ids: list[int]) -> dict[int, list[tuple]]:
    """Rows of `sql` (first column session_id, one `?` for the ids) grouped by session."""
    out: dict[int, list[tuple]] = defaultdict(list)
    for start in range(0, len(ids), 500):  # SQLite's limit on bound parameters
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in con.execute(sql.replace("?", marks, 1), chunk):
            out[row[0]].append(row[1:])
    return out


# -- per session --------------------------------------------------------------------------------


def _live(s: dict, acts: list[tuple], cues: list[tuple]) -> None:
    """Fill the figures of a recorded (live) session from its raw rows."""
    n = len(acts)
    end = s["ended"]
    if end is None and acts:  # cut by a crash: it lasted at least until its last press
        end = max(a[1] for a in acts)
    minutes = max(0.0, ((end or s["started"]) - s["started"]) / 60.0)
    s["minutes"] = _r(minutes)
    s["activations"] = n
    s["per_minute"] = _r(n / minutes) if minutes > 0 else None
    sensors: dict[str, list[float]] = defaultdict(list)
    units: dict[str, Counter] = defaultdict(Counter)
    for sensor, _t, peak, unit, _hold in acts:
        if unit in UNMEASURED:
            continue
        sensors[sensor].append(peak)
        units[sensor][unit] += 1
    s["range"] = {}
    for sensor in sorted(sensors):
        p10, p50, p90 = percentiles(sensors[sensor], (10, 50, 90)) or (0.0, 0.0, 0.0)
        s["range"][sensor] = {
            "unit": units[sensor].most_common(1)[0][0],
            "p10": _r(p10),
            "p50": _r(p50),
            "p90": _r(p90),
            "presses": len(sensors[sensor]),
        }
    holds = [a[4] for a in acts]
    s["hold_ms_median"] = _r(_median(holds), 0)
    cv = tempo_cv([a[1] for a in acts])
    s["tempo_cv"] = _r(cv, 3)
    s["tempo_words"] = tempo_words(cv)
    s["_peaks"] = sensors  # pooled into the weekly rollup, then dropped
    s["_holds"] = holds
    _cue_figures(s, cues)


def _cue_figures(s: dict, cues: list[tuple]) -> None:
    reactions = [r for r, w in cues if r is not None and r <= w]
    s["cues"] = len(cues)
    s["responded"] = len(reactions)
    s["cue_rate"] = _r(len(reactions) / len(cues), 3) if cues else None
    s["cue_band"] = cue_band(len(reactions), len(cues))
    q = quartiles(reactions)
    s["reaction_ms_median"] = _r(q[1], 0) if q else None
    s["reaction_ms_q1"] = _r(q[0], 0) if q else None
    s["reaction_ms_q3"] = _r(q[2], 0) if q else None
    s["reaction_ms_iqr"] = _r(q[2] - q[0], 0) if q else None
    s["_reactions"] = reactions


def _standalone(s: dict, rows: list[tuple]) -> None:
    """Fill the figures of a session played without a computer from the device's summaries:
    counts, means and maxima only (no single presses, so no percentiles)."""
    count = sum(r[2] for r in rows)
    dur_s = max((r[9] for r in rows), default=0.0) or 0.0
    minutes = dur_s / 60.0
    s["minutes"] = _r(minutes)
    s["activations"] = count
    s["per_minute"] = _r(count / minutes) if minutes > 0 else None
    s["range"] = {}
    hold_sum = hold_n = 0.0
    cvs: list[tuple[float, int]] = []
    for sensor, unit, n, hold_mean, _hold_max, peak_mean, peak_max, ioi_mean, ioi_sd, _d in rows:
        if unit not in UNMEASURED:
            s["range"][sensor] = {
                "unit": unit,
                "p10": None,
                "p50": None,
                "p90": None,
                "mean": _r(peak_mean),
                "max": _r(peak_max),
                "presses": n,
            }
        if hold_mean is not None and n:
            hold_sum += hold_mean * n
            hold_n += n
        if ioi_mean and ioi_sd is not None and n > 2:
            cvs.append((ioi_sd / ioi_mean, n))
    s["hold_ms_median"] = None
    s["hold_ms_mean"] = _r(hold_sum / hold_n, 0) if hold_n else None
    cv = sum(c * n for c, n in cvs) / sum(n for _c, n in cvs) if cvs else None
    s["tempo_cv"] = _r(cv, 3)
    s["tempo_words"] = tempo_words(cv)
    s["_peaks"] = {}
    s["_holds"] = []
    _cue_figures(s, [])


def _settings(sessions: list[dict], rows: dict[int, list[tuple]]) -> None:
    """Each session's settings at its start, its changes during the session and since the
    previous session; sensitivity changes become `flags` beside the figures."""
    last: dict[str, str] = {}
    for s in sessions:
        start: dict[str, str] = {}
        changes: list[dict] = []
        current = dict(last)
        for t, key, value in rows.get(s["id"], []):
            if t <= s["started"] + START_SLACK_S:
                start[key] = value
                if key in last and last[key] != value:
                    changes.append(
                        {"when": "between", "t": t, "key": key, "old": last[key], "new": value}
                    )
            else:
                old = current.get(key)
                if old != value:
                    changes.append(
                        {"when": "during", "t": t, "minute": _r((t - s["started"]) / 60.0),
                         "key": key, "old": old, "new": value}
                    )  # fmt: skip
            current[key] = value
        s["settings_at_start"] = start
        s["settings"] = changes
        s["flags"] = [_flag(c) for c in changes if any(w in c["key"] for w in FLAGGED)]
        last = current


def _flag(change: dict) -> str:
    key = change["key"].replace(".", " ")
    where = (
        "since the previous session"
        if change["when"] == "between"
        else f"at minute {change['minute']:g}"
    )
    old = "unset" if change["old"] is None else change["old"]
    return f"{key} {old} -> {change['new']} {where}"


# -- over weeks ---------------------------------------------------------------------------------


def _monday(t: float) -> date:
    d = datetime.fromtimestamp(t).date()
    return d - timedelta(days=d.weekday())


def _week_range(peaks: list[float], unit: str) -> dict:
    p50, p90 = percentiles(peaks, (50, 90)) or (None, None)
    return {"unit": unit, "p50": _r(p50), "p90": _r(p90)}


def _weeks(sessions: list[dict]) -> list[dict]:
    groups: dict[date, list[dict]] = defaultdict(list)
    for s in sessions:
        groups[_monday(s["started"])].append(s)
    out = []
    for monday in sorted(groups):
        ss = groups[monday]
        minutes = sum(s["minutes"] or 0.0 for s in ss)
        acts = sum(s["activations"] for s in ss)
        cues = sum(s["cues"] for s in ss)
        responded = sum(s["responded"] for s in ss)
        reactions = [r for s in ss for r in s["_reactions"]]
        holds = [h for s in ss for h in s["_holds"]]
        peaks: dict[str, list[float]] = defaultdict(list)
        units: dict[str, str] = {}
        for s in ss:
            for sensor, values in s["_peaks"].items():
                peaks[sensor].extend(values)
                units[sensor] = s["range"][sensor]["unit"]
        cvs = [s["tempo_cv"] for s in ss if s["tempo_cv"] is not None]
        q = quartiles(reactions)
        out.append(
            {
                "week": monday.isoformat(),
                "label": f"{monday.day} {monday.strftime('%b %Y')}",  # the week's Monday
                "sessions": len(ss),
                "standalone": sum(1 for s in ss if s["source"] == "standalone"),
                "minutes": _r(minutes),
                "activations": acts,
                "per_minute": _r(acts / minutes) if minutes > 0 else None,
                "cues": cues,
                "responded": responded,
                "cue_rate": _r(responded / cues, 3) if cues else None,
                "cue_band": cue_band(responded, cues),
                "reaction_ms_median": _r(q[1], 0) if q else None,
                "reaction_ms_iqr": _r(q[2] - q[0], 0) if q else None,
                "range": {k: _week_range(v, units[k]) for k, v in sorted(peaks.items())},
                "hold_ms_median": _r(_median(holds), 0),
                "tempo_cv": _r(sum(cvs) / len(cvs), 3) if cvs else None,
                "flags": [f for s in ss for f in s["flags"]],
            }
        )
    return out


# -- goals --------------------------------------------------------------------------------------


def _goals(con: sqlite3.Connection, client_id: int) -> list[dict]:
    goals = []
    for gid, text, created in con.execute(
        "SELECT id, text, created FROM goals WHERE client_id = ? ORDER BY created, id",
        (client_id,),
    ):
        scores = [
            {"t": t, "score": int(score), "session_id": sid}
            for t, score, sid in con.execute(
                "SELECT t, score, session_id FROM goal_scores WHERE goal_id = ? ORDER BY t, id",
                (gid,),
            )
        ]
        latest = scores[-1]["score"] if scores else None
        goals.append(
            {
                "id": gid,
                "text": text,
                "created": created,
                "scores": scores,
                "first": scores[0]["score"] if scores else None,
                "latest": latest,
                "latest_words": GAS_WORDS.get(latest) if latest is not None else None,
            }
        )
    return goals


# -- captions -----------------------------------------------------------------------------------


def _day(t: float) -> str:
    d = datetime.fromtimestamp(t)
    return f"{d.day} {d.strftime('%B')} {d.year}"


def _when(first: dict, last: dict) -> str:
    """How to name the first session in a comparison: its month, or its day if in the same one."""
    a, b = datetime.fromtimestamp(first["started"]), datetime.fromtimestamp(last["started"])
    if (a.year, a.month) == (b.year, b.month):
        return "on " + _day(first["started"])
    return "in " + a.strftime("%B") + ("" if a.year == b.year else f" {a.year}")


def _num(x: float) -> str:
    return f"{x:.0f}" if abs(x) >= 10 else f"{x:.1f}".rstrip("0").rstrip(".")


def _trend(now: float, then: float) -> str:
    if _num(now) == _num(then):
        return "the same as"
    return "up from" if now > then else "down from"


def _flags_between(sessions: list[dict], first: dict, last: dict) -> list[str]:
    inside = False
    out = []
    for s in sessions:
        if s is first:
            inside = True
            continue
        if inside:
            out.extend(s["flags"])
        if s is last:
            break
    return out


def _caveat(flags: list[str]) -> str:
    if not flags:
        return ""
    shown = "; ".join(flags[:3]) + ("; ..." if len(flags) > 3 else "")
    return (
        f" The sensitivity was changed in between ({shown}), so part of the difference may come "
        "from the setting rather than the movement."
    )


def _captions(name: str, sessions: list[dict], goals: list[dict]) -> dict[str, str]:
    caps: dict[str, str] = {}
    if not sessions:
        caps["summary"] = (
            f"No sessions are recorded for {name} in this period yet. Sessions are recorded "
            "while Studio or `attune record` is connected, and sessions played without a "
            "computer are collected the next time the instrument is connected."
        )
        return caps
    live = [s for s in sessions if s["source"] == "live"]
    standalone = len(sessions) - len(live)
    caps["summary"] = (
        f"{len(sessions)} session{'s' if len(sessions) != 1 else ''} from "
        f"{_day(sessions[0]['started'])} to {_day(sessions[-1]['started'])}"
        + (
            f", {standalone} of them played without a computer (summaries only)"
            if standalone
            else ""
        )
        + "."
    )
    rated = [s for s in sessions if s["per_minute"] is not None]
    if rated:
        last, first = rated[-1], rated[0]
        text = f"{name} pressed {_num(last['per_minute'])} times a minute in the latest session"
        text += f" ({_day(last['started'])}"
        text += ", played without a computer)" if last["source"] == "standalone" else ")"
        if len(rated) > 1:
            text += (
                f", {_trend(last['per_minute'], first['per_minute'])} "
                f"{_num(first['per_minute'])} {_when(first, last)}."
            )
            text += _caveat(_flags_between(sessions, first, last))
        else:
            text += "."
        caps["per_minute"] = text
    cued = [s for s in sessions if s["cues"]]
    if cued:
        last = cued[-1]
        total = sum(s["cues"] for s in cued)
        answered = sum(s["responded"] for s in cued)
        text = (
            f"{name} answered {last['responded']} of {last['cues']} cues in the latest session "
            f"with cues ({last['cue_rate'] * 100:.0f} %, {last['cue_band']})"
        )
        if len(cued) > 1:
            text += (
                f"; over all {len(cued)} sessions with cues, {answered} of {total} "
                f"({answered * 100 / total:.0f} %, {cue_band(answered, total)})"
            )
        caps["cues"] = text + "."
        timed = [s for s in cued if s["reaction_ms_median"] is not None]
        if timed:
            s = timed[-1]
            q1 = f"{s['reaction_ms_q1'] / 1000:.1f}"
            q3 = f"{s['reaction_ms_q3'] / 1000:.1f}"
            # (answers all about as quick: "between 0.8 and 0.8 s" reads as a mistake)
            spread = f"came between {q1} and {q3} s" if q1 != q3 else f"all came at about {q1} s"
            text = (
                f"{name}'s median reaction time was {s['reaction_ms_median'] / 1000:.1f} s in the "
                f"latest session (half of the answers {spread})"
            )
            if len(timed) > 1:
                f0 = timed[0]
                text += (
                    (
                        f", {_trend(f0['reaction_ms_median'], s['reaction_ms_median'])} "
                        f"{f0['reaction_ms_median'] / 1000:.1f} s {_when(f0, s)}"
                    )
                    .replace("up from", "faster than")
                    .replace("down from", "slower than")
                )
            caps["reaction"] = text + ". Shorter is quicker."
    ranged = [s for s in live if s["range"]]
    if ranged:
        last, first = ranged[-1], ranged[0]
        parts = []
        for sensor, r in last["range"].items():
            part = (
                f"on {sensor} {name}'s typical press reached {_num(r['p50'])} {r['unit']} "
                f"(most between {_num(r['p10'])} and {_num(r['p90'])})"
            )
            before = first["range"].get(sensor)
            if first is not last and before:
                part += f", compared with {_num(before['p50'])} {r['unit']} {_when(first, last)}"
            parts.append(part)
        text = "In the latest session, " + "; ".join(parts) + "."
        if first is not last:
            text += _caveat(_flags_between(sessions, first, last))
        caps["range"] = text
    held = [s for s in live if s["hold_ms_median"] is not None]
    if held:
        ms = held[-1]["hold_ms_median"]
        # (quick taps: "for 0.0 s" reads as no press at all)
        hold = "under 0.1 s" if ms < 50 else f"{ms / 1000:.1f} s"
        caps["hold"] = (
            f"{name} typically held a press for {hold} in the "
            "latest session (the median: half of the presses were shorter)."
        )
    steady = [s for s in sessions if s["tempo_cv"] is not None]
    if steady:
        s = steady[-1]
        caps["tempo"] = (
            f"{name}'s rhythm was {s['tempo_words']} in the latest session: the gaps between "
            f"presses varied by about {s['tempo_cv'] * 100:.0f} % around their average "
            "(pauses over 10 s left out). Lower is steadier."
        )
    scored = [g for g in goals if g["scores"]]
    if scored:
        parts = []
        for g in scored:
            last_s = g["scores"][-1]
            part = (
                f"'{g['text']}' scored {last_s['score']:+d} ({GAS_WORDS[last_s['score']]}) "
                f"on {_day(last_s['t'])}"
            )
            if len(g["scores"]) > 1:
                part += f", from {g['scores'][0]['score']:+d} on {_day(g['scores'][0]['t'])}"
            parts.append(part)
        caps["goals"] = "Goals: " + "; ".join(parts) + "."
    return caps


# -- the report ---------------------------------------------------------------------------------


def client_report(
    journal: Any, client: str, weeks: int | None = None, now: float | None = None
) -> dict:
    """Everything the report shows for `client`, as a JSON-able dict (the contract's section 4).
    `weeks`: only the last N weeks before `now` (default: the time of the call).
    Raises NoSuchClient (plain words) for a name the journal does not know."""
    con = _connect(journal)
    try:
        cid = _client(con, client)
        since = None if weeks is None else (now or time.time()) - weeks * 7 * 86400.0
        sql = (
            "SELECT id, instrument, source, started, ended, approx, cue_window_ms "
            "FROM sessions WHERE client_id = ?"
        )
        params: list[Any] = [cid]
        if since is not None:
            sql += " AND started >= ?"
            params.append(since)
        keys = ("id", "instrument", "source", "started", "ended", "approx", "cue_window_ms")
        sessions: list[dict[str, Any]] = [
            dict(zip(keys, row, strict=True))
            for row in con.execute(sql + " ORDER BY started, id", params)
        ]
        ids = [s["id"] for s in sessions]
        cues = _by_session(
            con, "SELECT session_id, response_ms, window_ms FROM cues WHERE session_id IN (?)", ids
        )
        setting_rows = _by_session(
            con,
            "SELECT session_id, t, key, value FROM settings_changes WHERE session_id IN (?) "
            "ORDER BY session_id, t, id",
            ids,
        )
        summaries = _by_session(
            con,
            "SELECT session_id, sensor, unit, count, hold_ms_mean, hold_ms_max, peak_mean, "
            "peak_max, ioi_mean_ms, ioi_sd_ms, dur_s FROM standalone WHERE session_id IN (?) "
            "ORDER BY session_id, sensor",
            [s["id"] for s in sessions if s["source"] == "standalone"],
        )
        notes = _by_session(
            con, "SELECT session_id, t, text FROM notes WHERE session_id IN (?) ORDER BY t", ids
        )
        for s in sessions:
            s["approx"] = bool(s["approx"])
            if s["source"] == "standalone":
                _standalone(s, summaries.get(s["id"], []))
            else:
                acts = con.execute(
                    "SELECT sensor, t, peak, unit, hold_ms FROM activations "
                    "WHERE session_id = ? ORDER BY t",
                    (s["id"],),
                ).fetchall()
                _live(s, acts, cues.get(s["id"], []))
            s["notes"] = [{"t": t, "text": text} for t, text in notes.get(s["id"], [])]
        _settings(sessions, setting_rows)
        goals = _goals(con, cid)
    finally:
        con.close()
    weekly = _weeks(sessions)
    for s in sessions:
        for k in ("_peaks", "_holds", "_reactions"):
            s.pop(k, None)
    return {
        "client": client,
        "weeks_asked": weeks,
        "generated": time.time(),
        "sessions": sessions,
        "weeks": weekly,
        "goals": goals,
        "captions": _captions(client, sessions, goals),
    }
