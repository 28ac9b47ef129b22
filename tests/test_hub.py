"""Attune Studio's hub (host_tools/hub/) against a simulated combo it runs itself: the API, the
WebSocket, the command line going through it, group controls, security and malformed messages.

One Studio (with one simulated instrument, real time) serves the whole module.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from hubkit import running_studio
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from host_tools import cli
from host_tools.hub.instrument import wait_until
from host_tools.hub.studio import Studio

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="simulated instruments use a pty")

SIM = "sim-combo-1"


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    with running_studio(tmp_path_factory, "combo", "studio") as s:
        yield s


def http(
    studio: Studio,
    path: str,
    body: dict[str, Any] | bytes | None = None,
    headers: dict[str, str] | None = None,
    token: bool = True,
) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    req = urllib.request.Request(studio.url.rstrip("/") + path, data=data)
    if token:
        req.add_header("X-Attune-Token", studio.token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def own_origin(studio: Studio) -> str:
    return studio.url.rstrip("/")


def page(studio: Studio, **kwargs: Any) -> Any:
    return ws_connect(studio.url.replace("http", "ws") + "ws", origin=own_origin(studio), **kwargs)


def next_of(ws: Any, type_: str, seconds: float = 5.0, **match: Any) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if msg["type"] == type_ and all(msg.get(k) == v for k, v in match.items()):
            return msg
    raise AssertionError("no " + type_ + " message " + repr(match))


# -- instruments and requests -----------------------------------------------------------------


def test_the_simulated_instrument_is_listed_with_its_sensors_and_schema(studio: Studio) -> None:
    status, body = http(studio, "/api/instruments")
    assert status == 200
    (inst,) = body["instruments"]
    assert inst["id"] == SIM and inst["name"] == "combo" and inst["simulated"]
    assert inst["connected"] is True
    assert [c["name"] for c in inst["channels"]] == ["switch", "pad", "hand"]
    assert inst["channels"][1] == {
        "name": "pad",
        "sensor": "fsr",
        "kind": "analog",
        "unit": "read_u16",
    }
    assert any(p["key"] == "pad.sensitivity" for p in inst["params"])


def test_ping_says_it_is_studio(studio: Studio) -> None:
    status, body = http(studio, "/api/ping", token=False)
    assert status == 200 and body["studio"] is True and body["version"]


def test_a_request_through_the_api_gets_the_device_reply_line(studio: Studio) -> None:
    status, body = http(studio, "/api/request", {"line": "set pad.range 55"})
    assert (status, body["device"]) == (200, SIM)
    assert body["reply"].startswith("OK {")
    status, body = http(studio, "/api/request", {"device": "combo", "line": "get pad.range"})
    assert json.loads(body["reply"][3:]) == {"key": "pad.range", "value": "55"}
    status, body = http(studio, "/api/request", {"device": SIM, "line": "set pad.range 999"})
    assert status == 200 and body["reply"].startswith("ERR value ")


def test_unknown_device_is_404(studio: Studio) -> None:
    status, body = http(studio, "/api/request", {"device": "kazoo", "line": "status"})
    assert status == 404 and "kazoo" in body["error"]


def test_the_page_gets_meters_and_replies(studio: Studio) -> None:
    with page(studio) as ws:
        first = json.loads(ws.recv(timeout=5))
        assert first["type"] == "instruments" and first["instruments"][0]["id"] == SIM
        # a frame is one monitor round (lines sharing `t=`); the first may be cut (the round
        # began before the hub read it): the page takes channels by name, so that is harmless
        meter = next_of(ws, "meter", device=SIM)
        for _ in range(5):
            names = [c["name"] for c in meter["channels"]]
            assert set(names) <= {"switch", "pad", "hand"}
            if names == ["switch", "pad", "hand"]:
                break
            meter = next_of(ws, "meter", device=SIM)
        assert [c["name"] for c in meter["channels"]] == ["switch", "pad", "hand"]
        assert {"raw", "level", "trigger", "release", "noise", "pressed"} <= set(
            meter["channels"][1]
        )
        ws.send(json.dumps({"type": "request", "id": 7, "device": SIM, "line": "get pad"}))
        reply = next_of(ws, "reply", id=7)
        assert reply["ok"] and "pad.sensitivity" in reply["payload"]["values"]
        ws.send(json.dumps({"type": "request", "id": 8, "device": SIM, "line": "set pad.x 1"}))
        reply = next_of(ws, "reply", id=8)
        assert not reply["ok"] and reply["code"] and reply["message"]


def test_a_page_that_connects_gets_every_meter_at_once_though_the_sensors_are_still(
    studio: Studio,
) -> None:
    # a still instrument sends a frame a second; the hub hands a new page what it knows
    with page(studio) as first:
        next_of(first, "meter", device=SIM)  # (the hub has heard the device)
    with page(studio) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "instruments"
        meter = json.loads(ws.recv(timeout=0.2))
        assert meter["type"] == "meter" and meter["device"] == SIM
        assert [c["name"] for c in meter["channels"]] == ["switch", "pad", "hand"]
        assert all(isinstance(c["trigger"], int) and c["trigger"] > 0 for c in meter["channels"])


def test_the_virtual_input_plays_a_note_reported_at_once(studio: Studio) -> None:
    with page(studio) as ws:
        next_of(ws, "meter")
        ws.send(json.dumps({"type": "input", "device": SIM, "sensor": "switch", "value": 1}))
        t0 = time.monotonic()
        on = next_of(ws, "note", kind="note_on", sensor="switch")
        took = time.monotonic() - t0
        ws.send(json.dumps({"type": "input", "device": SIM, "sensor": "switch", "value": 0}))
        off = next_of(ws, "note", kind="note_off", sensor="switch")
    assert on["device"] == SIM and on["channel"] == 1 and on["velocity"] > 0
    assert off["note"] == on["note"]
    assert took < 1.0


def test_group_panic_reaches_every_instrument(studio: Studio) -> None:
    with page(studio) as ws:
        ws.send(json.dumps({"type": "group", "id": 3, "action": "panic"}))
        reply = next_of(ws, "reply", id=3)
    assert reply["ok"] and reply["payload"]["results"] == {SIM: 'OK {"panic":true}'}


def test_group_set_changes_the_scale_everywhere(studio: Studio) -> None:
    with page(studio) as ws:
        ws.send(
            json.dumps(
                {
                    "type": "group",
                    "id": 4,
                    "action": "set",
                    "key": "scale",
                    "value": "major_pentatonic",
                }
            )
        )
        reply = next_of(ws, "reply", id=4)
    assert reply["payload"]["results"][SIM].startswith("OK")
    assert http(studio, "/api/request", {"line": "get scale"})[1]["reply"].endswith(
        '"major_pentatonic"}'
    )


# -- the command line through the hub --------------------------------------------------------


def test_attune_set_and_get_reach_the_simulator_while_a_page_watches(
    studio: Studio, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATTUNE_DATA", str(studio.data_dir))
    meters: list[dict[str, Any]] = []
    stop = threading.Event()

    def watch() -> None:
        with page(studio) as ws:
            while not stop.is_set():
                try:
                    msg = json.loads(ws.recv(timeout=0.2))
                except TimeoutError:
                    continue
                if msg["type"] == "meter":
                    meters.append(msg)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        assert wait_until(lambda: bool(meters), 5)  # the page is watching
        assert cli.main(["set", "pad.sensitivity", "83"]) == 0
        capsys.readouterr()
        assert cli.main(["get", "pad.sensitivity", "--json"]) == 0
        got = json.loads(capsys.readouterr().out)
        assert cli.main(["status", "--device", "combo"]) == 0
        assert "Combo" in capsys.readouterr().out
        seen_before = len(meters)
        assert wait_until(lambda: len(meters) > seen_before, 2)
    finally:
        stop.set()
        watcher.join()
    assert got == {"key": "pad.sensitivity", "value": "83"}
    assert meters[-1]["device"] == SIM  # the meter kept going throughout


def test_attune_monitor_through_the_hub_shows_the_sensors(
    studio: Studio, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATTUNE_DATA", str(studio.data_dir))
    # (a still instrument sends a frame a second: 1.5 s sees one whatever ran before)
    assert cli.main(["monitor", "--json", "--seconds", "1.5"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]
    frames = [x for x in lines if x.get("kind") == "levels"]
    assert frames and {s["sensor"] for s in frames[-1]["sensors"]} == {"switch", "pad", "hand"}
    # the hub's own stream is untouched by the tool's `monitor off`
    inst = studio.hub.instruments[SIM]
    assert inst.connected
    with page(studio) as ws:
        next_of(ws, "meter", device=SIM)


def test_an_unknown_device_name_from_the_command_line_is_a_plain_error(
    studio: Studio, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATTUNE_DATA", str(studio.data_dir))
    assert cli.main(["status", "--device", "kazoo"]) != 0
    assert "kazoo" in capsys.readouterr().err


# -- security ---------------------------------------------------------------------------------


def test_a_foreign_host_is_refused(studio: Studio) -> None:
    status, body = http(studio, "/api/instruments", headers={"Host": "evil.example:80"})
    assert status == 421 and "refused" in body["error"]
    status, _ = http(studio, "/", headers={"Host": "attacker.test:" + str(studio.security.port)})
    assert status == 421


def test_a_foreign_origin_may_not_post(studio: Studio) -> None:
    status, body = http(
        studio, "/api/request", {"line": "panic"}, headers={"Origin": "http://evil.example"}
    )
    assert status == 403 and "evil.example" in body["error"]


def test_no_origin_needs_the_token(studio: Studio) -> None:
    status, _ = http(studio, "/api/request", {"line": "status"}, token=False)
    assert status == 403
    status, _ = http(studio, "/api/request", {"line": "status"})
    assert status == 200


def test_the_own_origin_may_post(studio: Studio) -> None:
    status, _ = http(
        studio,
        "/api/request",
        {"line": "status"},
        headers={"Origin": own_origin(studio)},
        token=False,
    )
    assert status == 200


def test_a_websocket_from_a_foreign_origin_is_refused(studio: Studio) -> None:
    url = studio.url.replace("http", "ws") + "ws"
    with pytest.raises(InvalidStatus) as e:
        ws_connect(url, origin="http://evil.example")  # type: ignore[arg-type]
    assert e.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        ws_connect(url)  # no Origin, no token
    with ws_connect(url, additional_headers={"X-Attune-Token": studio.token}) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "instruments"


def test_the_discovery_file_is_private(studio: Studio) -> None:
    path = studio.data_dir / "hub.json"
    doc = json.loads(path.read_text())
    assert doc["url"] == studio.url and doc["token"] == studio.token
    assert path.stat().st_mode & 0o077 == 0


# -- malformed messages -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, words",
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"type": "dance"}', "Unknown message type"),
        ('{"type": "request", "line": "status"}', "'id'"),
        ('{"type": "request", "id": 1, "line": "set pad.range 5\\u0007"}', "printable"),
        ('{"type": "request", "id": 1, "line": "' + "x" * 201 + '"}', "at most 200"),
        ('{"type": "input", "device": "sim-combo-1", "sensor": "pad", "value": 3}', "0 (rest)"),
        ('{"type": "input", "device": "sim-combo-1", "sensor": "nose", "value": 1}', "nose"),
        ('{"type": "group", "id": 2, "action": "explode"}', "'panic' or 'set'"),
    ],
)
def test_a_malformed_page_message_is_answered_and_changes_nothing(
    studio: Studio, text: str, words: str
) -> None:
    before = http(studio, "/api/request", {"line": "get pad.range"})[1]["reply"]
    with page(studio) as ws:
        ws.send(text)
        err = next_of(ws, "error")
    assert words in err["message"]
    assert http(studio, "/api/request", {"line": "get pad.range"})[1]["reply"] == before


def test_a_binary_frame_is_malformed_too(studio: Studio) -> None:
    with page(studio) as ws:
        ws.send(b"\x00\x01")
        assert "not valid JSON" in next_of(ws, "error")["message"]
        ws.send(json.dumps({"type": "request", "id": 1, "line": "get pad.range"}))
        assert next_of(ws, "reply", id=1)["ok"]  # the page stays connected


def test_a_malformed_api_request_is_400(studio: Studio) -> None:
    assert http(studio, "/api/request", b"{nope")[0] == 400
    assert http(studio, "/api/request", {"line": "status\nreset"})[0] == 400


def test_a_simulated_instrument_keeps_only_its_last_midi_events() -> None:
    """The simulator lists every MIDI event it plays; in Studio's child process that list keeps
    only the last ones, or it would grow for as long as Studio runs."""
    from host_tools.hub.simchild import Recent
    from simulator.outputs import midi_event

    events = Recent(100)
    for k in range(10_000):
        events.append(midi_event(float(k), 0x90, 60, 100))
        assert len(events) < 200
    assert len(events) >= 100 and events[-1]["t_ms"] == 9999.0
    assert [e["t_ms"] for e in events] == [float(k) for k in range(10_000 - len(events), 10_000)]
