"""A simulated instrument whose child process dies is started again by the hub, with a notice to
the page (host_tools/hub/simulated.py)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any

import pytest
from websockets.sync.client import connect as ws_connect

from host_tools.hub.instrument import wait_until
from host_tools.hub.studio import Studio

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="simulated instruments use a pty")

SIM = "sim-big-switch-1"


def notices(ws: Any, seconds: float, want: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(got) < want:
        try:
            msg = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        except TimeoutError:
            break
        if msg["type"] == "notice" and msg["device"] == SIM:
            got.append(msg)
    return got


def test_a_killed_simulated_instrument_comes_back(tmp_path: Any) -> None:
    studio = Studio(tmp_path, sims=["big-switch"], discover=None).start_in_thread()
    try:
        inst = studio.hub.instruments[SIM]
        assert wait_until(lambda: inst.connected, 30), inst.problem
        first = inst.proc
        assert first is not None
        url = studio.url
        with ws_connect(url.replace("http", "ws") + "ws", origin=url.rstrip("/")) as ws:
            os.kill(first.pid, signal.SIGKILL)
            got = notices(ws, 40, 2)
            texts = [m["text"] for m in got]
            assert got and got[0]["kind"] == "fault", texts
            assert "stopped unexpectedly" in texts[0] and "starting it again" in texts[0]
            assert any("running again" in t for t in texts[1:]), texts
        assert wait_until(lambda: inst.connected, 30), inst.problem
        assert inst.proc is not first and inst.proc is not None and inst.proc.poll() is None
        assert inst.restarts == 1
        # and it plays: a request goes through to the new child
        status = studio.hub.instruments[SIM].status
        assert status.get("channels")
    finally:
        studio.stop()
