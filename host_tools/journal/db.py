"""The session journal's SQLite file: schema, migrations, and every read and write of it.

Usage: j = open_journal(); sid = j.begin_session("anna", "squeeze-pad", time.time()); j.close()

One file, `<data dir>/journal.sqlite`, readable by its owner only (0600). The schema version is
`PRAGMA user_version`; an older file is migrated in one transaction, a newer or damaged one is
refused with a JournalError and left exactly as it was. WAL (a crash keeps every committed
transaction), foreign keys (deleting a client deletes everything of theirs) and secure_delete
(deleted rows are overwritten with zeros, so `forget` removes a client from the file's bytes).
"""

from __future__ import annotations

import csv
import math
import os
import sqlite3
import stat
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from host_tools.errors import AttuneError
from host_tools.journal.units import real_peak

SCHEMA_VERSION = 2
FILE_NAME = "journal.sqlite"
_HEADER = b"SQLite format 3\x00"
_BUSY_MS = 5000  # another program (Studio, `attune record`) may hold the write lock briefly

# The current schema (version 2), exactly as docs/journal-recording.md and the contract list it.
SCHEMA = """
CREATE TABLE clients(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created REAL NOT NULL);
CREATE TABLE sessions(id INTEGER PRIMARY KEY,
  client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
  instrument TEXT NOT NULL, source TEXT NOT NULL CHECK(source IN ('live','standalone')),
  started REAL NOT NULL, ended REAL,
  approx INTEGER NOT NULL DEFAULT 0,
  cue_window_ms INTEGER NOT NULL DEFAULT 5000);
CREATE INDEX sessions_by_client ON sessions(client_id, started);
CREATE TABLE activations(id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  sensor TEXT NOT NULL, t REAL NOT NULL, velocity INTEGER NOT NULL, peak REAL NOT NULL,
  unit TEXT NOT NULL, level INTEGER NOT NULL, hold_ms INTEGER NOT NULL);
CREATE INDEX activations_by_session ON activations(session_id, t);
CREATE TABLE settings_changes(id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  t REAL NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL);
CREATE INDEX settings_by_session ON settings_changes(session_id, t);
CREATE TABLE notes(id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  t REAL NOT NULL, text TEXT NOT NULL);
CREATE INDEX notes_by_session ON notes(session_id, t);
CREATE TABLE cues(id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  t REAL NOT NULL, window_ms INTEGER NOT NULL,
  response_ms REAL);
CREATE INDEX cues_by_session ON cues(session_id, t);
CREATE TABLE standalone(id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  sensor TEXT NOT NULL, unit TEXT NOT NULL, count INTEGER NOT NULL,
  hold_ms_mean REAL, hold_ms_max REAL, peak_mean REAL, peak_max REAL,
  ioi_mean_ms REAL, ioi_sd_ms REAL, dur_s REAL NOT NULL);
CREATE INDEX standalone_by_session ON standalone(session_id);
CREATE TABLE goals(id INTEGER PRIMARY KEY,
  client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
  text TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE goal_scores(id INTEGER PRIMARY KEY,
  goal_id INTEGER NOT NULL REFERENCES goals(id) ON DELETE CASCADE,
  session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE,
  t REAL NOT NULL, score INTEGER NOT NULL CHECK(score BETWEEN -2 AND 2));
"""

# MIGRATIONS[v]: the statements that take a version-v file to version v+1 (one transaction).
MIGRATIONS: dict[int, str] = {
    1: """
ALTER TABLE activations ADD COLUMN level INTEGER NOT NULL DEFAULT 0;
CREATE TABLE standalone(id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  sensor TEXT NOT NULL, unit TEXT NOT NULL, count INTEGER NOT NULL,
  hold_ms_mean REAL, hold_ms_max REAL, peak_mean REAL, peak_max REAL,
  ioi_mean_ms REAL, ioi_sd_ms REAL, dur_s REAL NOT NULL);
CREATE INDEX standalone_by_session ON standalone(session_id);
CREATE INDEX sessions_by_client ON sessions(client_id, started);
CREATE INDEX settings_by_session ON settings_changes(session_id, t);
CREATE INDEX notes_by_session ON notes(session_id, t);
CREATE INDEX cues_by_session ON cues(session_id, t);
""",
}

TABLES = (
    "clients",
    "sessions",
    "activations",
    "settings_changes",
    "notes",
    "cues",
    "standalone",
    "goals",
    "goal_scores",
)
ACTIVATION_COLUMNS = ("sensor", "t", "velocity", "peak", "unit", "level", "hold_ms")


class JournalError(AttuneError):
    """The journal cannot be used: a damaged file, a newer schema, a locked or unwritable
    file, an unknown client... The message says what, in plain words."""


def default_dir() -> Path:
    """The data folder: $ATTUNE_DATA, else the user's (the same folder as Studio's)."""
    from host_tools.hub.remote import data_dir

    return data_dir()


def journal_path(data_dir: Path | None = None) -> Path:
    return Path(data_dir if data_dir is not None else default_dir()) / FILE_NAME


def _private_dir(folder: Path, ours: bool) -> None:
    """Create the data folder readable by its owner only; tighten our own default folder."""
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True)
        return
    if ours:
        mode = stat.S_IMODE(folder.stat().st_mode)
        if mode & 0o077:
            try:
                folder.chmod(mode & 0o700)
            except OSError:
                pass  # not ours to change: the file itself is still 0600


def _refuse(path: Path, why: str) -> JournalError:
    return JournalError(
        "The journal " + str(path) + " " + why + " It was left exactly as it is; nothing "
        "was written to it. Move it aside (or restore a backup) to start a new journal."
    )


def open_journal(data_dir: Path | None = None) -> Journal:
    """The journal in `data_dir` (default: --data / $ATTUNE_DATA / the user's data folder),
    created or migrated to SCHEMA_VERSION. Raises JournalError for a damaged file or one
    from a newer Attune, without writing to it."""
    explicit = data_dir is not None or bool(os.environ.get("ATTUNE_DATA"))
    folder = Path(data_dir) if data_dir is not None else default_dir()
    try:
        _private_dir(folder, ours=not explicit)
    except OSError as e:
        raise JournalError(
            "The journal's folder " + str(folder) + " cannot be created (" + str(e) + ")."
        ) from None
    path = folder / FILE_NAME
    return Journal(path)


class Journal:
    """One connection to the journal file; use it from one thread (the Recorder opens its
    own). Every method commits before it returns, except `add_activations`' batches inside
    `batch()`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._check_header()
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        if fresh:
            try:  # created 0600 before SQLite opens it: its -wal and -shm files take its mode
                fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
                os.close(fd)
            except OSError as e:
                raise JournalError(
                    "The journal " + str(self.path) + " cannot be created (" + str(e) + ")."
                ) from None
        self._private_file()
        try:
            self.db = sqlite3.connect(
                str(self.path), isolation_level=None, timeout=_BUSY_MS / 1000.0
            )
        except sqlite3.Error as e:
            raise _refuse(self.path, "cannot be opened (" + str(e) + ").") from None
        try:
            self._prepare()
        except BaseException:
            self.db.close()
            raise

    # -- opening ----------------------------------------------------------------------------

    def _check_header(self) -> None:
        try:
            with open(self.path, "rb") as f:
                head = f.read(len(_HEADER))
        except FileNotFoundError:
            return
        except OSError as e:
            raise JournalError(
                "The journal " + str(self.path) + " cannot be read (" + str(e) + ")."
            ) from None
        if head and head != _HEADER:
            raise _refuse(self.path, "is not an SQLite database (it may be damaged).")

    def _private_file(self) -> None:
        for p in (self.path, Path(str(self.path) + "-wal"), Path(str(self.path) + "-shm")):
            try:
                if stat.S_IMODE(p.stat().st_mode) & 0o077:
                    p.chmod(0o600)
            except OSError:
                pass

    def _prepare(self) -> None:
        db = self.db
        try:
            # Reads only, until the file is known to be ours and not newer
            version = db.execute("PRAGMA user_version").fetchone()[0]
            names = {
                r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except sqlite3.DatabaseError as e:
            raise _refuse(self.path, "is damaged (" + str(e) + ").") from None
        if version > SCHEMA_VERSION:
            raise _refuse(
                self.path,
                "was written by a newer Attune (journal version "
                + str(version)
                + "; this one reads up to "
                + str(SCHEMA_VERSION)
                + "). Update Attune to use it.",
            )
        if version == 0 and names:
            raise _refuse(self.path, "is an SQLite file but not an Attune journal.")
        if version > 0 and not {"clients", "sessions", "activations"} <= names:
            raise _refuse(self.path, "is damaged (tables are missing).")
        try:
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA secure_delete = ON")
            db.execute("PRAGMA busy_timeout = " + str(_BUSY_MS))
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise JournalError(
                    "The journal " + str(self.path) + " could not be switched to WAL mode "
                    "(it stayed '" + str(mode) + "'); is it on a network drive?"
                )
            db.execute("PRAGMA synchronous = FULL")  # a power cut keeps every commit
            if version < SCHEMA_VERSION:
                self._migrate(version)
        except sqlite3.OperationalError as e:
            raise JournalError(
                "The journal " + str(self.path) + " cannot be written (" + str(e) + "). "
                "Another program may be holding it."
            ) from None
        self._private_file()

    def _migrate(self, version: int) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            again = db.execute("PRAGMA user_version").fetchone()[0]  # another program won?
            if again == 0:
                _script(db, SCHEMA)
            else:
                for v in range(again, SCHEMA_VERSION):
                    _script(db, MIGRATIONS[v])
            db.execute("PRAGMA user_version = " + str(SCHEMA_VERSION))
            db.execute("COMMIT")
        except BaseException as e:
            db.execute("ROLLBACK")
            if isinstance(e, sqlite3.DatabaseError):
                raise JournalError(
                    "The journal "
                    + str(self.path)
                    + " could not be updated from version "
                    + str(version)
                    + " to "
                    + str(SCHEMA_VERSION)
                    + " ("
                    + str(e)
                    + "); it "
                    "was left as it was."
                ) from None
            raise

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def check(self) -> list[str]:
        """SQLite's integrity check of the whole file: [] when sound, else its findings."""
        rows = [r[0] for r in self.db.execute("PRAGMA integrity_check")]
        return [] if rows == ["ok"] else rows

    # -- writing ----------------------------------------------------------------------------

    def _write(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            if self.db.in_transaction:
                return self.db.execute(sql, args)
            self.db.execute("BEGIN IMMEDIATE")
            try:
                cur = self.db.execute(sql, args)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            return cur
        except sqlite3.IntegrityError as e:
            raise JournalError("The journal refused a row: " + str(e) + ".") from None
        except sqlite3.OperationalError as e:
            raise JournalError(
                "The journal " + str(self.path) + " could not be written (" + str(e) + ")."
            ) from None

    def batch(self) -> _Batch:
        """`with journal.batch():` groups writes into one transaction (one commit)."""
        return _Batch(self.db)

    def client_id(self, name: str, create: bool = True) -> int | None:
        row = self.db.execute("SELECT id FROM clients WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return int(row[0])
        if not create:
            return None
        if not name.strip():
            raise JournalError("A client needs a name (a pseudonym is fine).")
        cur = self._write("INSERT INTO clients(name, created) VALUES (?, ?)", (name, time.time()))
        return int(cur.lastrowid or 0)

    def _known(self, client: str) -> int:
        cid = self.client_id(client, create=False)
        if cid is None:
            raise JournalError("The journal has no client called '" + client + "'.")
        return cid

    def begin_session(
        self,
        client: str,
        instrument: str,
        started: float,
        source: str = "live",
        approx: bool = False,
        cue_window_ms: int = 5000,
    ) -> int:
        if source not in ("live", "standalone"):
            raise JournalError("A session's source is 'live' or 'standalone', not " + source)
        with self.batch():
            cid = self.client_id(client)
            cur = self._write(
                "INSERT INTO sessions(client_id, instrument, source, started, approx, "
                "cue_window_ms) VALUES (?, ?, ?, ?, ?, ?)",
                (cid, instrument, source, float(started), int(bool(approx)), int(cue_window_ms)),
            )
        return int(cur.lastrowid or 0)

    def end_session(self, session_id: int, ended: float) -> None:
        self._write("UPDATE sessions SET ended = ? WHERE id = ?", (float(ended), session_id))

    def add_activations(self, session_id: int, rows: Iterable[Sequence[Any]]) -> None:
        """rows: (sensor, t, velocity, peak, unit, level, hold_ms); t in unix seconds."""
        data = [(session_id, *_activation(r)) for r in rows]
        if not data:
            return
        try:
            with self.batch():
                self.db.executemany(
                    "INSERT INTO activations(session_id, sensor, t, velocity, peak, unit, "
                    "level, hold_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    data,
                )
        except sqlite3.IntegrityError as e:
            raise JournalError("The journal refused an activation: " + str(e) + ".") from None

    def add_setting(self, session_id: int, t: float, key: str, value: str) -> None:
        self._write(
            "INSERT INTO settings_changes(session_id, t, key, value) VALUES (?, ?, ?, ?)",
            (session_id, float(t), str(key), str(value)),
        )

    def add_note(self, session_id: int, t: float, text: str) -> None:
        self._write(
            "INSERT INTO notes(session_id, t, text) VALUES (?, ?, ?)",
            (session_id, float(t), str(text)),
        )

    def add_cue(self, session_id: int, t: float, window_ms: int) -> int:
        cur = self._write(
            "INSERT INTO cues(session_id, t, window_ms) VALUES (?, ?, ?)",
            (session_id, float(t), int(window_ms)),
        )
        return int(cur.lastrowid or 0)

    def set_cue_response(self, cue_id: int, response_ms: float | None) -> None:
        self._write("UPDATE cues SET response_ms = ? WHERE id = ?", (response_ms, cue_id))

    def add_goal(self, client: str, text: str) -> int:
        if not text.strip():
            raise JournalError("A goal needs some words saying what it is.")
        with self.batch():
            cid = self.client_id(client)
            cur = self._write(
                "INSERT INTO goals(client_id, text, created) VALUES (?, ?, ?)",
                (cid, text, time.time()),
            )
        return int(cur.lastrowid or 0)

    def score_goal(
        self, goal_id: int, t: float, score: int, session_id: int | None = None
    ) -> None:
        if not isinstance(score, int) or not -2 <= score <= 2:
            raise JournalError(
                "A goal's score is a whole number from -2 to +2 (Goal Attainment Scaling), "
                "not " + str(score) + "."
            )
        if self.db.execute("SELECT 1 FROM goals WHERE id = ?", (goal_id,)).fetchone() is None:
            raise JournalError("The journal has no goal number " + str(goal_id) + ".")
        self._write(
            "INSERT INTO goal_scores(goal_id, session_id, t, score) VALUES (?, ?, ?, ?)",
            (goal_id, session_id, float(t), score),
        )

    def store_standalone(
        self, client: str, instrument: str, collected_at: float, device_session: Any
    ) -> int:
        """One session the instrument logged on its own (host_tools.devicejournal's
        DeviceSession) as a session with source 'standalone'. The instrument has no clock:
        the session is taken to have ended at `collected_at` and `approx` says so. Peaks
        are stored in real units, like live activations. A session already stored (same
        instrument, boot and record number) is not stored twice: its id is returned."""
        seq, boot = int(device_session.seq), int(device_session.boot)
        dur = float(device_session.dur_s)
        mark = "Played without a computer (instrument record " + str(seq)
        mark += ", start " + str(boot) + ")."
        found = self.db.execute(
            "SELECT s.id FROM sessions s JOIN notes n ON n.session_id = s.id "
            "JOIN clients c ON c.id = s.client_id WHERE c.name = ? AND s.instrument = ? "
            "AND s.source = 'standalone' AND n.text = ?",
            (client, instrument, mark),
        ).fetchone()
        if found is not None:
            return int(found[0])
        started = collected_at - dur
        with self.batch():
            sid = self.begin_session(client, instrument, started, "standalone", approx=True)
            self.end_session(sid, collected_at)
            self.add_note(sid, started, mark)
            for s in device_session.sensors:
                unit = str(s.unit)
                peak_mean, real_unit = real_peak(unit, float(s.peak_mean))
                peak_max, _ = real_peak(unit, float(s.peak_max))
                self._write(
                    "INSERT INTO standalone(session_id, sensor, unit, count, hold_ms_mean, "
                    "hold_ms_max, peak_mean, peak_max, ioi_mean_ms, ioi_sd_ms, dur_s) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        sid,
                        str(s.name),
                        real_unit,
                        int(s.count),
                        float(s.hold_ms_mean),
                        float(s.hold_ms_max),
                        peak_mean,
                        peak_max,
                        float(s.ioi_mean_ms),
                        float(s.ioi_sd_ms),
                        dur,
                    ),
                )
        return sid

    # -- reading ----------------------------------------------------------------------------

    def clients(self) -> list[dict[str, Any]]:
        """Every client: {"name", "sessions", "first", "last", "activations"} (first/last:
        the start of their first and last session, None without sessions)."""
        rows = self.db.execute(
            "SELECT c.name, COUNT(s.id), MIN(s.started), MAX(s.started), "
            "COALESCE(SUM((SELECT COUNT(*) FROM activations a WHERE a.session_id = s.id)), 0) "
            "FROM clients c LEFT JOIN sessions s ON s.client_id = c.id "
            "GROUP BY c.id ORDER BY c.name COLLATE NOCASE"
        ).fetchall()
        return [
            {"name": n, "sessions": k, "first": f, "last": la, "activations": int(a)}
            for n, k, f, la, a in rows
        ]

    def sessions(self, client: str) -> list[dict[str, Any]]:
        cid = self._known(client)
        rows = self.db.execute(
            "SELECT s.id, s.instrument, s.source, s.started, s.ended, s.approx, "
            "(SELECT COUNT(*) FROM activations a WHERE a.session_id = s.id) "
            "FROM sessions s WHERE s.client_id = ? ORDER BY s.started, s.id",
            (cid,),
        ).fetchall()
        keys = ("id", "instrument", "source", "started", "ended", "approx", "activations")
        out = []
        for r in rows:
            d = dict(zip(keys, r, strict=True))
            d["approx"] = bool(d["approx"])
            out.append(d)
        return out

    def goals(self, client: str) -> list[dict[str, Any]]:
        cid = self._known(client)
        out = []
        for gid, text in self.db.execute(
            "SELECT id, text FROM goals WHERE client_id = ? ORDER BY id", (cid,)
        ).fetchall():
            scores = [
                {"t": t, "score": s, "session_id": sid}
                for t, s, sid in self.db.execute(
                    "SELECT t, score, session_id FROM goal_scores WHERE goal_id = ? "
                    "ORDER BY t, id",
                    (gid,),
                )
            ]
            out.append({"id": gid, "text": text, "scores": scores})
        return out

    def export_csv(self, client: str, out_dir: Path) -> list[Path]:
        """One CSV file per table holding this client's rows (client.csv, sessions.csv,
        activations.csv, ...), written into out_dir (created). Returns the files."""
        cid = self._known(client)
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        sess = "(SELECT id FROM sessions WHERE client_id = :c)"
        queries = {
            "client": "SELECT * FROM clients WHERE id = :c",
            "sessions": "SELECT * FROM sessions WHERE client_id = :c ORDER BY started, id",
            "activations": f"SELECT * FROM activations WHERE session_id IN {sess} "
            "ORDER BY session_id, t",
            "settings_changes": f"SELECT * FROM settings_changes WHERE session_id IN {sess} "
            "ORDER BY session_id, t, id",
            "notes": f"SELECT * FROM notes WHERE session_id IN {sess} ORDER BY session_id, t",
            "cues": f"SELECT * FROM cues WHERE session_id IN {sess} ORDER BY session_id, t",
            "standalone": f"SELECT * FROM standalone WHERE session_id IN {sess} ORDER BY id",
            "goals": "SELECT * FROM goals WHERE client_id = :c ORDER BY id",
            "goal_scores": "SELECT * FROM goal_scores WHERE goal_id IN "
            "(SELECT id FROM goals WHERE client_id = :c) ORDER BY goal_id, t",
        }
        written = []
        for name, sql in queries.items():
            cur = self.db.execute(sql, {"c": cid})
            path = out_dir / (name + ".csv")
            fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow([d[0] for d in cur.description])
                for row in cur:
                    w.writerow(row)
            written.append(path)
        return written

    # -- forgetting -------------------------------------------------------------------------

    def forget(self, client: str) -> bool:
        """Erase a client and everything recorded for them, then rebuild the file (VACUUM)
        and empty the write-ahead log, so neither file holds their name or data any more.
        False when there was no such client. Raises JournalError when another program
        (Studio recording) keeps the log from being emptied: run it again once it stops."""
        cid = self.client_id(client, create=False)
        if cid is None:
            return False
        self._write("DELETE FROM clients WHERE id = ?", (cid,))
        self._shrink()
        return True

    def _shrink(self) -> None:
        try:
            self._checkpoint()
            self.db.execute("VACUUM")
            self._checkpoint()
        except sqlite3.OperationalError as e:
            raise JournalError(
                "The client's rows are deleted, but the journal could not be rebuilt ("
                + str(e)
                + "). Stop Studio or any `attune record`, then run the command again."
            ) from None

    def _checkpoint(self) -> None:
        busy, _, _ = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise sqlite3.OperationalError("another program is reading the journal")

    def close(self) -> None:
        try:
            self.db.close()
        except sqlite3.Error:
            pass

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Batch:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.outer = False

    def __enter__(self) -> _Batch:
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")
            self.outer = True
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        if not self.outer:
            return
        if kind is None:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:
            self.db.execute("ROLLBACK")


def _script(db: sqlite3.Connection, sql: str) -> None:
    """Run several statements inside the caller's transaction (executescript would commit)."""
    for stmt in sql.split(";"):
        if stmt.strip():
            db.execute(stmt)


def _activation(row: Sequence[Any]) -> tuple[Any, ...]:
    sensor, t, velocity, peak, unit, level, hold_ms = row
    peak = float(peak)
    if math.isnan(peak):  # SQLite would store NaN as NULL: "unknown" is 0 with unit ""
        peak, unit = 0.0, ""
    return (str(sensor), float(t), int(velocity), peak, str(unit), int(level), int(hold_ms))
