"""The hub's endpoints for tools and the page's panels (docs/studio-api.md): letting go of a
Pico's port for `attune deploy`, and `attune doctor`'s findings through the hub.

Usage: routes = api.routes(hub)   # added to the app by server.build_app
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from host_tools.errors import AttuneError, DeviceTimeout, NoDevice, SeveralDevices
from host_tools.hub.hub import Hub
from host_tools.hub.messages import BadMessage

MAX_BODY = 4096
Handler = Callable[[Request], Awaitable[Response]]


def status_of(e: AttuneError) -> int:
    """The HTTP status for an error finding or asking an instrument."""
    if isinstance(e, NoDevice):
        return 404
    if isinstance(e, SeveralDevices):
        return 409
    if isinstance(e, DeviceTimeout):
        return 504
    return 503  # known but not connected right now


def error(status: int, text: str) -> JSONResponse:
    return JSONResponse({"error": text}, status_code=status)


def refusals(
    attune_error: Callable[[AttuneError], Response] | None = None,
) -> Callable[[Handler], Handler]:
    """A route's handler whose refusals become a JSON error in plain words: a malformed request
    (BadMessage) is 400, an AttuneError is `attune_error(e)` (by default its status_of).
    Usage: @refusals() above `async def handler(request)` in a routes() function."""

    def wrap(fn: Handler) -> Handler:
        @functools.wraps(fn)
        async def handler(request: Request) -> Response:
            try:
                return await fn(request)
            except BadMessage as e:
                return error(400, str(e))
            except AttuneError as e:
                if attune_error is not None:
                    return attune_error(e)
                return error(status_of(e), e.message)

        return handler

    return wrap


async def json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise BadMessage("The request is too long.")
    try:
        data = json.loads(body or b"null")
    except ValueError:
        raise BadMessage("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadMessage("The request body must be a JSON object.")
    return data


def _device(data: dict[str, Any]) -> str | None:
    device = data.get("device")
    if device is not None and not isinstance(device, str):
        raise BadMessage("'device' must be an instrument's id or name, as text.")
    return device


def routes(hub: Hub) -> list[Route]:
    """The routes, bound to `hub`."""

    @refusals()
    async def release(request: Request) -> Response:
        """The command line's `attune deploy` asks for a Pico's port (docs/studio-api.md)."""
        data = await json_body(request)
        why = data.get("for", "attune deploy")
        seconds = data.get("seconds", 900)
        if not isinstance(why, str) or len(why) > 80 or not why.isprintable():
            raise BadMessage("'for' must be a few words saying what needs the port.")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            raise BadMessage("'seconds' must be a number.")
        inst = hub.find(_device(data))
        await hub.release(inst, why, float(seconds))
        return JSONResponse({"released": inst.id})

    @refusals()
    async def resume(request: Request) -> Response:
        inst = hub.find(_device(await json_body(request)))
        hub.resume(inst)
        return JSONResponse({"resumed": inst.id})

    @refusals()
    async def doctor(request: Request) -> Response:
        """`attune doctor`'s findings for one instrument (the page's Check-up view)."""
        inst = hub.find(request.query_params.get("device"))
        return JSONResponse(await hub.doctor(inst))

    return [
        Route("/api/release", release, methods=["POST"]),
        Route("/api/resume", resume, methods=["POST"]),
        Route("/api/doctor", doctor),
    ]
