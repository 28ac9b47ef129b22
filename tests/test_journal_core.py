"""The journal's SQLite file (host_tools/journal/db.py): schema, migration from version 1,
refusing damaged and newer files untouched, privacy (0600, forgetting leaves no trace)."""

from __future__ import annotations

import csv
import os
import sqlite3
import stat
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from host_tools.journal import SCHEMA_VERSION, JournalError, open_journal
from host_tools.journal.db import FILE_NAME, TABLES

POSIX = sys.platform != "win32"

# The first shape of the journal, written out here (not imported) so that the test keeps
# describing the files people really have: no `level` on activations, no `standalone` table.
V1 = """
CREATE TABLE clients(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created REAL NOT NULL);
CREATE TABLE sessions(id INTEGER PRIMARY KEY,
  client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
  instrument TEXT NOT NULL, source TEXT NOT NULL CHECK(source IN ('live','standalone')),
  started REAL NOT NULL, ended REAL, approx INTEGER NOT NULL DEFAULT 0,
  cue_window_ms INTEGER NOT NULL DEFAULT 5000);
CREATE TABLE activations(id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  sensor TEXT NOT NULL, t REAL NOT NULL, velocity INTEGER NOT NULL, peak REAL NOT NULL,
  unit TEXT NOT NULL, hold_ms INTEGER NOT NULL);
CREATE INDEX activations_by_session ON activations(session_id, t);
CREATE TABLE settings_changes(id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  t REAL NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL);
CREATE TABLE notes(id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  t REAL NOT NULL, text TEXT NOT NULL);
CREATE TABLE cues(id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  t REAL NOT NULL, window_ms INTEGER NOT NULL, response_ms REAL);
CREATE TABLE goals(id INTEGER PRIMARY KEY,
  client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
  text TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE goal_scores(id INTEGER PRIMARY KEY,
  goal_id INTEGER NOT NULL REFERENCES goals(id) ON DELETE CASCADE,
  session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE,
  t REAL NOT NULL, score INTEGER NOT NULL CHECK(score BETWEEN -2 AND 2));
INSERT INTO clients VALUES (1, 'anna', 1.0e9);
INSERT INTO sessions VALUES (1, 1, 'squeeze-pad', 'live', 1.0e9, 1.0e9 + 1800, 0, 4000);
INSERT INTO activations VALUES (1, 1, 'pad', 1.0e9 + 10, 90, 41.5, '% of full scale', 350);
INSERT INTO activations VALUES (2, 1, 'pad', 1.0e9 + 12, 70, 30.0, '% of full scale', 200);
INSERT INTO cues VALUES (1, 1, 1.0e9 + 9, 4000, 1000.0);
INSERT INTO goals VALUES (1, 1, 'Presses on cue', 1.0e9);
INSERT INTO goal_scores VALUES (1, 1, 1, 1.0e9 + 1800, -1);
PRAGMA user_version = 1;
"""


def columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in db.execute("PRAGMA table_info(" + table + ")")]


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def one_session(j, client="anna", t0=1.7e9, n=3) -> int:
    sid = j.begin_session(client, "squeeze-pad", t0, cue_window_ms=4000)
    j.add_setting(sid, t0, "pad.sensitivity", "80")
    j.add_activations(
        sid, [("pad", t0 + i, 90, 40.0 + i, "% of full scale", 9000, 300) for i in range(n)]
    )
    j.add_note(sid, t0 + 5, "Smiled at the drum sound.")
    cue = j.add_cue(sid, t0 + 0.5, 4000)
    j.set_cue_response(cue, 500.0)
    j.end_session(sid, t0 + 60)
    return sid


def test_a_new_journal_has_the_schema_and_is_private(tmp_path):
    folder = tmp_path / "data"
    with open_journal(folder) as j:
        assert j.path == folder / FILE_NAME
        assert j.version == SCHEMA_VERSION == 2
        names = {r[0] for r in j.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert names == set(TABLES)
        assert j.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert j.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert j.db.execute("PRAGMA secure_delete").fetchone()[0] == 1
        assert columns(j.db, "activations") == [
            "id",
            "session_id",
            "sensor",
            "t",
            "velocity",
            "peak",
            "unit",
            "level",
            "hold_ms",
        ]
        one_session(j)
        if POSIX:
            for p in folder.iterdir():  # journal.sqlite, -wal, -shm
                assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.skipif(not POSIX, reason="file modes")
def test_a_journal_readable_by_others_is_made_private_again(tmp_path):
    open_journal(tmp_path).close()
    (tmp_path / FILE_NAME).chmod(0o644)
    open_journal(tmp_path).close()
    assert stat.S_IMODE((tmp_path / FILE_NAME).stat().st_mode) == 0o600


def test_the_data_folder_follows_attune_data(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTUNE_DATA", str(tmp_path / "env"))
    with open_journal() as j:
        assert j.path == tmp_path / "env" / FILE_NAME


def test_reading_back_sessions_clients_and_goals(tmp_path):
    with open_journal(tmp_path) as j:
        one_session(j, "anna", 1.7e9, n=3)
        one_session(j, "anna", 1.7e9 + 7 * 86400, n=5)
        one_session(j, "ben", 1.7e9, n=2)
        j.client_id("carla")
        assert j.clients() == [
            {"name": "anna", "sessions": 2, "first": 1.7e9, "last": 1.7e9 + 7 * 86400,
             "activations": 8},
            {"name": "ben", "sessions": 1, "first": 1.7e9, "last": 1.7e9, "activations": 2},
            {"name": "carla", "sessions": 0, "first": None, "last": None, "activations": 0},
        ]  # fmt: skip
        s = j.sessions("anna")
        assert [x["activations"] for x in s] == [3, 5]
        assert set(s[0]) == {"id", "instrument", "source", "started", "ended", "approx",
                             "activations"}  # fmt: skip
        assert s[0]["source"] == "live" and s[0]["approx"] is False
        g = j.add_goal("anna", "Answers a cue within 4 s")
        j.score_goal(g, 1.7e9, -1, s[0]["id"])
        j.score_goal(g, 1.7e9 + 7 * 86400, 1)
        assert j.goals("anna") == [
            {"id": g, "text": "Answers a cue within 4 s", "scores": [
                {"t": 1.7e9, "score": -1, "session_id": s[0]["id"]},
                {"t": 1.7e9 + 7 * 86400, "score": 1, "session_id": None}]}
        ]  # fmt: skip
        with pytest.raises(JournalError, match="-2 to \\+2"):
            j.score_goal(g, 1.7e9, 3)
        with pytest.raises(JournalError, match="no goal"):
            j.score_goal(999, 1.7e9, 0)
        with pytest.raises(JournalError, match="no client called 'zoe'"):
            j.sessions("zoe")
        assert j.client_id("zoe", create=False) is None


def test_a_version_1_journal_is_migrated_keeping_its_rows(tmp_path):
    path = tmp_path / FILE_NAME
    db = sqlite3.connect(path)
    db.executescript(V1)
    db.close()
    with open_journal(tmp_path) as j:
        assert j.version == 2
        assert "level" in columns(j.db, "activations")
        rows = j.db.execute("SELECT sensor, velocity, peak, level, hold_ms FROM activations")
        assert rows.fetchall() == [("pad", 90, 41.5, 0, 350), ("pad", 70, 30.0, 0, 200)]
        assert j.db.execute("SELECT response_ms FROM cues").fetchall() == [(1000.0,)]
        assert j.goals("anna")[0]["scores"][0]["score"] == -1
        assert j.check() == []
        # and the new shape works: a standalone session and an activation with its level
        sid = j.begin_session("anna", "squeeze-pad", 1.1e9)
        j.add_activations(sid, [("pad", 1.1e9, 80, 20.0, "% of full scale", 7000, 100)])
        j.store_standalone("anna", "squeeze-pad", 1.2e9, device_session())
    with open_journal(tmp_path) as j:  # opening it again changes nothing
        assert j.version == 2 and j.clients()[0]["sessions"] == 3


def test_a_failed_migration_leaves_the_version_1_file_as_it_was(tmp_path, monkeypatch):
    from host_tools.journal import db as dbmod

    path = tmp_path / FILE_NAME
    con = sqlite3.connect(path)
    con.executescript(V1)
    con.close()
    monkeypatch.setitem(dbmod.MIGRATIONS, 1, dbmod.MIGRATIONS[1] + "; CREATE TABLE clients(x)")
    with pytest.raises(JournalError, match="from version 1 to 2 .*left as it was"):
        open_journal(tmp_path)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "level" not in columns(con, "activations")
    assert con.execute("SELECT COUNT(*) FROM activations").fetchone()[0] == 2
    con.close()


def made_newer(folder: Path) -> None:
    with open_journal(folder) as j:
        one_session(j)
        j.db.execute("PRAGMA user_version = 3")


@pytest.mark.parametrize(
    "spoil, words",
    [
        ("newer", "newer Attune \\(journal version 3"),
        ("garbage", "not an SQLite database"),
        ("torn", "damaged"),
        ("foreign", "not an Attune journal"),
    ],
)
def test_a_bad_journal_is_refused_and_left_byte_identical(tmp_path, spoil, words):
    path = tmp_path / FILE_NAME
    if spoil == "newer":
        made_newer(tmp_path)
    elif spoil == "garbage":
        path.write_bytes(os.urandom(8192))
    elif spoil == "torn":  # a real journal whose schema page was overwritten
        with open_journal(tmp_path) as j:
            one_session(j)
        data = bytearray(path.read_bytes())
        data[100:4096] = os.urandom(3996)
        path.write_bytes(bytes(data))
    else:  # someone else's SQLite file
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE recipes(name TEXT)")
        con.commit()
        con.close()
    before = files_of(tmp_path)
    with pytest.raises(JournalError, match=words) as e:
        open_journal(tmp_path)
    assert "left exactly as it is" in e.value.message
    assert files_of(tmp_path) == before


def test_forgetting_a_client_leaves_no_trace_of_their_name_in_the_files(tmp_path):
    name = "Zebedee-Quux"
    with open_journal(tmp_path) as j:
        for k in range(30):  # enough rows to fill several pages
            one_session(j, "anna", 1.7e9 + k * 86400, n=40)
            sid = one_session(j, name, 1.7e9 + k * 86400, n=40)
            j.add_note(sid, 1.7e9, "Session with " + name + " and the drum.")
        j.add_goal(name, name + " holds the switch for 2 s")
        keep = j.clients()[0]
        assert any(name.encode() in b for b in files_of(tmp_path).values())
        assert j.forget(name) is True
        assert j.forget(name) is False
        assert [c["name"] for c in j.clients()] == ["anna"]
        assert j.clients()[0] == keep
        assert j.db.execute("SELECT COUNT(*) FROM notes").fetchone()[0] == 30
        assert j.db.execute("SELECT COUNT(*) FROM goals").fetchone()[0] == 0
        left = files_of(tmp_path)  # while the journal is still open: -wal and -shm too
        for fname, data in left.items():
            assert name.encode() not in data, fname
            assert name.encode("utf-16-le") not in data, fname
    for data in files_of(tmp_path).values():
        assert name.encode() not in data


def device_session(seq=12, boot=7):
    sensor = SimpleNamespace(
        name="pad",
        unit="read_u16",
        count=120,
        hold_ms_mean=420,
        hold_ms_max=1500,
        peak_mean=13107,
        peak_max=32768,
        ioi_mean_ms=2400,
        ioi_sd_ms=600,
    )
    return SimpleNamespace(seq=seq, boot=boot, dur_s=1830, sensors=[sensor])


def test_a_standalone_session_is_stored_once_in_real_units(tmp_path):
    with open_journal(tmp_path) as j:
        sid = j.store_standalone("anna", "squeeze-pad", 1.7e9, device_session())
        assert j.store_standalone("anna", "squeeze-pad", 1.7e9 + 60, device_session()) == sid
        other = j.store_standalone("anna", "squeeze-pad", 1.7e9, device_session(seq=13))
        assert other != sid
        (s, _) = j.sessions("anna")
        assert s["source"] == "standalone" and s["approx"] is True
        assert s["started"] == 1.7e9 - 1830 and s["ended"] == 1.7e9
        row = j.db.execute(
            "SELECT sensor, unit, count, hold_ms_mean, peak_mean, peak_max, ioi_sd_ms, dur_s "
            "FROM standalone WHERE session_id = ?",
            (sid,),
        ).fetchone()
        assert row == ("pad", "% of full scale", 120, 420.0, 20.0, 50.001, 600.0, 1830.0)


def test_export_writes_one_csv_per_table_with_only_that_clients_rows(tmp_path):
    with open_journal(tmp_path / "db") as j:
        one_session(j, "anna", n=4)
        one_session(j, "ben", n=9)
        j.add_goal("anna", "Presses on cue")
        files = j.export_csv("anna", tmp_path / "out")
    assert sorted(p.name for p in files) == sorted(
        ["client.csv"] + [t + ".csv" for t in TABLES if t != "clients"]
    )
    with open(tmp_path / "out" / "activations.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and rows[0]["unit"] == "% of full scale" and rows[0]["level"] == "9000"
    client = (tmp_path / "out" / "client.csv").read_text()
    assert "anna" in client and "ben" not in client
    if POSIX:
        assert stat.S_IMODE(files[0].stat().st_mode) == 0o600


def test_an_unknown_peak_is_stored_as_zero_with_no_unit(tmp_path):
    with open_journal(tmp_path) as j:
        sid = j.begin_session("anna", "big-switch", 1.7e9)
        j.add_activations(sid, [("switch", 1.7e9, 100, float("nan"), "on", 0, 120)])
        assert j.db.execute("SELECT peak, unit FROM activations").fetchone() == (0.0, "")
