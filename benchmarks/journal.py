"""Journal benchmark: one client's full report out of a big generated journal (`make bench`:
journal_report_s, journal_db_mb), and the generator the report tests and the docs' picture use.

Usage: from benchmarks import journal; journal.figures(quick=False)
       journal.generate(Path("/tmp/j"), clients=2, weeks=8)   # a small journal for a test

The default database holds 50 clients x 52 weekly 30-minute sessions (about 1.5 million
activations, as issue 15 asks), built once with executemany in one transaction and cached under
the user's cache folder, keyed by the generator's version and the journal's schema version.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GENERATOR_VERSION = 1  # bump when generate() changes what it writes: the cache is rebuilt
BASE = 1735776000.0  # Thursday 2 January 2025 00:00 UTC: every generated journal starts here
SESSION_S = 1800
NAMES = ("Mia", "Sam", "Noor", "Leo", "Ada", "Finn", "Zoe", "Ravi", "Ivy", "Omar")


def open_journal(data_dir: Path) -> Any:
    from host_tools.journal import open_journal as real

    return real(Path(data_dir))


def client_name(i: int) -> str:
    """Pseudonyms, as a therapist would type them: Mia, Sam, ..., then Mia 2, Sam 2, ..."""
    base = NAMES[i % len(NAMES)]
    return base if i < len(NAMES) else f"{base} {i // len(NAMES) + 1}"


def generate(
    data_dir: Path, clients: int = 50, weeks: int = 52, seed: int = 15, per_minute: float = 19.0
) -> Path:
    """Write a journal of `clients` x `weeks` weekly 30-minute sessions into data_dir (created),
    week by week as a practice would record them; returns the database's path.
    Each client improves slowly (more presses, deeper presses, quicker answers to cues), has
    its sensitivity raised once (week 20), two goals scored every four weeks, and every fourth
    week an extra session played without a computer (a device summary)."""
    journal = open_journal(data_dir)
    path = Path(journal.path)
    journal.close()
    rng = np.random.default_rng(seed)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = OFF")  # a generated file: a crash just rebuilds it
    with con:
        cids = []
        goal_ids: dict[int, list[int]] = {}
        for c in range(clients):
            cur = con.execute(
                "INSERT INTO clients(name, created) VALUES (?, ?)", (client_name(c), BASE)
            )
            cid = int(cur.lastrowid or 0)
            cids.append(cid)
            goal_ids[cid] = [
                int(
                    con.execute(
                        "INSERT INTO goals(client_id, text, created) VALUES (?, ?, ?)",
                        (cid, text, BASE),
                    ).lastrowid
                    or 0
                )
                for text in ("Answer a cue within 3 seconds", "Keep a steady beat for a song")
            ]
        for w in range(weeks):
            progress = w / max(1, weeks - 1)
            acts: list[tuple] = []
            cue_rows: list[tuple] = []
            for c, cid in enumerate(cids):
                started = BASE + w * 7 * 86400 + 9 * 3600 + c * 600  # mornings, one after another
                sid = _session(con, cid, "squeeze-pad", "live", started, started + SESSION_S)
                rate = per_minute * (0.7 + 0.6 * progress) * rng.uniform(0.85, 1.15)
                n = int(rate * SESSION_S / 60)
                gaps = rng.gamma(8.0 - 4.0 * (1 - progress), 1.0, n)
                onsets = np.cumsum(gaps) / gaps.sum() * (SESSION_S - 5) + started + 2
                reach = rng.random(n) < 0.3
                pad_peak = np.clip(rng.normal(35 + 25 * progress, 10, n), 3, 100)
                reach_mm = np.clip(rng.normal(120 - 50 * progress, 15, n), 10, 255)
                hold = np.clip(rng.lognormal(np.log(350 + 200 * progress), 0.4, n), 40, 5000)
                level = np.where(reach, (255 - reach_mm) * 64, pad_peak * 163).astype(int)
                acts.extend(
                    zip(
                        [sid] * n,
                        np.where(reach, "reach", "pad").tolist(),
                        onsets.tolist(),
                        np.where(reach, 0, 20 + pad_peak).astype(int).tolist(),
                        np.where(reach, reach_mm, pad_peak).tolist(),
                        np.where(reach, "mm", "% of full scale").tolist(),
                        level.tolist(),
                        hold.astype(int).tolist(),
                        strict=True,
                    )
                )
                sens = "60" if w < 20 else "75"
                con.executemany(
                    "INSERT INTO settings_changes(session_id, t, key, value) VALUES (?, ?, ?, ?)",
                    [
                        (sid, started, "pad.sensitivity", sens),
                        (sid, started, "pad.mode", "note"),
                        (sid, started, "reach.sensitivity", "50"),
                    ],
                )
                answer_p = 0.35 + 0.6 * progress
                for k in range(10):
                    t = started + 60 + k * 170
                    ok = rng.random() < answer_p
                    ms = float(rng.lognormal(np.log(2600 - 1400 * progress), 0.35)) if ok else None
                    cue_rows.append((sid, t, 5000, ms if ms is None or ms <= 5000 else None))
                con.execute(
                    "INSERT INTO notes(session_id, t, text) VALUES (?, ?, ?)",
                    (sid, started + 900, "Warm-up song, then free play."),
                )
                if w % 4 == 3:
                    for g, gid in enumerate(goal_ids[cid]):
                        score = int(
                            np.clip(round(-2 + 4 * progress + rng.normal(0, 0.4) - g), -2, 2)
                        )
                        con.execute(
                            "INSERT INTO goal_scores(goal_id, session_id, t, score) "
                            "VALUES (?, ?, ?, ?)",
                            (gid, sid, started + SESSION_S, score),
                        )
                    _standalone(con, rng, cid, started + 3 * 86400, progress)
            con.executemany(
                "INSERT INTO activations(session_id, sensor, t, velocity, peak, unit, level, "
                "hold_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                acts,
            )
            con.executemany(
                "INSERT INTO cues(session_id, t, window_ms, response_ms) VALUES (?, ?, ?, ?)",
                cue_rows,
            )
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path


def _session(con, cid, instrument, source, started, ended, approx=0) -> int:
    cur = con.execute(
        "INSERT INTO sessions(client_id, instrument, source, started, ended, approx) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (cid, instrument, source, started, ended, approx),
    )
    return int(cur.lastrowid or 0)


def _standalone(con, rng, cid, started, progress) -> None:
    dur = 1200.0
    sid = _session(con, cid, "squeeze-pad", "standalone", started, started + dur, approx=1)
    count = int(dur / 60 * 15 * (0.7 + 0.6 * progress))
    con.execute(
        "INSERT INTO standalone(session_id, sensor, unit, count, hold_ms_mean, hold_ms_max, "
        "peak_mean, peak_max, ioi_mean_ms, ioi_sd_ms, dur_s) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (sid, "pad", "% of full scale", count, 400.0, 1500.0, 30 + 25 * progress, 90.0,
         dur * 1000 / count, dur * 1000 / count * (0.4 - 0.2 * progress), dur),
    )  # fmt: skip


# -- the docs' pictures ------------------------------------------------------------------------


def sample_pictures(out_dir: Path) -> list[Path]:
    """docs/journal.md's sample report: Mia's charts, captions drawn in, from 26 generated weeks
    (`python -m benchmarks.journal --pictures docs/img/journal`)."""
    from host_tools.journal.analysis import client_report
    from host_tools.journal.report import DPI, captioned

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="attune-journal-sample-") as tmp:
        generate(Path(tmp), clients=1, weeks=26, per_minute=12.0)
        journal = open_journal(Path(tmp))
        try:
            report = client_report(journal, client_name(0))
        finally:
            journal.close()
        for chart, fig in captioned(report):
            path = out_dir / f"sample-{chart.key.replace('_', '-')}.png"
            fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
            written.append(path)
    return written


# -- the benchmark ------------------------------------------------------------------------------


def cache_dir() -> Path:
    """$ATTUNE_CACHE, else the user's cache folder (as host_tools.deps), then attune-bench/."""
    env = os.environ.get("ATTUNE_CACHE")
    if env:
        return Path(env) / "bench"
    import platformdirs

    return Path(platformdirs.user_cache_dir("attune", appauthor=False)) / "bench"


def _schema_key() -> str:
    """A short digest of the journal's schema as the real code creates it (tables, indexes,
    version): a cached database made for another schema is not reused."""
    with tempfile.TemporaryDirectory(prefix="attune-journal-schema-") as tmp:
        journal = open_journal(Path(tmp))
        con = sqlite3.connect(journal.path)
        sql = [r[0] or "" for r in con.execute("SELECT sql FROM sqlite_master ORDER BY name")]
        sql.append(str(con.execute("PRAGMA user_version").fetchone()[0]))
        con.close()
        journal.close()
    return hashlib.sha256("\n".join(sql).encode()).hexdigest()[:10]


def cached(clients: int, weeks: int) -> Path:
    """The data folder of a generated journal of that size, built once per generator and schema
    version (built in a temporary folder, then renamed, so a cut build is never reused)."""
    key = f"journal-g{GENERATOR_VERSION}-{_schema_key()}-{clients}x{weeks}"
    final = cache_dir() / key
    if (final / "journal.sqlite").is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=key + ".", dir=final.parent))
    try:
        generate(tmp, clients, weeks)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def figures(quick: bool = False) -> dict:
    """journal_report_s: one client's full HTML report with charts (median of 3, after one
    warm-up report of another client; journal_report_cpu_s: the CPU time it took, which a busy
    machine inflates less); journal_report_cold_s: `attune report` as a fresh process, imports
    included; journal_db_mb; journal_activations; the load average while measuring."""
    from host_tools.journal.report import write_report

    clients = 10 if quick else 50
    t0 = time.perf_counter()
    data = cached(clients, 52)
    build_s = time.perf_counter() - t0
    db = data / "journal.sqlite"
    con = sqlite3.connect(db)
    activations = con.execute("SELECT max(id) FROM activations").fetchone()[0] or 0
    con.close()
    out_dir = Path(tempfile.mkdtemp(prefix="attune-journal-bench-"))
    journal = open_journal(data)
    try:
        write_report(journal, client_name(1), out_dir / "warm-up.html")
        times, cpu = [], []
        for _ in range(3):
            t, c = time.perf_counter(), time.process_time()
            write_report(journal, client_name(0), out_dir / "report.html")
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        t = time.perf_counter()
        write_report(journal, client_name(0), out_dir / "report.pdf")
        pdf_s = time.perf_counter() - t
    finally:
        journal.close()
    cold = _cold_report(data, out_dir / "cold.html")
    shutil.rmtree(out_dir, ignore_errors=True)
    return {
        "journal_report_s": round(statistics.median(times), 3),
        "journal_report_cpu_s": round(statistics.median(cpu), 3),
        "journal_report_pdf_s": round(pdf_s, 3),
        "journal_report_cold_s": cold,
        "journal_db_mb": round(db.stat().st_size / 1e6, 1),
        "journal_activations": activations,
        "journal_clients": clients,
        "journal_build_s": round(build_s, 1),
        "journal_load_avg": round(os.getloadavg()[0], 2),
    }


def _cold_report(data: Path, out: Path) -> float | None:
    """`attune report` in a fresh interpreter, imports included (what a therapist waits)."""
    cmd = [sys.executable, "-m", "host_tools.cli", "report", client_name(0)]
    cmd += ["--data", str(data), "--out", str(out)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t
    return round(took, 3) if done.returncode == 0 else None


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.journal", description=__doc__)
    parser.add_argument("--pictures", type=Path, metavar="DIR", help="draw the docs' pictures")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.pictures:
        for p in sample_pictures(args.pictures):
            print(p)
    else:
        print(figures(args.quick))
