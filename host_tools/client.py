"""A client for the Attune serial protocol (docs/protocol.md) over any serial-like object.

Usage: c = Client(serial.Serial("/dev/ttyACM0", timeout=0.05)); c.hello(); c.set("pad.range", 60)

One request, exactly one `OK`/`ERR` reply; `* ` lines that arrive meanwhile are set aside for the
monitor and the calibration wizard (a callback, or a queue read with `read_async`).

Every conversation starts clean: `hello` first ends any half line another program left (a DEL
byte, so that half line is refused rather than run, then a line end), and every request carries
a tag (`@k3x91 status`) that its reply echoes, so a reply still on its way to an earlier program
can never answer this one. An older firmware that knows no tags (it answers `ERR unknown` about
`@...`) is found at `hello`; the client then sends untagged requests and drains what is left
first. Nothing with a control character is ever sent.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import re
import stat
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from host_tools import firmware
from host_tools.errors import (
    BadFile,
    BadReply,
    BadValue,
    DeviceTimeout,
    NotAttune,
    ProfileExists,
    Refused,
)

PROTOCOL_VERSION = 1
PROFILE_FORMAT = "attune-profile"
PROFILE_FORMAT_VERSION = 1
_MAX_PAGES = 100  # a guard against a device whose `next` never ends
_NOISE_KEPT = 20  # non-protocol lines kept to explain a "not Attune" answer
MAX_LINE = 200  # bytes in a request line (firmware/protocol.py MAX_LINE)
CLEAN_START = b"\x7f\n"  # ends a half line left by another program: refused, never run
_TAG_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_SETTLE_S = 0.15  # untagged only: the port must be this quiet before `hello` is sent
_SETTLE_MAX_S = 1.5  # ... but no longer than this in all


class _NoTags(Exception):
    """The device answered a tagged request as an unknown command: an older firmware."""


def unsendable(text: str) -> str | None:
    """Why `text` cannot go on the serial line, in plain words ("holds a control character
    ..."), or None when it can: the instrument takes printable ASCII only, and a control byte
    could stop or disturb it."""
    for i, c in enumerate(text):
        if c < " " or c == "\x7f":
            return (
                "holds a control character (" + hex(ord(c)) + ", at character " + str(i + 1) + ")"
            )
        if c > "~":
            return (
                "holds '" + c + "' (character " + str(i + 1) + "); the instrument takes plain "
                "ASCII text only"
            )
    return None


class SerialLike(Protocol):
    """What the client needs of a port: pyserial's `Serial` and the tests' fake both fit."""

    def write(self, data: bytes) -> int | None: ...

    def read(self, size: int = 1) -> bytes: ...


@dataclass
class DeviceInfo:
    """What an instrument says about itself in its `hello` reply."""

    firmware: str
    protocol: int
    board: str
    instrument: str
    title: str
    channels: list[str]
    port: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.title or self.instrument

    def matches(self, wanted: str) -> bool:
        """True when `wanted` is this instrument's name or title (any letter case)."""
        w = wanted.strip().lower()
        return w in (self.instrument.lower(), self.title.lower())

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        del out["extra"]
        return out


@dataclass
class ImportResult:
    """What `import_profile` did: the keys set, the keys refused with the device's reasons, and
    the keys the file does not have (they take the instrument's defaults)."""

    name: str
    applied: list[str]
    refused: list[tuple[str, str]]
    saved: bool
    defaulted: list[str] = field(default_factory=list)
    replaced: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "applied": self.applied,
            "saved": self.saved,
            "refused": [{"key": k, "reason": r} for k, r in self.refused],
            "defaulted": self.defaulted,
            "replaced": self.replaced,
        }


def _shown(text: str, most: int = 80) -> str:
    """`text` as it can be shown in a message: control characters as \\xNN, cut at `most`."""
    out = "".join(c if " " <= c <= "~" else ascii(c)[1:-1] for c in text)
    return out if len(out) <= most else out[: most - 3] + "..."


def _payload(text: str) -> dict[str, Any]:
    """The payload after `OK`: a JSON object, {} when empty, {"text": ...} otherwise."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            return {"text": text}
        if isinstance(value, dict):
            return value
    return {"text": text}


class Client:
    """Talks to one Attune instrument: `request` sends a line and returns its reply payload."""

    def __init__(
        self, port: SerialLike, timeout: float = 2.0, on_async: Callable[[str], None] | None = None
    ) -> None:
        self.port = port
        self.timeout = timeout
        self.on_async = on_async
        self.async_lines: deque[str] = deque(maxlen=2000)
        self.noise: deque[str] = deque(maxlen=_NOISE_KEPT)
        self.info: DeviceInfo | None = None
        self.tags: bool | None = None  # None: not known before `hello`; False: older firmware
        self.stale = 0  # replies thrown away as meant for an earlier request or program
        self.last_reply = ""  # the last reply line, for a "could not read it" message
        self._buf = bytearray()
        self._session = "".join(random.choice(_TAG_DIGITS) for _ in range(4))
        self._count = 0

    # -- lines ------------------------------------------------------------------------------

    def _fill(self) -> bool:
        """Read what the port has (or wait up to its own short timeout). True if bytes came."""
        waiting = getattr(self.port, "in_waiting", 0) or 0
        chunk = self.port.read(max(1, min(int(waiting), 4096)))
        if chunk:
            self._buf += chunk
            return True
        return False

    def _next_line(self, deadline: float, reads: int = -1) -> str | None:
        """The next complete line (without its line ending), or None when the deadline passes
        or after `reads` reads of the port (-1: as many as the deadline allows)."""
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                raw = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                return raw.decode("utf-8", errors="replace").rstrip("\r")
            if time.monotonic() >= deadline or reads == 0:
                return None
            self._fill()
            reads -= 1

    def _set_aside(self, line: str) -> None:
        if self.on_async is not None:
            self.on_async(line)
        else:
            self.async_lines.append(line)

    def drain(self, seconds: float = 0.1) -> None:
        """Throw away anything left over on the port (e.g. replies meant for a previous tool)."""
        reset = getattr(self.port, "reset_input_buffer", None)
        if reset is not None:
            reset()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self._fill():
                break
        self._buf.clear()

    def _new_tag(self) -> str:
        """A tag no earlier program is likely to have used: 4 random letters, a counter."""
        self._count = (self._count + 1) % (36**4)
        n, digits = self._count, ""
        for _ in range(4):
            n, d = divmod(n, 36)
            digits = _TAG_DIGITS[d] + digits
        return self._session + digits

    def _reply(self, line: str, request: str) -> dict[str, Any] | None:
        """An `OK`/`ERR` reply line -> its payload (raises Refused for ERR); None if neither."""
        self.last_reply = line
        if line == "OK" or line.startswith("OK "):
            return _payload(line[2:])
        if line == "ERR" or line.startswith("ERR "):
            parts = line.split(" ", 2)
            code = parts[1] if len(parts) > 1 else "error"
            reason = parts[2] if len(parts) > 2 else ""
            raise Refused(code, reason, request)
        return None

    def _await_reply(
        self, request: str, deadline: float, tag: str | None = None
    ) -> dict[str, Any]:
        """The reply to `request`: with a `tag`, only the line that echoes it; without, the
        next `OK`/`ERR` line. Raises _NoTags when an older firmware refuses the tag."""
        mine = "@" + tag + " " if tag is not None else ""
        while True:
            line = self._next_line(deadline)
            if line is None:
                raise DeviceTimeout(
                    "The instrument did not answer '" + request + "' in time. Check the USB "
                    "cable; if it keeps happening, unplug the instrument and plug it back in."
                )
            if not line.strip():
                continue
            if line.startswith("*"):
                self._set_aside(line)
            elif line.startswith("@"):
                if tag is not None and line.startswith(mine):
                    payload = self._reply(line[len(mine) :], request)
                    if payload is None:
                        raise BadReply(
                            "The instrument answered '" + request + "' with a reply this tool "
                            "cannot read: " + _shown(line) + ".",
                            details=[line],
                        )
                    return payload
                self.stale += 1  # another request's reply: not ours
            elif line == "OK" or line.startswith(("OK ", "ERR ")) or line == "ERR":
                if tag is None:
                    payload = self._reply(line, request)
                    if payload is not None:
                        return payload
                elif line.startswith("ERR unknown ") and ("'@" + tag + "'") in line:
                    raise _NoTags()
                else:
                    self.stale += 1  # an untagged reply: meant for an earlier program
            else:
                self.noise.append(line)

    def request(self, line: str, timeout: float | None = None) -> dict[str, Any]:
        """Send one request line; return the `OK` payload or raise Refused / DeviceTimeout.

        Raises BadValue (nothing sent) for a line break, a control character or text that is
        not plain ASCII."""
        why = unsendable(line)
        if why is not None:
            raise BadValue("The request '" + _shown(line) + "' " + why + "; nothing was sent.")
        wait = self.timeout if timeout is None else timeout
        tag = self._new_tag() if self.tags else None
        wire = ("@" + tag + " " + line) if tag else line
        if tag and len(wire) > MAX_LINE:
            tag, wire = None, line  # too long with its tag: sent untagged, after a drain
            self.drain(0.05)
        self._send(wire.encode("ascii") + b"\n")
        return self._await_reply(line, time.monotonic() + wait, tag)

    def _send_tagged(self, line: str) -> str:
        tag = self._new_tag()
        self._send(("@" + tag + " " + line + "\n").encode("ascii"))
        return tag

    def _send(self, data: bytes) -> None:
        self.port.write(data)
        flush = getattr(self.port, "flush", None)
        if flush is not None:
            flush()

    def _settle(self, deadline: float) -> None:
        """Untagged only: throw away what arrives until the port is quiet for a moment (replies
        still on their way to an earlier program), keeping `* ` lines."""
        end = min(deadline, time.monotonic() + _SETTLE_MAX_S)
        quiet = time.monotonic() + _SETTLE_S
        while time.monotonic() < min(quiet, end):
            if self._fill():
                quiet = time.monotonic() + _SETTLE_S
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                break
            line = bytes(self._buf[:nl]).decode("utf-8", "replace").rstrip("\r")
            del self._buf[: nl + 1]
            if line.startswith("*"):
                self._set_aside(line)
            elif line.strip():
                self.stale += 1
        self._buf.clear()

    def next_async(self) -> str | None:
        """The next `* ` line (set aside earlier, or complete after at most one read of the
        port), or None. The read waits up to the port's own timeout, and pyserial's
        `cancel_read` ends it: Studio's hub waits here between requests, and a request that
        arrives meanwhile must not wait for a second read (up to 50 ms, or the next line)."""
        return self.read_async(math.inf, reads=1)

    def read_async(self, timeout: float, reads: int = -1) -> str | None:
        """The next `* ` line (set aside earlier or newly arrived), or None after `timeout`
        (or after `reads` reads of the port)."""
        if self.async_lines:
            return self.async_lines.popleft()
        deadline = time.monotonic() + timeout
        while True:
            line = self._next_line(deadline, reads)
            if reads > 0:
                reads = 0  # (a limit is for the whole call: the lines left are already read)
            if line is None:
                return None
            if line.startswith("*"):
                return line
            if line.strip():
                self.noise.append(line)  # a stray reply or REPL output: not for us

    # -- handshake --------------------------------------------------------------------------

    def hello(self, port_name: str = "") -> DeviceInfo:
        """The version handshake; raises NotAttune unless the device speaks protocol 1."""
        where = " on " + port_name if port_name else ""
        deadline = time.monotonic() + self.timeout
        self._send(CLEAN_START)
        payload: dict[str, Any] | None = None
        try:
            if self.tags is not False:
                try:
                    payload = self._await_reply("hello", deadline, self._send_tagged("hello"))
                    self.tags = True
                except _NoTags:
                    self.tags = False
            while self.tags is False and (payload is None or "protocol" not in payload):
                if payload is None:  # untagged: let earlier replies pass first
                    self._settle(deadline)
                    self._send(b"hello\n")
                try:
                    payload = self._await_reply("hello", deadline)
                except Refused as e:
                    if e.code in ("toolong", "encoding", "unknown", "usage", "tag"):
                        payload = {}  # a stale reply: 'hello' gets none of these
                        continue
                    raise
                # a reply left over from an earlier request: keep waiting for ours
        except DeviceTimeout:
            seen = list(self.noise)
            hint = (
                (" It printed: " + " | ".join(seen[-3:]))
                if seen
                else (" It did not answer at all.")
            )
            raise NotAttune(
                "The device" + where + " did not answer like an Attune instrument; it may "
                "be running other firmware or a plain MicroPython prompt." + hint,
                details=seen,
            ) from None
        except Refused as e:
            raise NotAttune(
                "The device" + where + " answered 'hello' with an error: " + e.reason
            ) from None
        payload = payload or {}
        version = payload.get("protocol")
        if version != PROTOCOL_VERSION:
            raise NotAttune(
                "The instrument"
                + where
                + " speaks protocol version "
                + str(version)
                + ", but this attune tool speaks version "
                + str(PROTOCOL_VERSION)
                + ". Update the tool or the instrument's firmware so they match."
            )
        known = ("firmware", "protocol", "board", "instrument", "title", "channels")
        channels = payload.get("channels") or []
        if not isinstance(channels, list):
            raise BadReply(
                "The instrument" + where + " answered 'hello' with a reply this tool cannot "
                "read (its channels are not a list): " + _shown(self.last_reply) + ".",
                details=[self.last_reply],
            )
        self.info = DeviceInfo(
            firmware=str(payload.get("firmware", "")),
            protocol=int(version),
            board=str(payload.get("board", "")),
            instrument=str(payload.get("instrument", "")),
            title=str(payload.get("title", "")),
            channels=[str(c) for c in channels],
            port=port_name,
            extra={k: v for k, v in payload.items() if k not in known},
        )
        return self.info

    # -- commands ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return self.request("status")

    def params(self) -> list[dict[str, Any]]:
        """Every schema row, following `next` page by page."""
        rows: list[dict[str, Any]] = []
        offset: int | None = 0
        seen: set[int] = set()
        for _ in range(_MAX_PAGES):
            if offset is None or offset in seen:
                break
            seen.add(offset)
            page = self.request("params" if offset == 0 else "params " + str(offset))
            rows.extend(page.get("params") or [])
            nxt = page.get("next")
            offset = int(nxt) if isinstance(nxt, int) and not isinstance(nxt, bool) else None
        return rows

    def parameters(self) -> list[dict[str, Any]]:
        """Every parameter under its full key (channel keys once per sensor)."""
        channels = self.info.channels if self.info else []
        return expand_params(self.params(), channels)

    def get(self, key: str) -> str:
        return str(self.request("get " + key).get("value", ""))

    def values(self, scope: str) -> dict[str, str]:
        """Every value of one sensor, or of `global`."""
        return {k: str(v) for k, v in (self.request("get " + scope).get("values") or {}).items()}

    def set(self, key: str, value: object) -> str:
        """Set one value; returns it as the instrument stored it."""
        return str(self.set_reply(key, value).get("value", value))

    def set_reply(self, key: str, value: object) -> dict[str, Any]:
        """Set one value; returns the whole reply. Raises BadValue naming the key (nothing
        sent) when the key or the value holds a control character or is not plain ASCII."""
        text = str(value).strip()
        for what, part in (("name", key), ("value", text)):
            why = unsendable(part)
            if why is not None:
                raise BadValue(
                    "The "
                    + what
                    + " of the setting '"
                    + _shown(key)
                    + "' "
                    + why
                    + ", so it was not sent. Type it again with plain letters, digits and "
                    "spaces."
                )
        return self.request("set " + key + " " + text)

    def reset(self) -> dict[str, Any]:
        return self.request("reset")

    def profile_list(self) -> dict[str, Any]:
        return self.request("profile list")

    def profile_save(self, name: str | None = None) -> str:
        reply = self.request("profile save" + (" " + name if name else ""))
        return str(reply.get("saved", name or ""))

    def profile_load(self, name: str) -> dict[str, Any]:
        return self.request("profile load " + name)

    def profile_show(self, name: str) -> dict[str, Any]:
        return self.request("profile show " + name)

    def profile_delete(self, name: str) -> dict[str, Any]:
        return self.request("profile delete " + name)

    def profile_rename(self, old: str, new: str) -> dict[str, Any]:
        return self.request("profile rename " + old + " " + new)

    def monitor(self, rate_hz: int) -> dict[str, Any]:
        return self.request("monitor " + str(int(rate_hz)))

    def monitor_off(self) -> dict[str, Any]:
        return self.request("monitor off")

    def calibrate(self, sensor: str) -> dict[str, Any]:
        return self.request("calibrate " + sensor)

    def calibrate_apply(self) -> dict[str, Any]:
        return self.request("calibrate apply")

    def calibrate_cancel(self) -> dict[str, Any]:
        return self.request("calibrate cancel")

    def panic(self) -> dict[str, Any]:
        return self.request("panic")

    def maintenance(self) -> dict[str, Any]:
        return self.request("maintenance")

    # -- profiles on the computer -----------------------------------------------------------

    def export_profile(
        self, name: str, path: str | os.PathLike[str], overwrite: bool = False
    ) -> dict[str, Any]:
        """Write profile `name` to a JSON file with a header; returns what was written."""
        shown = self.profile_show(name)
        info = self.info
        doc = {
            "format": PROFILE_FORMAT,
            "version": PROFILE_FORMAT_VERSION,
            "name": str(shown.get("name", name)),
            "instrument": info.instrument if info else "",
            "title": info.title if info else "",
            "firmware": info.firmware if info else "",
            "saved_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "values": {str(k): str(v) for k, v in (shown.get("values") or {}).items()},
        }
        write_profile_file(Path(path), doc, overwrite)
        return doc

    def import_profile(
        self, path: str | os.PathLike[str], name: str | None = None, replace: bool = False
    ) -> ImportResult:
        """Play exactly the values of a profile file, then save them as `name`.

        Raises ProfileExists (nothing changed) if `name` is on the instrument already, unless
        `replace`. Every setting first goes back to the instrument's defaults (`reset`), so a
        key the file does not have takes its default, never the live value of whoever played
        before; those keys are listed in `defaulted`. Refused keys are collected with the
        device's reasons, never stopping at the first; a key refused for its value is tried
        once more at the end, since pairs such as velocity_min/velocity_max may only fit once
        the other one has changed.
        """
        doc = read_profile_file(Path(path))
        target = name or str(doc.get("name") or "")
        check_profile_name(target)
        values: dict[str, str] = doc["values"]
        listed = self.profile_list().get("profiles") or []
        exists = target in listed
        if exists and not replace:
            raise ProfileExists(
                "A profile called '" + target + "' is already on the instrument; nothing was "
                "changed. Import it under another name, or replace it (add --force)."
            )
        known: list[str] = []
        for scope in ["global"] + (self.info.channels if self.info else []):
            known.extend(self.values(scope))
        self.reset()
        applied: list[str] = []
        refused: dict[str, str] = {}
        retry: list[str] = []
        for key in values:
            try:
                self.set(key, values[key])
                applied.append(key)
            except Refused as e:
                refused[key] = e.reason
                if e.code == "value":
                    retry.append(key)
        for key in retry:
            try:
                self.set(key, values[key])
                applied.append(key)
                del refused[key]
            except Refused as e:
                refused[key] = e.reason
        self.profile_save(target)
        defaulted = sorted(k for k in known if k not in values)
        return ImportResult(target, applied, sorted(refused.items()), True, defaulted, exists)


def expand_params(rows: Iterable[dict[str, Any]], channels: list[str]) -> list[dict[str, Any]]:
    """Schema rows -> one entry per full key: globals as they are, channel rows per sensor."""
    out: list[dict[str, Any]] = []
    for row in rows:
        if row.get("scope") == "channel":
            for sensor in channels:
                item = dict(row)
                item["name"] = row.get("key")
                item["key"] = sensor + "." + str(row.get("key"))
                item["sensor"] = sensor
                out.append(item)
        else:
            item = dict(row)
            item["name"] = row.get("key")
            item["sensor"] = None
            out.append(item)
    return out


def check_profile_name(name: str) -> None:
    """Profile names follow the firmware's own rule (firmware/protocol.py); checked here too,
    so an import stops before changing anything rather than at the final save."""
    if not firmware.module("protocol").valid_name(name or ""):
        raise BadFile(
            "'" + name + "' cannot be a profile name: use 1 to 24 letters, digits, '-' or '_' "
            "(no spaces), for example anna or ben_2."
        )


def write_profile_file(path: Path, doc: dict[str, Any], overwrite: bool = False) -> None:
    """Write atomically (a new temporary file, then rename), refusing to replace a file unasked
    and never replacing anything but a regular file (not a device, a FIFO or a folder)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise BadFile(
            "Could not look at " + str(path) + ": " + (e.strerror or str(e)) + "."
        ) from None
    if mode is not None and not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else "not a plain file (a device or a pipe)"
        raise BadFile(
            str(path) + " is " + what + ", so it cannot be replaced by a profile, even with "
            "--force. Choose a file name."
        )
    if mode is not None and not overwrite:
        raise BadFile(
            "The file " + str(path) + " already exists. Choose another name, or "
            "add --force to replace it."
        )
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as a plain new file would be, not mkstemp's 0600
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(doc, indent=2) + "\n")
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.remove(tmp)
        raise BadFile(
            "Could not write " + str(path) + ": " + (e.strerror or str(e)) + "."
        ) from None


def read_profile_file(path: Path) -> dict[str, Any]:
    """Read and check a profile file; raises BadFile naming what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise BadFile(
            "Could not read " + str(path) + ": " + (e.strerror or str(e)) + "."
        ) from None
    except UnicodeDecodeError:
        raise BadFile(str(path) + " is not a text file, so it is not an Attune profile.") from None
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise BadFile(str(path) + " is not a valid JSON file (" + str(e) + ").") from None
    if not isinstance(doc, dict) or doc.get("format") != PROFILE_FORMAT:
        raise BadFile(
            str(path)
            + ' is not an Attune profile (it has no "format": "'
            + PROFILE_FORMAT
            + '" header).'
        )
    version = doc.get("version")
    if not isinstance(version, int) or version < 1:
        raise BadFile(str(path) + " has no valid profile format version.")
    if version > PROFILE_FORMAT_VERSION:
        raise BadFile(
            str(path)
            + " was written by a newer attune tool (format version "
            + str(version)
            + "); update this tool to read it."
        )
    values = doc.get("values")
    if not isinstance(values, dict) or not values:
        raise BadFile(str(path) + ' holds no settings (its "values" are missing or empty).')
    clean: dict[str, str] = {}
    for key, value in values.items():
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise BadFile(
                str(path) + ": the value of '" + str(key) + "' must be text or a whole number."
            )
        text_value = str(value)
        if not key or " " in key:
            raise BadFile(str(path) + ": '" + _shown(key) + "' is not a valid setting line.")
        for what, part in (("name", key), ("value", text_value)):
            why = unsendable(part)
            if why is not None:
                raise BadFile(
                    str(path)
                    + ": '"
                    + _shown(key)
                    + "' is not a valid setting line: its "
                    + what
                    + " "
                    + why
                    + ". Nothing was sent to the instrument."
                )
        clean[str(key)] = text_value
    doc["values"] = clean
    return doc


# -- asynchronous lines ---------------------------------------------------------------------

_INT = re.compile(r"^-?\d+$")


def parse_async(line: str) -> dict[str, Any]:
    """A `* ...` line as a dict with `kind` (monitor, levels, event, act, fault, info,
    calibrate, other) and the raw `line`; numbers become ints (a `levels` frame's sensors are
    `sensors`: [{"sensor", "level", "pressed"}]). Never raises."""
    out: dict[str, Any] = {"kind": "other", "line": line}
    body = line[1:].strip() if line.startswith("*") else line.strip()
    words = body.split()
    if not words:
        return out
    kind, rest = words[0], words[1:]
    try:
        if kind == "monitor":
            out["kind"] = "monitor"
            for w in rest:
                if "=" in w:
                    k, v = w.split("=", 1)
                    out[k] = int(v) if _INT.match(v) else v
                elif "sensor" not in out:
                    out["sensor"] = w
            if "pressed" in out:
                out["pressed"] = bool(out["pressed"])
        elif kind == "levels":  # a meter frame: every sensor's level and press
            out["kind"] = "levels"
            sensors = []
            for w in rest:
                k, eq, v = w.partition("=")
                if k == "t":
                    out["t"] = int(v) if _INT.match(v) else v
                    continue
                level, comma, pressed = v.partition(",")
                if eq and comma and _INT.match(level) and _INT.match(pressed):
                    sensors.append({"sensor": k, "level": int(level), "pressed": pressed != "0"})
            out["sensors"] = sensors
        elif kind == "event" and len(rest) >= 2:
            out.update(kind="event", sensor=rest[0], type=rest[1])
            args = [int(a) if _INT.match(a) else a for a in rest[2:]]
            out["args"] = args
            if rest[1] in ("note_on", "note_off") and args:
                out["note"] = args[0]
                if len(args) > 1:
                    out["velocity"] = args[1]
            elif args:
                out["value"] = args[-1]
        elif kind == "act" and rest:  # a press that ended (the journal's; docs/protocol.md)
            out.update(kind="act", sensor=rest[0])
            for w in rest[1:]:
                if "=" in w:
                    k, v = w.split("=", 1)
                    out[k] = int(v) if _INT.match(v) else v
        elif kind == "fault" and rest:
            out.update(kind="fault", sensor=rest[0], reason=" ".join(rest[1:]))
        elif kind == "info" and rest:
            out.update(kind="info", sensor=rest[0], message=" ".join(rest[1:]))
        elif kind == "calibrate" and len(rest) >= 2:
            out.update(kind="calibrate", sensor=rest[0], phase=rest[1])
            message = body.split(None, 3)[3] if len(rest) >= 3 else ""
            out["message"] = message
            out["values"] = _result_values(message)
    except (ValueError, IndexError):
        out["kind"] = "other"
    return out


def _result_values(message: str) -> dict[str, Any]:
    """Numbers in a calibration message: a JSON object, or `key=value` words."""
    text = message.strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
            return value if isinstance(value, dict) else {}
        except ValueError:
            return {}
    found: dict[str, Any] = {}
    for w in text.split():
        if "=" in w:
            k, v = w.split("=", 1)
            v = v.rstrip(",;.")
            found[k] = int(v) if _INT.match(v) else v
    return found
