"""The session journal (issue 15): what a client did, session after session, in one local
SQLite file. See docs/journal-recording.md.

Usage: from host_tools.journal import open_journal, Recorder, JournalError
"""

from __future__ import annotations

from host_tools.journal.db import (
    FILE_NAME,
    SCHEMA_VERSION,
    Journal,
    JournalError,
    journal_path,
    open_journal,
)
from host_tools.journal.recorder import Recorder
from host_tools.journal.units import real_peak

__all__ = [
    "FILE_NAME",
    "SCHEMA_VERSION",
    "Journal",
    "JournalError",
    "Recorder",
    "journal_path",
    "open_journal",
    "real_peak",
]
