"""Who may talk to the hub: the right `Host` (against DNS rebinding), the hub's own `Origin` (or
no Origin and the command line's token) for anything that changes state, and in `--lan` mode a
pairing code for devices other than this computer.

Usage: app = Guard(app, Security(port=8765, token=secrets.token_urlsafe(24)))
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

TOKEN_HEADER = "x-attune-token"
SESSION_COOKIE = "attune_session"
CHANGING = ("POST", "PUT", "DELETE", "PATCH")
OPEN_PATHS = ("/api/ping", "/api/pair")  # what an unpaired LAN device may reach under /api
LOOPBACK = ("127.0.0.1", "::1", "localhost")
PAIR_TRIES = 5  # wrong pairing codes allowed ...
PAIR_WINDOW_S = 60.0  # ... in this long


@dataclass
class Security:
    """The hub's address, its command-line token and (--lan) its pairing code and sessions."""

    port: int
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    lan_host: str | None = None  # the LAN address served too (--lan)
    pairing_code: str = field(default_factory=lambda: f"{secrets.randbelow(1_000_000):06d}")
    sessions: set[str] = field(default_factory=set)
    failures: list[float] = field(default_factory=list)  # wrong codes lately (no guessing)

    @property
    def hosts(self) -> set[str]:
        names = ["127.0.0.1", "localhost"] + ([self.lan_host] if self.lan_host else [])
        return {n + ":" + str(self.port) for n in names}

    @property
    def origins(self) -> set[str]:
        return {"http://" + h for h in self.hosts}

    def token_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(str(given), self.token)

    def pair(self, code: str) -> str | None:
        """A new session id when `code` is the pairing code, else None (always None after
        too many wrong codes in a minute: a million codes cannot be tried one by one)."""
        now = time.monotonic()
        self.failures = [t for t in self.failures if now - t < PAIR_WINDOW_S]
        if len(self.failures) >= PAIR_TRIES:
            return None
        if not hmac.compare_digest(str(code).strip(), self.pairing_code):
            self.failures.append(now)
            return None
        session = secrets.token_urlsafe(24)
        self.sessions.add(session)
        return session


def check(sec: Security, scope: dict[str, Any]) -> tuple[int, str] | None:
    """None when the request may go on, else (HTTP status, plain-words reason)."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    host = headers.get("host", "")
    if host not in sec.hosts:
        return 421, (
            "This is Attune Studio at "
            + sorted(sec.hosts)[0]
            + "; a request for '"
            + host
            + "' is refused (only this computer's own address is served)."
        )
    path = scope.get("path", "")
    method = scope.get("method", "GET") if scope["type"] == "http" else "WEBSOCKET"
    token = headers.get(TOKEN_HEADER)
    if method in CHANGING or method == "WEBSOCKET" or path.startswith("/api/lines"):
        origin = headers.get("origin")
        if origin is not None:
            if origin not in sec.origins:
                return 403, (
                    "Requests from the web page at " + origin + " may not change Attune Studio; "
                    "only Studio's own page may."
                )
        elif not sec.token_ok(token):
            return 403, "A request without an Origin needs Studio's token (X-Attune-Token)."
    client = scope.get("client") or ("127.0.0.1", 0)
    if sec.lan_host and client[0] not in LOOPBACK and not sec.token_ok(token):
        if path.startswith(("/api", "/ws")) and path not in OPEN_PATHS:
            if not _session(headers) & sec.sessions:
                return 401, (
                    "This device is not paired with Attune Studio yet: enter the pairing code "
                    "shown on the computer running Studio."
                )
    return None


def _session(headers: dict[str, str]) -> set[str]:
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # noqa: BLE001 (a malformed cookie header is no session)
        return set()
    morsel = cookie.get(SESSION_COOKIE)
    return {morsel.value} if morsel is not None else set()


class Guard:
    """ASGI middleware: `check` on every HTTP request and WebSocket upgrade."""

    def __init__(self, app: Any, sec: Security) -> None:
        self.app = app
        self.sec = sec

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refused = check(self.sec, scope)
        if refused is None:
            await self.app(scope, receive, send)
            return
        status, reason = refused
        body = json.dumps({"error": reason}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            # refuse the upgrade with a plain HTTP answer (ASGI's websocket denial response)
            if "websocket.http.response" in scope.get("extensions", {}):
                await send(
                    {"type": "websocket.http.response.start", "status": status, "headers": headers}
                )
                await send({"type": "websocket.http.response.body", "body": body})
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
