"""Sessions played without a computer: from the instrument's own log into the journal.

Usage: stored, problems = collect_into(journal, device_client, "anna")

Reads every readable record (host_tools.devicejournal.collect), stores each as a `standalone`
session of the client, and only once the journal has committed them clears them on the
instrument, so a crash or a lost cable in between loses nothing (a session read twice is
stored once: Journal.store_standalone). The instrument has no clock: the sessions are placed
back to back, the newest ending now, and marked `approx`.
"""

from __future__ import annotations

import time
from typing import Any

from host_tools.journal.db import Journal

NO_SUPPORT = (
    "Sessions played without a computer were not collected: this attune has no device "
    "journal support (host_tools/devicejournal.py)."
)


def collect_into(
    journal: Journal, client: Any, name: str, now: float | None = None
) -> tuple[int, list[str]]:
    """(sessions stored, plain sentences about records that could not be read or collected).
    `client` is a host_tools Client with its handshake done; `name` the journal's client."""
    try:
        from host_tools import devicejournal  # type: ignore[attr-defined]
    except ImportError:
        return 0, [NO_SUPPORT]
    got = devicejournal.collect(client)
    problems = list(got.problems)
    if not got.sessions:
        return 0, problems
    instrument = client.info.instrument if client.info else "?"
    end = time.time() if now is None else now
    placed = []
    for s in sorted(got.sessions, key=lambda s: s.seq, reverse=True):
        placed.append((end, s))
        end -= float(s.dur_s)
    with journal.batch():
        for ended, s in reversed(placed):
            journal.store_standalone(name, instrument, ended, s)
    devicejournal.clear(client, max(s.seq for s in got.sessions))  # only after the commit
    return len(got.sessions), problems
