"""What goes over the hub's WebSocket: device lines turned into meter and note messages, and the
checks every page message passes before it changes anything (docs/studio-api.md).

Usage: note = note_message("sim-combo-1", parse_async("* event pad note_on 60 90"), channel=1)
"""

from __future__ import annotations

import json
import time
from typing import Any

from host_tools.errors import Refused

MAX_LINE = 200  # the device's own limit on a request line (docs/protocol.md)
NOTE_KINDS = ("note_on", "note_off", "cc", "bend", "pressure")


class BadMessage(ValueError):
    """A page message that does not follow docs/studio-api.md; its text says why, plainly."""


def check_line(line: Any) -> str:
    """A protocol line as the hub forwards it: printable ASCII, one line, at most 200 bytes."""
    if not isinstance(line, str) or not line.strip():
        raise BadMessage("A request needs a 'line': the command to send, e.g. 'status'.")
    if len(line) > MAX_LINE:
        raise BadMessage(
            "A request line may be at most "
            + str(MAX_LINE)
            + " characters; this one has "
            + str(len(line))
            + "."
        )
    if any(not (32 <= ord(c) <= 126) for c in line):
        raise BadMessage(
            "A request line may only hold printable ASCII characters "
            "(letters, digits, spaces and punctuation; no control characters)."
        )
    return line.strip()


def reply_line(payload: dict[str, Any] | None, refused: Refused | None = None) -> str:
    """The reply as the device sent it, rebuilt from what Client parsed: `OK {...}` or
    `ERR code reason`, so a Client on the far side of the hub parses the same thing."""
    if refused is not None:
        return ("ERR " + refused.code + " " + refused.reason).rstrip()
    if not payload:
        return "OK"
    if set(payload) == {"text"}:
        return "OK " + str(payload["text"])
    return "OK " + json.dumps(payload, separators=(",", ":"))


def reply_message(msg_id: Any, payload: dict[str, Any] | None, refused: Refused | None) -> dict:
    if refused is not None:
        return {
            "type": "reply",
            "id": msg_id,
            "ok": False,
            "payload": None,
            "code": refused.code,
            "message": refused.reason,
        }
    return {
        "type": "reply",
        "id": msg_id,
        "ok": True,
        "payload": payload or {},
        "code": None,
        "message": None,
    }


def error_message(msg_id: Any, text: str) -> dict[str, Any]:
    return {"type": "error", "id": msg_id, "message": text}


def meter_channel(parsed: dict[str, Any]) -> dict[str, Any]:
    """One sensor of a `* monitor` line for the meter; `release` and `noise` are null when the
    firmware does not report them (older firmware)."""
    return {
        "name": parsed.get("sensor", ""),
        "raw": parsed.get("raw"),
        "level": parsed.get("level", 0),
        "trigger": parsed.get("trigger"),
        "release": parsed.get("release"),
        "noise": parsed.get("noise"),
        "pressed": 1 if parsed.get("pressed") else 0,
    }


def meter_frame(known: dict[str, dict[str, Any]], parsed: dict[str, Any]) -> list[dict[str, Any]]:
    """The meter channels of a `* monitor` line (one sensor, all it reports) or a `* levels`
    frame (every sensor's level and press: the rest as its last `* monitor` line said, kept
    in `known` by sensor name)."""
    if parsed.get("kind") == "monitor":
        ch = meter_channel(parsed)
        known[ch["name"]] = ch
        return [ch]
    out = []
    for s in parsed.get("sensors", ()):
        name = s["sensor"]
        ch = dict(known.get(name) or meter_channel({"sensor": name}))
        ch["level"] = s["level"]
        ch["pressed"] = 1 if s["pressed"] else 0
        known[name] = ch
        out.append(ch)
    return out


def note_message(device: str, parsed: dict[str, Any], channel: int) -> dict[str, Any] | None:
    """A `* event` line as a note message, or None for a kind the page does not know."""
    kind = parsed.get("type")
    if kind not in NOTE_KINDS:
        return None
    args = [a for a in parsed.get("args", []) if isinstance(a, int)]
    out: dict[str, Any] = {
        "type": "note",
        "device": device,
        "sensor": parsed.get("sensor", ""),
        "kind": kind,
        "channel": channel,
        "note": None,
        "velocity": None,
        "value": None,
        "hub_ms": time.time() * 1000,  # when the hub read it: the page times its sound from here
    }
    if kind in ("note_on", "note_off"):
        out["note"] = args[0] if args else None
        out["velocity"] = args[1] if len(args) > 1 else 0
    elif kind == "cc":
        out["note"] = args[0] if args else None  # the controller number
        out["value"] = args[1] if len(args) > 1 else None
    else:
        out["value"] = args[-1] if args else None
    return out


def notice_message(device: str, parsed: dict[str, Any]) -> dict[str, Any]:
    """`* fault`, `* info`, `* calibrate` and anything else from the device, for the page."""
    kind = parsed.get("kind")
    if kind not in ("fault", "calibrate"):
        kind = "info"
    text = parsed.get("line", "")
    text = text[1:].strip() if text.startswith("*") else text
    out = {"type": "notice", "device": device, "kind": kind, "text": text}
    if parsed.get("kind") == "calibrate":
        out.update(
            sensor=parsed.get("sensor"),
            phase=parsed.get("phase"),
            message=parsed.get("message"),
            values=parsed.get("values"),
        )
    return out


def _id(msg: dict[str, Any]) -> Any:
    value = msg.get("id")
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise BadMessage("A message's 'id' must be a whole number.")


def parse_page_message(text: str | bytes) -> dict[str, Any]:
    """A page's WebSocket message, checked: returns it normalised, or raises BadMessage."""
    try:
        msg = json.loads(text)
    except ValueError:
        raise BadMessage("The message is not valid JSON.") from None
    if not isinstance(msg, dict):
        raise BadMessage("A message must be a JSON object with a 'type'.")
    kind = msg.get("type")
    msg_id = _id(msg)
    if kind == "request":
        if msg_id is None:
            raise BadMessage("A request needs an 'id' (a whole number) to match its reply.")
        return {
            "type": "request",
            "id": msg_id,
            "device": _device(msg, True),
            "line": check_line(msg.get("line")),
        }
    if kind == "input":
        sensor = msg.get("sensor")
        value = msg.get("value")
        if not isinstance(sensor, str) or not sensor:
            raise BadMessage("An input needs a 'sensor' name, e.g. 'pad'.")
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not (0.0 <= float(value) <= 1.0)
        ):
            raise BadMessage("An input's 'value' must be a number from 0 (rest) to 1 (full).")
        return {
            "type": "input",
            "id": msg_id,
            "device": _device(msg, True),
            "sensor": sensor,
            "value": float(value),
        }
    if kind == "group":
        action = msg.get("action")
        if action == "panic":
            return {"type": "group", "id": msg_id, "action": "panic"}
        if action == "set":
            key, value = msg.get("key"), msg.get("value")
            if not isinstance(key, str) or not key or " " in key:
                raise BadMessage("A group 'set' needs a 'key' (one word, e.g. 'scale').")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str) or not value.strip():
                raise BadMessage("A group 'set' needs a 'value', e.g. 'major'.")
            check_line("set " + key + " " + value)
            return {
                "type": "group",
                "id": msg_id,
                "action": "set",
                "key": key,
                "value": value.strip(),
            }
        raise BadMessage("A group message's 'action' must be 'panic' or 'set'.")
    raise BadMessage("Unknown message type " + json.dumps(kind) + ": use request, input or group.")


def _device(msg: dict[str, Any], optional: bool) -> str | None:
    value = msg.get("device")
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_LINE:
        raise BadMessage("'device' must be an instrument's id or name, as text.")
    return value
