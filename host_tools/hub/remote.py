"""The `attune` command line through a running Studio: a serial-like port whose lines go to the
hub's `/api/request` (and whose `* ` lines come from `/api/lines`), so the very same Client
talks to an instrument Studio holds open, simulated ones included.

Usage: client = connect(device=None, timeout=5.0)   # None when no Studio is running
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from host_tools import firmware
from host_tools.client import Client
from host_tools.errors import AttuneError, DeviceTimeout, NoDevice, SeveralDevices

_PROTOCOL = firmware.module("protocol")  # request tags, as the instrument reads and writes them

DISCOVERY_FILE = "hub.json"
DATA_ENV = "ATTUNE_DATA"  # overrides the data folder (tests; several Studios side by side)
PING_TIMEOUT_S = 0.5
STREAMED = ("monitor", "calibrate")  # requests after which the tool reads `* ` lines


def data_dir() -> Path:
    """Studio's data folder: $ATTUNE_DATA, else the user's (~/.local/share/attune on Linux)."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("attune", appauthor=False))


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_hub() -> dict[str, Any] | None:
    """The running Studio's {url, pid, token}, or None (no file, its process gone, or not
    answering)."""
    try:
        doc = json.loads((data_dir() / DISCOVERY_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not _alive(doc.get("pid")) or not doc.get("token"):
        return None
    try:
        status, body = _call(doc, "GET", "/api/ping", timeout=PING_TIMEOUT_S)
    except OSError:
        return None
    if status != 200 or not body.get("studio"):
        return None
    return doc


def _connection(hub: dict[str, Any], timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(hub["url"])
    return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)


def _call(
    hub: dict[str, Any],
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    timeout: float = 5.0,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, dict[str, Any]]:
    own = conn is None
    conn = conn or _connection(hub, timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"X-Attune-Token": hub["token"], "Content-Type": "application/json"}
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            doc = json.loads(raw or b"{}")
        except ValueError:
            doc = {}
        return response.status, doc if isinstance(doc, dict) else {}
    finally:
        if own:
            conn.close()


def names(inst: dict[str, Any], wanted: str) -> bool:
    """True when `wanted` is the hub instrument's id, or its name or title in any case."""
    w = wanted.strip().lower()
    return wanted == inst.get("id") or w in (
        str(inst.get("name")).lower(),
        str(inst.get("title")).lower(),
    )


def held_instruments(timeout: float = 2.0) -> dict[str, dict[str, Any]]:
    """The instruments the running Studio holds open, by port path (a simulated one by its
    id): {path: Instrument JSON}; {} when Studio is not running (`attune ports`, `doctor`,
    `deploy` then open the ports themselves)."""
    hub = find_hub()
    if hub is None:
        return {}
    try:
        status, body = _call(hub, "GET", "/api/instruments", timeout=timeout)
    except OSError:
        return {}
    return {
        str(i.get("id")): i
        for i in body.get("instruments") or []
        if isinstance(i, dict) and i.get("connected")
    }


def release(path: str, why: str, seconds: float = 900.0) -> dict[str, Any] | None:
    """Ask the running Studio to let go of the Pico on `path` (for `attune deploy`): the hub
    closes the port and leaves it alone until `resume(path)` or `seconds` have passed. None
    when Studio does not hold it; raises AttuneError (plain words) when it will not."""
    hub = find_hub()
    if hub is None:
        return None
    held = held_instruments()
    if path not in held:
        return None
    try:
        status, body = _call(
            hub, "POST", "/api/release", {"device": path, "for": why, "seconds": seconds}, 15.0
        )
    except OSError as e:
        status, body = 0, {"error": str(e)}
    if status != 200:
        raise AttuneError(
            "Attune Studio has "
            + path
            + " open and did not let go of it ("
            + str(body.get("error") or "status " + str(status))
            + "). Stop Studio (Ctrl-C in its window, or close it), then run "
            + why
            + " again."
        )
    return hub


def resume(hub: dict[str, Any], path: str) -> None:
    """Studio may open `path` again (after `release`); quiet if Studio has gone meanwhile."""
    try:
        _call(hub, "POST", "/api/resume", {"device": path}, timeout=5.0)
    except OSError:
        pass


def connect(device: str | None, timeout: float) -> Client | None:
    """A Client reaching `device` (id or name) through the running Studio, its handshake done;
    None when Studio is not running."""
    hub = find_hub()
    if hub is None:
        return None
    status, body = _call(hub, "GET", "/api/instruments", timeout=timeout)
    insts = [i for i in body.get("instruments") or [] if i.get("connected")]
    if device:
        hits = [i for i in insts if i.get("id") == device] or [
            i for i in insts if names(i, device)
        ]
    else:
        hits = insts
    listed = [str(i.get("id")) + " (" + str(i.get("title")) + ")" for i in insts]
    if not hits:
        raise NoDevice(
            (
                "No instrument called '" + device + "' is open in Attune Studio."
                if device
                else "Attune Studio is running but has no instrument connected."
            )
            + (" Open there: " + ", ".join(listed) + "." if listed else "")
        )
    if len(hits) > 1:
        raise SeveralDevices(
            "Several instruments are open in Attune Studio:\n  "
            + "\n  ".join(listed)
            + "\nChoose one with --device NAME (a name or the id shown).",
            details=listed,
        )
    port = HubPort(hub, str(hits[0]["id"]), timeout)
    client = Client(port, timeout=timeout)
    try:
        client.hello("Attune Studio (" + str(hits[0]["id"]) + ")")
    except BaseException:
        port.close()
        raise
    return client


class HubPort:
    """SerialLike: each line written is posted to the hub; its reply line (and, after
    `monitor` or `calibrate`, the instrument's `* ` lines) can then be read."""

    def __init__(self, hub: dict[str, Any], device: str, timeout: float) -> None:
        self.hub = hub
        self.device = device
        self.request_timeout = timeout + 3.0  # the hub's own wait for the instrument, and more
        self.timeout = 0.05  # read(): how long to wait for a byte, like pyserial's timeout
        self._out = b""
        self._in = bytearray()
        self._cond = threading.Condition()
        self._conn: http.client.HTTPConnection | None = None
        self._stream: http.client.HTTPConnection | None = None
        self._closed = False

    # -- SerialLike -------------------------------------------------------------------------

    def write(self, data: bytes) -> int:
        self._out += bytes(data)
        while b"\n" in self._out:
            line, self._out = self._out.split(b"\n", 1)
            tag, rest, error = _PROTOCOL.split_tag(line.strip())
            if error is not None:
                self._feed(error.encode() + b"\r\n")
                continue
            text = rest.decode("utf-8", "replace").strip()
            # an empty line, or the client's clean start (DEL, then a line end), is no request
            if text and all(" " <= c <= "~" for c in text):
                self._post(text, tag)
        return len(data)

    @property
    def in_waiting(self) -> int:
        return len(self._in)

    def read(self, size: int = 1) -> bytes:
        with self._cond:
            if not self._in:
                self._cond.wait(self.timeout)
            data = bytes(self._in[:size])
            del self._in[:size]
            return data

    def reset_input_buffer(self) -> None:
        with self._cond:
            self._in.clear()

    def close(self) -> None:
        self._closed = True
        for conn in (self._conn, self._stream):
            if conn is not None:
                try:
                    if conn.sock is not None:
                        conn.sock.shutdown(2)
                    conn.close()
                except OSError:
                    pass
        self._conn = self._stream = None

    # -- the hub ----------------------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        with self._cond:
            self._in += data
            self._cond.notify_all()

    def _post(self, line: str, tag: str | None = None) -> None:
        """Send one request through the hub; its reply line (tagged like the request, as the
        instrument would) becomes readable."""
        word = line.split()[0].lower()
        if word in STREAMED and not line.lower().endswith(" off"):
            self._open_stream()
        if self._conn is None:
            self._conn = _connection(self.hub, self.request_timeout)
        try:
            status, body = _call(
                self.hub,
                "POST",
                "/api/request",
                {"device": self.device, "line": line},
                conn=self._conn,
            )
        except (OSError, http.client.HTTPException) as e:
            self._conn = None
            raise AttuneError(
                "Attune Studio stopped answering (" + str(e) + "). Is it still running?"
            ) from None
        reason = str(body.get("error", ""))
        if status == 200:
            reply = _PROTOCOL.tagged(tag, str(body.get("reply", "")))
            self._feed(reply.encode() + b"\r\n")
        elif status in (404, 503):
            raise NoDevice(reason)
        elif status == 409:
            raise SeveralDevices(reason)
        elif status == 504:
            raise DeviceTimeout(reason)
        else:
            raise AttuneError("Attune Studio refused the request: " + reason)

    def _open_stream(self) -> None:
        if self._stream is not None:
            return
        conn = _connection(self.hub, 10.0)
        conn.request(
            "GET",
            "/api/lines?device=" + quote(self.device),
            headers={"X-Attune-Token": self.hub["token"]},
        )
        response = conn.getresponse()
        if response.status != 200:
            conn.close()
            raise AttuneError("Attune Studio would not stream the instrument's lines.")
        response.readline()  # the stream's opening comment: it is open now
        if conn.sock is not None:
            conn.sock.settimeout(None)  # lines may pause (a calibration step): wait for them
        self._stream = conn
        threading.Thread(target=self._pump, args=(response,), daemon=True).start()

    def _pump(self, response: Any) -> None:
        while not self._closed:
            try:
                line = response.readline()
            except Exception:  # noqa: BLE001 (closed under it: the tool is done)
                return
            if not line:
                return
            if line.startswith(b"*"):
                self._feed(line.rstrip(b"\r\n") + b"\r\n")


def wait_for(seconds: float) -> dict[str, Any] | None:
    """The running Studio once it answers (e.g. just after starting it), or None."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        hub = find_hub()
        if hub is not None:
            return hub
        time.sleep(0.05)
    return None
