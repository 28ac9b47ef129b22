"""The hub with (fake) Picos on USB: found by discovery, unplugged and plugged back in, a real
instrument's virtual input refused; and `--lan` pairing (host_tools/hub/security.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import serial
from host_fake import FakeAttune, FakeSerial
from websockets.sync.client import connect as ws_connect

from host_tools.client import Client
from host_tools.device import PortInfo
from host_tools.hub.instrument import wait_until
from host_tools.hub.security import SESSION_COOKIE, Security, check
from host_tools.hub.studio import Studio

PATH = "/dev/ttyACM7"


class Cable:
    """A fake Pico on a USB cable that the test can pull out and plug back in."""

    def __init__(self) -> None:
        self.plugged = True
        self.opened = 0

    def discover(self) -> list[PortInfo]:
        return [PortInfo(PATH, "Pico", "E661A", 0x2E8A, 5)] if self.plugged else []

    def open(self, path: str) -> Client:
        cable = self

        class Port(FakeSerial):
            def read(self, size: int = 1) -> bytes:
                if not cable.plugged:
                    raise serial.SerialException(
                        "device reports readiness to read but returned no data"
                    )
                if not self.out:
                    time.sleep(0.01)  # about real time: the fake's clock moves on each idle read
                return super().read(size)

        if not self.plugged:
            raise serial.SerialException("No such file")
        self.opened += 1
        client = Client(Port(FakeAttune()), timeout=2.0)
        client.hello(path)
        return client


@pytest.fixture
def plugged(tmp_path: Any) -> Iterator[tuple[Studio, Cable]]:
    cable = Cable()
    studio = Studio(tmp_path, discover=cable.discover, opener=cable.open, poll_s=0.05)
    studio.start_in_thread()
    try:
        yield studio, cable
    finally:
        studio.stop()


def page(studio: Studio) -> Any:
    return ws_connect(studio.url.replace("http", "ws") + "ws", origin=studio.url.rstrip("/"))


def instruments(ws: Any, seconds: float = 5.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv(timeout=seconds))
        if msg["type"] == "instruments":
            return msg["instruments"]
    raise AssertionError("no instruments message")


def request(ws: Any, rid: int, line: str) -> dict[str, Any]:
    """Sends `line` to the plugged-in Pico from the page; returns the hub's reply."""
    ws.send(json.dumps({"type": "request", "id": rid, "device": PATH, "line": line}))
    while (msg := json.loads(ws.recv(timeout=5)))["type"] != "reply":
        pass
    return msg


def test_a_pico_unplugged_and_plugged_back_in_is_reconnected(
    plugged: tuple[Studio, Cable],
) -> None:
    studio, cable = plugged
    hub = studio.hub
    assert wait_until(lambda: PATH in hub.instruments and hub.instruments[PATH].connected, 5)
    with page(studio) as ws:
        (inst,) = instruments(ws)
        assert inst["id"] == PATH and inst["connected"] and not inst["simulated"]
        cable.plugged = False
        (gone,) = instruments(ws)
        assert gone["id"] == PATH and gone["connected"] is False
        msg = request(ws, 1, "status")
        assert msg["ok"] is False and "not connected" in msg["message"]
        cable.plugged = True
        (back,) = instruments(ws)
        assert back["id"] == PATH and back["connected"] is True
        msg = request(ws, 2, "panic")
        assert msg["ok"] is True
    assert cable.opened == 2


def test_a_real_instrument_has_no_virtual_input(plugged: tuple[Studio, Cable]) -> None:
    studio, _ = plugged
    assert wait_until(lambda: PATH in studio.hub.instruments, 5)
    assert wait_until(lambda: studio.hub.instruments[PATH].connected, 5)
    with page(studio) as ws:
        ws.send(json.dumps({"type": "input", "device": PATH, "sensor": "pad", "value": 1}))
        while (msg := json.loads(ws.recv(timeout=5)))["type"] != "error":
            pass
    assert "Only a simulated instrument" in msg["message"]


# -- --lan pairing ----------------------------------------------------------------------------


def scope(path: str, client: str, headers: dict[str, str], method: str = "GET") -> dict:
    return {
        "type": "http",
        "path": path,
        "method": method,
        "client": (client, 50000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }


def test_lan_devices_need_the_pairing_code() -> None:
    sec = Security(port=8765, lan_host="192.168.1.20")
    host = {"Host": "192.168.1.20:8765"}
    assert check(sec, scope("/", "192.168.1.33", host)) is None  # the page itself loads
    refused = check(sec, scope("/api/instruments", "192.168.1.33", host))
    assert refused is not None and refused[0] == 401 and "pairing code" in refused[1]
    assert sec.pair("000000" if sec.pairing_code != "000000" else "111111") is None
    session = sec.pair(sec.pairing_code)
    assert session
    paired = dict(host, Cookie=SESSION_COOKIE + "=" + session)
    assert check(sec, scope("/api/instruments", "192.168.1.33", paired)) is None
    # this computer itself needs no pairing
    assert check(sec, scope("/api/instruments", "127.0.0.1", {"Host": "127.0.0.1:8765"})) is None


def test_lan_origin_is_the_lan_address() -> None:
    sec = Security(port=8765, lan_host="192.168.1.20")
    session = sec.pair(sec.pairing_code)
    headers = {
        "Host": "192.168.1.20:8765",
        "Origin": "http://192.168.1.20:8765",
        "Cookie": SESSION_COOKIE + "=" + str(session),
    }
    assert check(sec, scope("/api/request", "192.168.1.33", headers, "POST")) is None
    headers["Origin"] = "http://192.168.1.20.evil.example"
    assert check(sec, scope("/api/request", "192.168.1.33", headers, "POST"))[0] == 403  # type: ignore[index]
    assert check(sec, scope("/", "192.168.1.33", {"Host": "evil.example:8765"}))[0] == 421  # type: ignore[index]


# -- attune studio, as a therapist starts it ---------------------------------------------------


def test_attune_studio_prints_one_line_writes_its_discovery_file_and_cleans_up(
    tmp_path: Any,
) -> None:
    import os
    import signal
    import subprocess
    import sys

    from host_tools.firmware import REPO_DIR

    cmd = [sys.executable, "-m", "host_tools.cli", "studio", "--no-browser", "--http-port", "0"]
    env = dict(os.environ, PYTHONPATH=str(REPO_DIR))
    proc = subprocess.Popen(
        cmd + ["--data", str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=REPO_DIR, env=env
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("studio: http://127.0.0.1:") and line.endswith("/\n")
        doc = json.loads((tmp_path / "hub.json").read_text())
        assert doc["url"] == line.split(": ", 1)[1].strip() and doc["pid"] == proc.pid
        assert (tmp_path / "hub.json").stat().st_mode & 0o077 == 0
    finally:
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=15)[0]
    assert rest == ""  # exactly one line
    assert not (tmp_path / "hub.json").exists()


def test_an_unknown_simulated_instrument_is_a_plain_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    from host_tools.hub import studio

    assert studio.main(["--sim", "kazoo", "--no-browser", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "No instrument 'kazoo'" in err and "combo" in err


def test_pairing_codes_cannot_be_guessed_one_by_one() -> None:
    sec = Security(port=8765, lan_host="192.168.1.20")
    wrong = "000000" if sec.pairing_code != "000000" else "111111"
    for _ in range(5):
        assert sec.pair(wrong) is None
    assert sec.pair(sec.pairing_code) is None  # locked for a minute, even the right code
