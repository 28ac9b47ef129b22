"""Every conversation starts clean: request tags, stale replies, half lines left by another
program, an older firmware without tags, control characters refused, malformed replies in
plain words, and `profile import` / `export` that never lose or mix a profile. Against the
real firmware console (tests/host_fake.py)."""

from __future__ import annotations

import json
import os
import re

import pytest
from host_fake import FakeAttune, FakeSerial, attune, plug_in, profile_doc
from rich.console import Console

from host_tools import cli, errors
from host_tools.client import CLEAN_START, Client, read_profile_file
from host_tools.errors import BadFile, BadValue, ProfileExists


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")


def flood_replies(dev: FakeAttune, n: int = 30) -> bytes:
    """What the real firmware answers to `n` bad lines (too long, bad bytes, unknown words):
    the replies that may still be on their way when the next program opens the port."""
    out = bytearray()
    for i in range(n):
        line = (b"x" * 4936, b"set pad.sensitivity \xff", b"hello" * 3, b"junk " + bytes([i]))[
            i % 4
        ]
        reply = dev.console.handle(line)
        if reply:
            out += reply.encode() + b"\r\n"
    return bytes(out)


# -- a clean start and request tags -------------------------------------------------------------


@pytest.mark.parametrize("tags", [True, False], ids=["tagged", "older-firmware"])
def test_status_after_a_flood_whose_replies_are_still_on_their_way(monkeypatch, capsys, tags):
    dev = FakeAttune(tags=tags)
    stale = flood_replies(dev)
    assert b"The line is 4936 bytes long" in stale
    dev.in_flight += stale
    plug_in(monkeypatch, {"/dev/ttyACM0": dev})
    code, out, err = attune(capsys, "status", "--timeout", "1")
    assert code == 0, err
    assert "Combo" in out and "error" not in err


@pytest.mark.parametrize("tags", [True, False], ids=["tagged", "older-firmware"])
def test_a_half_line_left_by_another_program_is_refused_not_run(monkeypatch, capsys, tags):
    dev = FakeAttune(tags=tags)
    dev.inbuf += b"set pad.sensitivity 8"  # written with no newline by a program now gone
    plug_in(monkeypatch, {"/dev/ttyACM0": dev})
    code, out, err = attune(capsys, "status", "--timeout", "1")
    assert code == 0, err
    assert dev.settings.get("pad.sensitivity")[0] == "75"  # a cut-short command never runs


@pytest.mark.parametrize("tags", [True, False], ids=["tagged", "older-firmware"])
def test_a_leftover_rename_never_renames_to_hello(monkeypatch, capsys, tags):
    dev = FakeAttune(tags=tags)
    plug_in(monkeypatch, {"/dev/ttyACM0": dev})
    assert attune(capsys, "profile", "save", "anna")[0] == 0
    dev.inbuf += b"profile rename anna "
    code, out, err = attune(capsys, "status", "--timeout", "1")
    assert code == 0, err
    assert sorted(dev.profiles) == ["anna"]


def test_every_request_is_tagged_after_a_clean_start():
    dev = FakeAttune()
    port = FakeSerial(dev)
    client = Client(port, timeout=0.5)
    client.hello()
    client.status()
    client.set("pad.sensitivity", 80)
    assert bytes(port.written).startswith(CLEAN_START)
    sent = dev.wire[1:]
    assert len(sent) == 3 and client.tags is True
    tags = [line.split(" ")[0] for line in sent]
    assert all(re.fullmatch(r"@[0-9a-z]{1,8}", t) for t in tags) and len(set(tags)) == 3
    assert dev.requests[1:] == ["hello", "status", "set pad.sensitivity 80"]


def test_tags_differ_between_two_programs():
    dev = FakeAttune()
    one, two = Client(FakeSerial(dev)), Client(FakeSerial(dev))
    one.hello()
    two.hello()
    assert dev.wire[1].split(" ")[0] != dev.wire[3].split(" ")[0]


def test_a_reply_with_another_tag_or_none_never_answers_a_request():
    dev = FakeAttune()
    client = Client(FakeSerial(dev), timeout=0.5)
    client.hello()
    before = client.stale
    dev.in_flight += (
        b'@zz990001 OK {"key": "pad.sensitivity", "value": "5"}\r\n'
        b'OK {"key": "pad.sensitivity", "value": "6"}\r\n'
        b"ERR toolong The line is 4936 bytes long; the most is 200. Nothing was done.\r\n"
    )
    assert client.get("pad.sensitivity") == "75"
    assert client.stale - before == 3


def test_an_older_firmware_is_found_at_hello_and_spoken_to_untagged():
    dev = FakeAttune(tags=False)
    client = Client(FakeSerial(dev), timeout=0.5)
    info = client.hello()
    assert info.instrument == "combo" and client.tags is False
    assert client.set("pad.sensitivity", 81) == "81"
    assert dev.wire[1].startswith("@") and dev.wire[1].endswith(" hello")
    assert dev.wire[2:] == ["hello", "set pad.sensitivity 81"]


# -- control characters are never sent -----------------------------------------------------------


@pytest.mark.parametrize("value", ["C4\x03", "C4 \x01E4", "C4\x04", "\x1bC4", "C4\x7f", "Ç4"])
def test_a_control_character_in_a_value_is_refused_naming_the_key(value):
    dev = FakeAttune()
    client = Client(FakeSerial(dev), timeout=0.5)
    client.hello()
    sent = len(dev.wire)
    with pytest.raises(BadValue, match="'pad.melody'"):
        client.set("pad.melody", value)
    assert len(dev.wire) == sent


def test_the_cli_refuses_a_control_character_in_plain_words(monkeypatch, capsys):
    dev = FakeAttune()
    plug_in(monkeypatch, {"/dev/ttyACM0": dev})
    code, _, err = attune(capsys, "set", "pad.melody", "C4\x03")
    assert code == errors.BAD_VALUE
    assert "pad.melody" in err and "control character" in err
    assert not any(r.startswith("set") for r in dev.requests)


@pytest.mark.parametrize(
    "values, key",
    [
        ({"pad.melody": "C4\x03"}, "pad.melody"),
        ({"octave": "4", "scale": "\x01\x04"}, "scale"),
        ({"pad.\x03mode": "note"}, "pad.\\x03mode"),
        ({"pad.melody": "C4\u2028E4"}, "pad.melody"),
    ],
)
def test_a_profile_file_with_a_control_character_is_refused_naming_the_key(tmp_path, values, key):
    path = tmp_path / "p.json"
    path.write_text(profile_doc(values))
    with pytest.raises(BadFile, match=re.escape("'" + key + "'")):
        read_profile_file(path)
    dev = FakeAttune()
    client = Client(FakeSerial(dev), timeout=0.5)
    client.hello()
    with pytest.raises(BadFile):
        client.import_profile(path)
    assert dev.requests[1:] == ["hello"]


# -- a malformed reply is an error in plain words, never a traceback -----------------------------

MANGLED = [
    'OK {"state": 1, "channels": [1, "x", null]}',
    'OK {"values": [1]}',
    'OK {"values": "x"}',
    'OK {"params": "abc", "next": "x"}',
    'OK {"profiles": 7, "active": 3}',
    'OK {"profile": "[bold", "channels": [{"name": "[/]"}]}',
]
COMMANDS = [
    ["status"],
    ["params"],
    ["get", "pad"],
    ["profile", "list"],
    ["profile", "show", "anna"],
    ["monitor", "--seconds", "0.2"],
]


def mangling(dev: FakeAttune, bad: str, hello: bool = False) -> None:
    """Replace the device's replies (after `hello`, or only `hello`'s) with `bad`, tag kept."""
    real = dev.handle

    def handle(raw: bytes) -> list[str]:
        out = real(raw)
        if out and out[-1][:1] in "@OE" and (b"hello" in raw) == hello:
            tag = out[-1].split(" ", 1)[0]
            out[-1] = (tag + " " if tag.startswith("@") else "") + bad
        return out

    dev.handle = handle  # type: ignore[method-assign]


@pytest.mark.parametrize("bad", MANGLED)
@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_a_malformed_reply_is_reported_in_plain_words(monkeypatch, capsys, bad, argv):
    dev = FakeAttune()
    mangling(dev, bad)
    plug_in(monkeypatch, {"/dev/ttyACM0": dev})
    code, out, err = attune(capsys, *argv, "--timeout", "0.5")
    assert "Traceback" not in out + err
    if code not in (0, errors.REFUSED):  # some shapes are read as "nothing there"
        assert code == errors.BAD_REPLY, (code, err)
        assert "reply this attune tool cannot read" in err


@pytest.mark.parametrize(
    "bad",
    [
        'OK {"protocol": 1, "channels": 3}',
        'OK {"protocol": 1, "title": "[/]", "channels": ["[/x]"]}',
        "OK [",
    ],
)
def test_a_malformed_hello_is_reported_in_plain_words(monkeypatch, capsys, bad):
    dev = FakeAttune()
    mangling(dev, bad, hello=True)
    plug_in(monkeypatch, {"/dev/ttyACM0": dev})
    code, out, err = attune(capsys, "status", "--timeout", "0.5")
    assert "Traceback" not in out + err
    assert code in (0, errors.BAD_REPLY, errors.NOT_ATTUNE), (code, err)


def test_a_reply_that_is_neither_ok_nor_err_with_our_tag_is_a_bad_reply():
    dev = FakeAttune()
    client = Client(FakeSerial(dev), timeout=0.5)
    client.hello()
    mangling(dev, "maybe")
    with pytest.raises(errors.BadReply, match="cannot read"):
        client.status()


# -- profile import: never replace unasked, exactly the file's values ---------------------------


@pytest.fixture
def combo(monkeypatch):
    dev = FakeAttune()
    plug_in(monkeypatch, {"/dev/ttyACM0": dev})
    return dev


def anna_file(tmp_path, values=None):
    path = tmp_path / "anna.json"
    path.write_text(profile_doc(values or {"pad.sensitivity": "95"}))
    return path


def test_import_over_an_existing_profile_is_refused_with_no_one_to_ask(combo, capsys, tmp_path):
    combo.settings.set("octave", 6)
    assert attune(capsys, "profile", "save", "anna")[0] == 0
    before = combo.profiles["anna"]
    code, _, err = attune(capsys, "profile", "import", str(anna_file(tmp_path)))
    assert code == errors.REFUSED
    assert "already on the instrument" in err and "--force" in err
    assert combo.profiles["anna"] == before
    assert combo.settings.get("pad.sensitivity")[0] == "75"  # nothing changed live either


def test_import_over_an_existing_profile_asks_first(combo, capsys, tmp_path, monkeypatch):
    assert attune(capsys, "profile", "save", "anna")[0] == 0
    before = combo.profiles["anna"]
    monkeypatch.setattr(cli, "_can_ask", lambda: True)
    asked = []

    def answer(self, prompt=""):
        asked.append(prompt)
        return answers.pop(0)

    answers = ["n", "y"]
    monkeypatch.setattr(Console, "input", answer)
    code, out, _ = attune(capsys, "profile", "import", str(anna_file(tmp_path)))
    assert code == 0 and "Nothing was imported" in out and combo.profiles["anna"] == before
    assert "'anna'" in asked[0]
    code, out, _ = attune(capsys, "profile", "import", str(anna_file(tmp_path)))
    assert code == 0 and "replacing" in out
    assert combo.profiles["anna"]["pad.sensitivity"] == "95"


def test_import_force_replaces_without_asking(combo, capsys, tmp_path, monkeypatch):
    assert attune(capsys, "profile", "save", "anna")[0] == 0
    monkeypatch.setattr(Console, "input", lambda self, prompt="": pytest.fail("asked"))
    code, _, _ = attune(capsys, "profile", "import", str(anna_file(tmp_path)), "--force")
    assert code == 0 and combo.profiles["anna"]["pad.sensitivity"] == "95"


def test_the_client_refuses_to_replace_unless_told(combo, tmp_path):
    client = Client(FakeSerial(combo), timeout=0.5)
    client.hello()
    client.profile_save("anna")
    with pytest.raises(ProfileExists):
        client.import_profile(anna_file(tmp_path))
    assert client.import_profile(anna_file(tmp_path), replace=True).replaced


def test_import_takes_exactly_the_files_values_and_names_the_defaulted_keys(
    combo, capsys, tmp_path
):
    # the previous client's live values must not leak into the imported profile
    combo.settings.set("octave", 6)
    combo.settings.set("pad.range", 40)
    path = anna_file(tmp_path, {"pad.sensitivity": "95", "scale": "blues"})
    code, out, _ = attune(capsys, "profile", "import", str(path))
    assert code == 0
    saved = combo.profiles["anna"]
    assert saved["pad.sensitivity"] == "95" and saved["scale"] == "blues"
    assert saved["octave"] == "4" and saved["pad.range"] == "100"  # the defaults
    assert "take the instrument's defaults" in out and "octave" in out and "pad.range" in out
    code, result, _ = run_json(capsys, "profile", "import", str(path), "anna2")
    assert "octave" in result["defaulted"] and "pad.sensitivity" not in result["defaulted"]


def run_json(capsys, *argv):
    code, out, err = attune(capsys, *argv, "--json")
    return code, json.loads(out), err


# -- export --force never replaces anything but a plain file -------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "folder", "device"])
def test_export_force_refuses_a_non_regular_file(combo, capsys, tmp_path, kind):
    assert attune(capsys, "profile", "save", "anna")[0] == 0
    if kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs here")
        target = tmp_path / "pipe"
        os.mkfifo(target)
    elif kind == "folder":
        target = tmp_path / "folder"
        target.mkdir()
    else:
        if not os.path.exists(os.devnull) or os.name != "posix":
            pytest.skip("no device files here")
        link = tmp_path / "null.json"
        link.symlink_to(os.devnull)  # a profile name that leads to a device
        target = link
    code, _, err = attune(capsys, "profile", "export", "anna", str(target), "--force")
    assert code == errors.BAD_FILE and "cannot be replaced" in err
    assert os.path.lexists(target) and not target.is_file()


def test_export_force_still_replaces_a_plain_file(combo, capsys, tmp_path):
    assert attune(capsys, "profile", "save", "anna")[0] == 0
    path = tmp_path / "anna.json"
    path.write_text("{}")
    assert attune(capsys, "profile", "export", "anna", str(path), "--force")[0] == 0
    assert read_profile_file(path)["name"] == "anna"
    assert [p.name for p in tmp_path.iterdir()] == ["anna.json"]  # no temporary file left


def test_status_shows_why_a_damaged_start_up_pointer_started_another_profile(combo, capsys):
    assert attune(capsys, "profile", "save", "anna")[0] == 0
    assert attune(capsys, "profile", "save", "ben")[0] == 0  # active.bak now names anna
    with open(combo.flash + "/active.json", "wb") as f:
        f.write(b'{"layout": 1, "val')  # torn
    combo.kit.profiles.load_startup()  # the next start-up
    code, out, _ = attune(capsys, "status")
    assert code == 0 and "Profile: anna" in out
    assert "record of which profile to start with" in out and "profile load" in out
