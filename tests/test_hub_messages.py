"""The hub's messages (host_tools/hub/messages.py): device lines in, page messages out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


def test_a_levels_frame_is_one_meter_message_with_what_the_monitor_lines_said() -> None:
    from host_tools.hub.instrument import Instrument

    hub = _Hub()
    inst = Instrument(hub, "sim-combo-1", lambda: None)  # type: ignore[arg-type,return-value]
    tail = " raw=1 level=0 trigger=900 pressed=0 release=500 noise=10 move=0"
    inst._on_line("* monitor t=100 pad" + tail)  # one sensor's whole state: shown at once
    assert [(m["t"], [c["name"] for c in m["channels"]]) for m in hub.sent] == [(100, ["pad"])]
    inst._on_line("* levels t=133 switch=0,0 pad=5000,1 hand=80,0")
    frame = hub.sent[-1]
    assert frame["t"] == 133 and [c["name"] for c in frame["channels"]] == [
        "switch",
        "pad",
        "hand",
    ]
    pad = frame["channels"][1]
    assert (pad["level"], pad["pressed"], pad["trigger"], pad["release"]) == (5000, 1, 900, 500)
    # a sensor whose `* monitor` line has not come yet: its points are not drawn
    assert frame["channels"][2]["trigger"] is None and frame["channels"][2]["level"] == 80
    # the next `* monitor` line keeps the frame's level until a frame says otherwise
    inst._on_line("* monitor t=140 pad raw=9 level=5100 trigger=950 pressed=1 release=570")
    inst._on_line("* levels t=166 switch=0,0 pad=4000,1 hand=80,0")
    pad = hub.sent[-1]["channels"][1]
    assert (pad["level"], pad["trigger"], pad["release"]) == (4000, 950, 570)


@pytest.mark.parametrize(
    "line", ["* levels", "* levels t=5 pad", "* levels t=x pad=1", "* levels pad=a,b sw=1,0"]
)
def test_a_damaged_frame_parses_to_what_it_holds(line: str) -> None:
    msg = parse_async(line)
    assert msg["kind"] == "levels"
    assert all(s["sensor"] in ("sw",) for s in msg.get("sensors", []))


@given(st.text(max_size=80), st.sampled_from(["* levels ", "* monitor ", "* levels t=5 "]))
def test_any_meter_line_parses_and_merges_without_raising(tail: str, head: str) -> None:
    known: dict = {}
    for ch in messages.meter_frame(known, parse_async(head + tail)):
        assert isinstance(ch["name"], str) and ch["pressed"] in (0, 1)
