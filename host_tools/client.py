"""A client for the Attune serial protocol (docs/protocol.md) over any serial-like object.

Usage: c = Client(serial.Serial("/dev/ttyACM0", timeout=0.05)); c.hello(); c.set("pad.range", 60)

One request, exactly one `OK`/`ERR` reply; `* ` lines that arrive meanwhile are set aside for the
monitor and the calibration wizard (a callback, or a queue read with `read_async`).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from host_tools import firmware
from host_tools.errors import BadFile, DeviceTimeout, NotAttune, Refused

PROTOCOL_VERSION = 1
PROFILE_FORMAT = "attune-profile"
PROFILE_FORMAT_VERSION = 1
_MAX_PAGES = 100  # a guard against a device whose `next` never ends
_NOISE_KEPT = 20  # non-protocol lines kept to explain a "not Attune" answer


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
    """What `import_profile` did: the keys set, the keys refused with the device's reasons."""

    name: str
    applied: list[str]
    refused: list[tuple[str, str]]
    saved: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "applied": self.applied,
            "saved": self.saved,
            "refused": [{"key": k, "reason": r} for k, r in self.refused],
        }


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
        self._buf = bytearray()

    # -- lines ------------------------------------------------------------------------------

    def _fill(self) -> bool:
        """Read what the port has (or wait up to its own short timeout). True if bytes came."""
        waiting = getattr(self.port, "in_waiting", 0) or 0
        chunk = self.port.read(max(1, min(int(waiting), 4096)))
        if chunk:
            self._buf += chunk
            return True
        return False

    def _next_line(self, deadline: float) -> str | None:
        """The next complete line (without its line ending), or None when the deadline passes."""
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                raw = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                return raw.decode("utf-8", errors="replace").rstrip("\r")
            if time.monotonic() >= deadline:
                return None
            self._fill()

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

    def _await_reply(self, request: str, deadline: float) -> dict[str, Any]:
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
            elif line == "OK" or line.startswith("OK "):
                return _payload(line[2:])
            elif line == "ERR" or line.startswith("ERR "):
                parts = line.split(" ", 2)
                code = parts[1] if len(parts) > 1 else "error"
                reason = parts[2] if len(parts) > 2 else ""
                raise Refused(code, reason, request)
            else:
                self.noise.append(line)

    def request(self, line: str, timeout: float | None = None) -> dict[str, Any]:
        """Send one request line; return the `OK` payload or raise Refused / DeviceTimeout."""
        if "\n" in line or "\r" in line:
            raise ValueError("a request is a single line")
        self.port.write(line.encode("utf-8") + b"\n")
        flush = getattr(self.port, "flush", None)
        if flush is not None:
            flush()
        wait = self.timeout if timeout is None else timeout
        return self._await_reply(line, time.monotonic() + wait)

    def read_async(self, timeout: float) -> str | None:
        """The next `* ` line (set aside earlier or newly arrived), or None after `timeout`."""
        if self.async_lines:
            return self.async_lines.popleft()
        deadline = time.monotonic() + timeout
        while True:
            line = self._next_line(deadline)
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
        self.port.write(b"hello\n")
        while True:
            try:
                payload = self._await_reply("hello", deadline)
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
            if "protocol" in payload:
                break
            # a reply left over from an earlier request: keep waiting for ours
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
        reply = self.request("set " + key + " " + str(value).strip())
        return str(reply.get("value", value))

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
        self, path: str | os.PathLike[str], name: str | None = None
    ) -> ImportResult:
        """Set every value from a profile file, then save it as `name`.

        Refused keys are collected with the device's reasons, never stopping at the first;
        a key refused for its value is tried once more at the end, since pairs such as
        velocity_min/velocity_max may only fit once the other one has changed.
        """
        doc = read_profile_file(Path(path))
        target = name or str(doc.get("name") or "")
        check_profile_name(target)
        values: dict[str, str] = doc["values"]
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
        return ImportResult(target, applied, sorted(refused.items()), True)


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
    """Write atomically (temporary file, then rename), refusing to replace a file unasked."""
    if path.exists() and not overwrite:
        raise BadFile(
            "The file " + str(path) + " already exists. Choose another name, or "
            "add --force to replace it."
        )
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
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
        if not key or any(c in key + text_value for c in "\r\n") or " " in key:
            raise BadFile(str(path) + ": '" + str(key) + "' is not a valid setting line.")
        clean[str(key)] = text_value
    doc["values"] = clean
    return doc


# -- asynchronous lines ---------------------------------------------------------------------

_INT = re.compile(r"^-?\d+$")


def parse_async(line: str) -> dict[str, Any]:
    """A `* ...` line as a dict with `kind` (monitor, event, fault, info, calibrate or other)
    and the raw `line`; numbers become ints. Never raises."""
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
