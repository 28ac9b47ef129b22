"""The protocol's words: request lines split and refused, replies and asynchronous lines formed."""

import json

import protocol
import pytest
from hypothesis import given
from hypothesis import strategies as st


def test_a_request_splits_into_lower_case_command_and_the_rest():
    assert protocol.parse(b"SET pad.melody C4 D4  E4 ") == ("set", "pad.melody C4 D4  E4", None)


def test_a_command_alone_has_an_empty_rest():
    assert protocol.parse(b"status") == ("status", "", None)


def test_the_line_ending_is_ignored_whether_crlf_or_lf():
    assert protocol.parse(b"hello\r\n") == ("hello", "", None)
    assert protocol.parse(b"hello\n") == ("hello", "", None)


@pytest.mark.parametrize("line", [b"", b"   ", b"\r\n", b"\n"])
def test_an_empty_or_blank_line_is_ignored(line):
    assert protocol.parse(line) == ("", "", None)


def test_a_line_of_200_bytes_is_accepted_and_201_is_too_long():
    assert protocol.parse(b"x" * 200)[2] is None
    cmd, rest, error = protocol.parse(b"x" * 201)
    assert cmd is None
    assert error.startswith("ERR toolong ")
    assert "200" in error


@pytest.mark.parametrize("line", [b"h\xc3\xa9llo", b"\xff\xfe", b"get pad\x80"])
def test_a_line_with_bytes_that_are_not_printable_ascii_is_refused(line):
    cmd, _, error = protocol.parse(line)
    assert cmd is None
    assert error.startswith("ERR encoding ")


@pytest.mark.parametrize(
    "line, where, name",
    [
        (b"hello\x03", 6, "Ctrl-C"),
        (b"get \x00pad", 5, "Ctrl-@"),
        (b"set pad.mode \x7f", 14, "DEL"),
        (b"\x01print('pwned')\x04", 1, "Ctrl-A"),
        (b"status\x1b[A", 7, "Ctrl-["),
    ],
)
def test_a_control_character_is_refused_in_plain_words_never_obeyed(line, where, name):
    cmd, _, error = protocol.parse(line)
    assert cmd is None
    assert error.startswith("ERR control Byte " + str(where) + " of the line ")
    assert name in error and "never commands" in error


@pytest.mark.parametrize("byte", [b for b in range(32)] + [127])
def test_every_control_byte_but_tab_cr_and_lf_is_refused(byte):
    cmd, _, error = protocol.parse(b"status" + bytes((byte,)) + b"x")
    if byte in (9, 10, 13):
        assert (cmd, error) == ("status", None)
    else:
        assert cmd is None and error.startswith("ERR control ")


def test_tab_is_white_space():
    assert protocol.parse(b"set\tpad.range\t 5\t") == ("set", "pad.range  5", None)
    assert protocol.parse(b"\tstatus") == ("status", "", None)


def test_ok_carries_a_json_object():
    line = protocol.ok({"key": "pad.sensitivity", "value": "70"})
    assert line.startswith("OK ")
    assert json.loads(line[3:]) == {"key": "pad.sensitivity", "value": "70"}


def test_err_is_one_line_of_plain_ascii_with_code_then_reason():
    line = protocol.err("value", "range must be\n1 to 100 \u00b5")
    assert line == "ERR value range must be?1 to 100 ?"


def test_a_very_long_reason_is_cut_short():
    assert len(protocol.err("value", "x" * 5000)) < 320


def test_an_asynchronous_line_starts_with_a_star():
    assert protocol.notice("fault", "pad not answering") == "* fault pad not answering"


@pytest.mark.parametrize("name", ["anna", "Ben-2", "client_07", "a", "x" * 24, "A-b_C-9"])
def test_profile_names_of_letters_digits_dash_underscore_are_accepted(name):
    assert protocol.valid_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "x" * 25,
        "../x",
        "a/b",
        "a\\b",
        "a.b",
        ".hidden",
        "a b",
        "\u00e4nna",
        "\u0430nna",
        "anna\n",
        "con:",
        None,
        5,
    ],
)
def test_profile_names_with_paths_odd_characters_or_wrong_length_are_refused(name):
    assert not protocol.valid_name(name)


@given(st.binary(max_size=400))
def test_any_bytes_parse_to_a_command_or_exactly_one_error_line(data):
    cmd, rest, error = protocol.parse(data)
    if error is None:
        assert isinstance(cmd, str) and isinstance(rest, str)
        assert cmd == cmd.lower() and " " not in cmd
    else:
        assert cmd is None
        assert error.startswith("ERR ")
        assert "\n" not in error and "\r" not in error
        assert all(" " <= c <= "~" for c in error)


@given(st.text(max_size=100))
def test_valid_names_are_exactly_the_safe_ones(name):
    safe = 1 <= len(name) <= 24 and all(c.isascii() and (c.isalnum() or c in "-_") for c in name)
    assert protocol.valid_name(name) == safe


# ---- request tags (docs/protocol.md) ----------------------------------------------------------


@pytest.mark.parametrize(
    "line, tag, rest",
    [
        (b"@a7 status", "a7", b"status"),
        (b"@ABCdef12 set pad.range 5", "ABCdef12", b"set pad.range 5"),
        (b"@1 hello\r\n", "1", b"hello\r\n"),
        (b"status", None, b"status"),
        (b"", None, b""),
    ],
)
def test_a_tag_is_split_off_the_request(line, tag, rest):
    assert protocol.split_tag(line) == (tag, rest, None)


@pytest.mark.parametrize(
    "line", [b"@ status", b"@abcdefghi status", b"@a-7 status", b"@a7status!", b"@a\x03 hi"]
)
def test_a_bad_tag_is_refused_untagged_in_plain_words(line):
    tag, rest, error = protocol.split_tag(line)
    assert tag is None and rest is None
    assert error.startswith("ERR tag ") and "1 to 8 letters or digits" in error


def test_a_tagged_reply_starts_with_the_same_tag_and_an_untagged_one_is_unchanged():
    assert protocol.tagged("a7", 'OK {"x": 1}') == '@a7 OK {"x": 1}'
    assert protocol.tagged(None, "ERR unknown x") == "ERR unknown x"
    assert protocol.tagged("a7", None) is None
