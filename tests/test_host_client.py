"""The protocol client against the in-memory fake instrument: replies, async lines, paging,
handshake checks and profile files."""

from __future__ import annotations

import json

import pytest
from host_fake import FakeAttune, FakeSerial, profile_doc, schema_rows

from host_tools.client import Client, parse_async, read_profile_file
from host_tools.errors import BadFile, DeviceTimeout, NotAttune, Refused


def connected(**kw) -> tuple[Client, FakeAttune]:
    dev = FakeAttune(**kw)
    client = Client(FakeSerial(dev), timeout=0.3)
    client.hello("fake")
    return client, dev


def test_hello_reads_the_instrument():
    client, _ = connected()
    assert client.info is not None
    assert client.info.instrument == "combo"
    assert client.info.channels == ["switch", "pad", "hand"]
    assert client.info.matches("COMBO") and client.info.matches("combo")


def test_other_protocol_version_is_not_attune():
    with pytest.raises(NotAttune, match="protocol version 2"):
        connected(proto=2)


def test_plain_micropython_prompt_is_not_attune():
    with pytest.raises(NotAttune, match="NameError"):
        connected(mode="repl")


def test_silent_port_is_not_attune():
    with pytest.raises(NotAttune, match="did not answer at all"):
        connected(mode="silent")


def test_stale_reply_before_hello_is_skipped():
    dev = FakeAttune()
    port = FakeSerial(dev)
    port.out += b'OK {"panic": true}\r\n'
    info = Client(port, timeout=0.3).hello()
    assert info.title == "Combo"


def test_set_returns_the_stored_value():
    client, dev = connected()
    assert client.set("pad.sensitivity", 80) == "80"
    assert dev.settings.get("pad.sensitivity")[0] == "80"


def test_refused_value_keeps_the_devices_reason_verbatim():
    client, _ = connected()
    with pytest.raises(Refused) as e:
        client.set("pad.sensitivity", 500)
    assert e.value.code == "value"
    assert e.value.reason == (
        "sensitivity must be a whole number from 1 to 100; 500 is out of range."
    )


def test_async_lines_arriving_before_a_reply_are_set_aside():
    client, dev = connected()
    dev.before_reply = ["* fault hand not answering", "* event pad note_on 60 90"]
    assert client.get("pad.mode") == "note"
    assert list(client.async_lines) == ["* fault hand not answering", "* event pad note_on 60 90"]
    assert client.read_async(0.1) == "* fault hand not answering"


def test_async_lines_go_to_a_callback_when_given():
    seen = []
    dev = FakeAttune()
    client = Client(FakeSerial(dev), timeout=0.3, on_async=seen.append)
    client.hello()
    dev.before_reply = ["* info hand recovered"]
    client.panic()
    assert seen == ["* info hand recovered"]


def test_silence_after_hello_times_out():
    client, dev = connected(mode="mute")
    with pytest.raises(DeviceTimeout, match="did not answer 'status'"):
        client.status()


def test_params_follow_next_through_every_page():
    client, dev = connected(page=5)
    rows = client.params()
    assert [r["key"] for r in rows] == [r["key"] for r in schema_rows()]
    pages = [r for r in dev.requests if r.startswith("params")]
    assert len(pages) == -(-len(rows) // 5)
    assert pages[:2] == ["params", "params 5"]


def test_parameters_expand_channel_keys_per_sensor():
    client, _ = connected()
    keys = [p["key"] for p in client.parameters()]
    assert "channel" in keys and "pad.sensitivity" in keys and "hand.melody" in keys
    assert "sensitivity" not in keys


def test_request_refuses_a_line_break():
    client, _ = connected()
    with pytest.raises(ValueError):
        client.request("set pad.mode note\nreset")


def test_export_then_import_round_trip(tmp_path):
    client, dev = connected()
    client.set("pad.sensitivity", 91)
    client.set("scale", "blues")
    client.set("pad.melody", "C4 E4 G4")
    client.profile_save("anna")
    path = tmp_path / "anna.json"
    doc = client.export_profile("anna", path)
    assert doc["format"] == "attune-profile" and doc["instrument"] == "combo"
    assert "saved_at" in doc and doc["values"]["pad.sensitivity"] == "91"

    other, dev2 = connected()
    result = other.import_profile(path, "anna2")
    assert result.refused == [] and result.saved
    assert dev2.profiles["anna2"] == dev.profiles["anna"]
    assert dev2.settings.get("pad.melody")[0] == "C4 E4 G4"


def test_import_reports_every_refused_key_and_saves_the_rest(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(
        profile_doc(
            {"pad.sensitivity": "95", "pad.range": "400", "wings.mode": "note", "octave": "5"}
        )
    )
    client, dev = connected()
    result = client.import_profile(path)
    assert result.name == "anna"
    assert sorted(result.applied) == ["octave", "pad.sensitivity"]
    assert [k for k, _ in result.refused] == ["pad.range", "wings.mode"]
    assert "400 is out of range" in dict(result.refused)["pad.range"]
    assert dev.profiles["anna"]["pad.sensitivity"] == "95"


def test_import_orders_paired_limits_by_retrying(tmp_path):
    path = tmp_path / "p.json"
    # velocity_min 120 only fits after velocity_max has become 127 (default max is 110)
    path.write_text(profile_doc({"velocity_min": "120", "velocity_max": "127"}))
    client, dev = connected()
    result = client.import_profile(path)
    assert result.refused == []
    assert dev.settings.get("velocity_min")[0] == "120"


@pytest.mark.parametrize(
    "text, problem",
    [
        ("not json", "not a valid JSON"),
        (json.dumps({"values": {"a": "1"}}), "not an Attune profile"),
        (json.dumps({"format": "attune-profile", "version": 9, "values": {"a": "1"}}), "newer"),
        (
            json.dumps({"format": "attune-profile", "version": 1, "values": {}}),
            "holds no settings",
        ),
        (json.dumps({"format": "attune-profile", "version": 1, "values": {"a": [1]}}), "text or"),
        (
            json.dumps({"format": "attune-profile", "version": 1, "values": {"a": "1\nreset"}}),
            "not a valid setting",
        ),
    ],
)
def test_bad_profile_files_are_refused_before_anything_changes(tmp_path, text, problem):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(BadFile, match=problem):
        read_profile_file(path)


def test_import_with_a_bad_name_changes_nothing(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(profile_doc({"pad.sensitivity": "95"}))
    client, dev = connected()
    with pytest.raises(BadFile, match="cannot be a profile name"):
        client.import_profile(path, "../etc")
    assert not any(r.startswith("set") for r in dev.requests)


def test_export_does_not_overwrite_unasked(tmp_path):
    client, _ = connected()
    client.profile_save("anna")
    path = tmp_path / "anna.json"
    path.write_text("{}")
    with pytest.raises(BadFile, match="already exists"):
        client.export_profile("anna", path)
    client.export_profile("anna", path, overwrite=True)
    assert read_profile_file(path)["name"] == "anna"


def test_parse_async_lines():
    m = parse_async("* monitor t=120 pad raw=2048 level=9000 trigger=6000 pressed=1")
    assert m == {
        "kind": "monitor",
        "line": m["line"],
        "t": 120,
        "sensor": "pad",
        "raw": 2048,
        "level": 9000,
        "trigger": 6000,
        "pressed": True,
    }
    e = parse_async("* event pad note_on 60 96")
    assert (e["kind"], e["sensor"], e["type"], e["note"], e["velocity"]) == (
        "event",
        "pad",
        "note_on",
        60,
        96,
    )
    assert parse_async("* event pad cc 11 64")["value"] == 64
    f = parse_async("* fault hand not answering (I2C error)")
    assert f["reason"] == "not answering (I2C error)"
    c = parse_async("* calibrate pad result baseline=1200 noise=9 range=58.")
    assert c["phase"] == "result" and c["values"] == {"baseline": 1200, "noise": 9, "range": 58}
    j = parse_async('* calibrate pad result {"range": 58}')
    assert j["values"] == {"range": 58}
    assert parse_async("* ")["kind"] == "other"
    assert parse_async("* event")["kind"] == "other"


class _SlowPort:
    """A port with nothing to read: each read waits out its timeout (50 ms on the hub's ports)
    unless cancelled, as pyserial's `cancel_read` ends one wait."""

    in_waiting = 0

    def __init__(self, lines: bytes = b"") -> None:
        self.data = lines
        self.reads = 0

    def read(self, size: int = 1) -> bytes:
        self.reads += 1
        out, self.data = self.data, b""
        return out

    def write(self, data: bytes) -> int:
        return len(data)


def test_next_async_reads_the_port_at_most_once():
    # Studio's hub waits here between requests; a request's cancel_read ends one wait, and a
    # second one would hold the request up to the next line (33 ms at 30 Hz) or 50 ms
    port = _SlowPort()
    client = Client(port)
    assert client.next_async() is None and port.reads == 1
    port.data = b"OK stray\n* levels t=5 pad=10,0\n* event pad note_on 60 90\n"
    assert client.next_async() == "* levels t=5 pad=10,0" and port.reads == 2
    assert client.next_async() == "* event pad note_on 60 90" and port.reads == 2
    assert client.noise[-1] == "OK stray"
