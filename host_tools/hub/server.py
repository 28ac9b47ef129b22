"""The hub's HTTP and WebSocket side (docs/studio-api.md): the page's files, the JSON API, the
command line's request and line-stream endpoints, the WebSocket every page listens on.

Usage: app = build_app(hub, security)   # an ASGI app, guarded (host_tools/hub/security.py)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from host_tools.errors import AttuneError
from host_tools.firmware import version
from host_tools.hub import api, journal, messages
from host_tools.hub.hub import Hub, Listener
from host_tools.hub.messages import BadMessage
from host_tools.hub.security import SESSION_COOKIE, Guard, Security

STATIC_DIR = Path(__file__).resolve().parent / "static"


_status = api.status_of
_error = api.error
_json_body = api.json_body


def build_app(hub: Hub, sec: Security, static_dir: Path = STATIC_DIR) -> Any:
    """The Starlette app for `hub`, wrapped in its Guard."""

    async def index(request: Request) -> Response:
        return FileResponse(static_dir / "index.html", headers={"cache-control": "no-cache"})

    async def ping(request: Request) -> Response:
        return JSONResponse({"studio": True, "version": version()})

    async def instruments(request: Request) -> Response:
        return JSONResponse({"instruments": hub.instruments_json()})

    async def request_line(request: Request) -> Response:
        try:
            data = await _json_body(request)
            device = data.get("device")
            if device is not None and not isinstance(device, str):
                raise BadMessage("'device' must be an instrument's id or name, as text.")
            line = messages.check_line(data.get("line"))
        except BadMessage as e:
            return _error(400, str(e))
        try:
            inst = hub.find(device)
            payload, refused = await hub.ask(inst, line)
        except AttuneError as e:
            return _error(_status(e), e.message)
        return JSONResponse({"device": inst.id, "reply": messages.reply_line(payload, refused)})

    async def lines(request: Request) -> Response:
        """One instrument's `* ` lines, verbatim, one per line, for as long as the tool reads
        (the command line's `attune monitor` and `attune calibrate` through Studio)."""
        try:
            inst = hub.find(request.query_params.get("device"))
        except AttuneError as e:
            return _error(_status(e), e.message)
        listener = Listener(inst.id)
        hub.listeners.add(listener)

        async def stream() -> AsyncIterator[bytes]:
            try:
                yield b": attune lines\n"  # something at once, so the tool knows it is open
                while True:
                    yield (await listener.queue.get()).encode() + b"\n"
            finally:
                hub.listeners.discard(listener)

        return StreamingResponse(stream(), media_type="text/plain; charset=utf-8")

    async def pair(request: Request) -> Response:
        try:
            data = await _json_body(request)
        except BadMessage as e:
            return _error(400, str(e))
        session = sec.pair(str(data.get("code", "")))
        if session is None:
            return _error(
                403,
                "That is not the pairing code shown on the Studio computer (after five wrong "
                "codes, wait a minute before trying again).",
            )
        response = JSONResponse({"paired": True})
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict")
        return response

    async def ws(socket: WebSocket) -> None:
        await socket.accept()
        listener = Listener()
        hub.listeners.add(listener)
        listener.put(hub.instruments_message())
        for text in hub.meter_messages():  # (the meters at once, still instruments' too)
            listener.put(text)
        sender = asyncio.create_task(_send_all(socket, listener))
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                message = await socket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:  # a binary frame: answered as malformed like any other
                    text = bytes(message.get("bytes") or b"").decode("utf-8", "replace")
                task = asyncio.create_task(_handle(hub, listener, text))
                tasks.add(task)  # kept until done (the loop holds tasks weakly)
                task.add_done_callback(tasks.discard)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            hub.listeners.discard(listener)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    routes = [
        Route("/", index),
        Route("/api/ping", ping),
        Route("/api/instruments", instruments),
        Route("/api/request", request_line, methods=["POST"]),
        Route("/api/lines", lines),
        *api.routes(hub),
        *journal.routes(hub),
        Route("/api/pair", pair, methods=["POST"]),
        WebSocketRoute("/ws", ws),
        Mount("/static", StaticFiles(directory=static_dir, check_dir=False), name="static"),
    ]
    return Guard(Starlette(routes=routes), sec)


async def _send_all(socket: WebSocket, listener: Listener) -> None:
    while True:
        await socket.send_text(await listener.queue.get())


async def _handle(hub: Hub, listener: Listener, text: str) -> None:
    """One page message: checked first; a malformed one is answered and changes nothing."""
    msg_id = None
    try:
        msg = messages.parse_page_message(text)
        msg_id = msg.get("id")
        if msg["type"] == "request":
            inst = hub.find(msg["device"])
            payload, refused = await hub.ask(inst, msg["line"])
            reply = messages.reply_message(msg_id, payload, refused)
        elif msg["type"] == "input":
            inst = hub.find(msg["device"])
            inst.send_input(msg["sensor"], msg["value"])
            return
        else:
            results = await hub.group(msg["action"], msg.get("key", ""), msg.get("value", ""))
            reply = messages.reply_message(msg_id, {"results": results}, None)
    except BadMessage as e:
        reply = messages.error_message(msg_id, str(e))
    except AttuneError as e:
        if msg_id is None:
            reply = messages.error_message(None, e.message)
        else:
            reply = {
                "type": "reply",
                "id": msg_id,
                "ok": False,
                "payload": None,
                "code": "unavailable",
                "message": e.message,
            }
    listener.put(json.dumps(reply, separators=(",", ":")))
