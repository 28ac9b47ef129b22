"""The instrument's own journal: the summaries of sessions played without a computer, read over
the `journal` command (docs/protocol.md "Journal") so the host can store them, then cleared.

Usage: got = collect(client)          # every readable session, and a sentence per bad one
       store got.sessions ...; clear(client, got.sessions[-1].seq)   # only once stored

collect() never clears; an older firmware without `journal` gives an empty Collected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from host_tools.errors import BadReply, Refused

if TYPE_CHECKING:
    from host_tools.client import Client


@dataclass
class SensorSummary:
    """One sensor's presses in a session: counts, hold times (ms), peaks (in `unit`, the
    sensor's own reading: read_u16, mm, Pa, 1 for a switch) and inter-onset intervals (ms)."""

    name: str
    unit: str
    count: int
    hold_ms_mean: int
    hold_ms_max: int
    peak_mean: int
    peak_max: int
    ioi_mean_ms: int
    ioi_sd_ms: int


@dataclass
class DeviceSession:
    """A standalone session: its number on the device, the device's boot it was played in, its
    length (first press to last release, seconds) and its sensors that were played."""

    seq: int
    boot: int
    dur_s: int
    sensors: list[SensorSummary]


@dataclass
class Collected:
    """What collect() read: the good sessions, oldest first, and one plain sentence for each
    session that could not be read (damaged, or cut short by a power cut)."""

    sessions: list[DeviceSession] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


_SENSOR_KEYS = (
    "count",
    "hold_ms_mean",
    "hold_ms_max",
    "peak_mean",
    "peak_max",
    "ioi_mean_ms",
    "ioi_sd_ms",
)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(value)
    return value


def session_from_reply(doc: dict[str, Any]) -> DeviceSession:
    """A `journal read` reply as a DeviceSession; ValueError (or KeyError/TypeError) if it is
    not one."""
    sensors = []
    for row in doc["sensors"]:
        sensors.append(
            SensorSummary(
                str(row["name"]),
                str(row["unit"]),
                *(_int(row[k]) for k in _SENSOR_KEYS),
            )
        )
    return DeviceSession(_int(doc["seq"]), _int(doc["boot"]), _int(doc["dur_s"]), sensors)


def collect(client: Client) -> Collected:
    """Read every session the instrument keeps (never clears them)."""
    out = Collected()
    try:
        head = client.request("journal")
    except Refused as e:
        if e.code in ("unknown", "usage"):
            return out  # an older firmware: it keeps no journal
        raise
    first, last = head.get("first"), head.get("last")
    if not head.get("sessions") or not isinstance(first, int) or not isinstance(last, int):
        return out
    for seq in range(first, last + 1):
        try:
            doc = client.request("journal read " + str(seq))
        except Refused as e:
            if e.code == "corrupt":
                out.problems.append(
                    "Session " + str(seq) + " on the instrument could not be read: " + e.reason
                )
            elif e.code != "value":  # (value: no such session, e.g. a gap left by a clear)
                raise
            continue
        try:
            session = session_from_reply(doc)
        except (KeyError, TypeError, ValueError) as e:
            raise BadReply(
                "The instrument's summary of session "
                + str(seq)
                + " is not in a form this tool reads ("
                + repr(e)
                + ").",
                details=[str(doc)],
            ) from e
        if doc.get("cut"):
            out.problems.append(
                "Session "
                + str(seq)
                + " on the instrument was cut short by a power cut while it was being saved: "
                "its summary holds the play up to the save before, and the last minutes are "
                "missing."
            )
        out.sessions.append(session)
    return out


def clear(client: Client, upto_seq: int) -> None:
    """Forget the instrument's sessions up to and including `upto_seq` (after storing them).
    Does nothing on an older firmware without a journal."""
    try:
        client.request("journal clear " + str(int(upto_seq)))
    except Refused as e:
        if e.code != "unknown":
            raise
