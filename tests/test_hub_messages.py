"""The hub's messages (host_tools/hub/messages.py): device lines in, page messages out."""

from __future__ import annotations

import pytest

from host_tools.client import Client, parse_async
from host_tools.errors import Refused
from host_tools.hub import messages


def test_a_monitor_line_with_release_and_noise_fills_the_meter() -> None:
    line = "* monitor t=120 pad raw=9000 level=5000 trigger=3000 release=2400 noise=310 pressed=1"
    assert messages.meter_channel(parse_async(line)) == {
        "name": "pad",
        "raw": 9000,
        "level": 5000,
        "trigger": 3000,
        "release": 2400,
        "noise": 310,
        "pressed": 1,
    }


def test_an_older_monitor_line_leaves_release_and_noise_null() -> None:
    line = "* monitor t=120 pad raw=1600 level=0 trigger=105 pressed=0"
    ch = messages.meter_channel(parse_async(line))
    assert ch["release"] is None and ch["noise"] is None and ch["trigger"] == 105


@pytest.mark.parametrize(
    "line, fields",
    [
        ("* event pad note_on 60 96", {"kind": "note_on", "note": 60, "velocity": 96}),
        ("* event pad note_off 60 0", {"kind": "note_off", "note": 60, "velocity": 0}),
        ("* event hand cc 1 64", {"kind": "cc", "note": 1, "value": 64}),
        ("* event hand bend -200", {"kind": "bend", "value": -200, "note": None}),
        ("* event pad pressure 80", {"kind": "pressure", "value": 80}),
    ],
)
def test_event_lines_become_note_messages(line: str, fields: dict) -> None:
    msg = messages.note_message("d", parse_async(line), channel=3)
    assert msg is not None and msg["channel"] == 3 and msg["device"] == "d"
    assert {k: msg[k] for k in fields} == fields


class _Port:
    def __init__(self, line: str) -> None:
        self.data = (line + "\r\n").encode()

    def write(self, data: bytes) -> int:
        return len(data)

    def read(self, size: int = 1) -> bytes:
        out, self.data = self.data[:size], self.data[size:]
        return out


@pytest.mark.parametrize(
    "payload", [{}, {"key": "pad.range", "value": "55"}, {"text": "plain words"}]
)
def test_a_rebuilt_reply_line_parses_as_the_original(payload: dict) -> None:
    line = messages.reply_line(payload)
    assert Client(_Port(line), timeout=1).request("x") == payload


def test_a_rebuilt_refusal_parses_as_the_original() -> None:
    line = messages.reply_line(None, Refused("value", "range must be 1..100.", "set"))
    with pytest.raises(Refused) as e:
        Client(_Port(line), timeout=1).request("set pad.range 0")
    assert (e.value.code, e.value.reason) == ("value", "range must be 1..100.")


class _Hub:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    def emit(self, message: dict) -> None:
        self.sent.append(message)

    def emit_line(self, device: str, line: str) -> None:
        pass


def test_a_round_is_one_frame_and_an_early_line_is_a_frame_at_once() -> None:
    from host_tools.hub.instrument import Instrument

    hub = _Hub()
    inst = Instrument(hub, "sim-combo-1", lambda: None)  # type: ignore[arg-type,return-value]
    inst.status = {"channels": [{"name": "switch"}, {"name": "pad"}, {"name": "hand"}]}
    tail = " raw=1 level=0 trigger=900 pressed=0 release=500 noise=10 move=0"
    inst._on_line("* monitor t=100 switch" + tail)
    inst._on_line("* monitor t=100 pad" + tail)
    assert hub.sent == []  # the round is still being gathered
    # the pad moved between two of the round's lines: its early line is shown at once
    inst._on_line("* monitor t=103 pad raw=9 level=5000 trigger=900 pressed=1 early=1")
    assert [(m["t"], [c["name"] for c in m["channels"]]) for m in hub.sent] == [(103, ["pad"])]
    assert hub.sent[0]["channels"][0]["pressed"] == 1
    inst._on_line("* monitor t=100 hand" + tail)
    assert [(m["t"], len(m["channels"])) for m in hub.sent] == [(103, 1), (100, 3)]
