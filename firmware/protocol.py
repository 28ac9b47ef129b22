"""The serial protocol's words: split a request line, format replies and asynchronous lines.

Usage: cmd, rest, error = parse(b"set pad.sensitivity 80"); reply = ok({"key": "pad.sensitivity"})

Pure functions, no I/O: the firmware's console and the host tools both use them (docs/protocol.md).
"""

import json

# Plain ints, not const(): host tools import this module on CPython without MicroPython's fakes.
VERSION = 1  # protocol version, reported by `hello`
MAX_LINE = 200  # bytes in a request line, without its line ending
MAX_NAME = 24  # characters in a profile name
_REASON_MAX = 300  # characters kept of an error reason
LEVEL_MAX = 16383  # a sensor's movement level in monitor lines: 0..LEVEL_MAX (14 bits)

NAME_RULE = "Profile names are 1 to 24 characters: letters, digits, - and _ only."


def parse(line):
    """A request line (bytes, without or with its line ending) -> (command, rest, error).

    `command` is the first word in lower case, `rest` the remaining text stripped at both ends.
    An empty line gives ("", "", None): it gets no reply. A refused line gives
    (None, None, reply line) with the ERR reply to send.
    """
    n = len(line)
    while n and line[n - 1] in (10, 13):
        n -= 1
    if n > MAX_LINE:
        return (
            None,
            None,
            err(
                "toolong",
                "The line is "
                + str(n)
                + " bytes long; the most is "
                + str(MAX_LINE)
                + ". Nothing was done.",
            ),
        )
    spaces = False  # a TAB, CR or LF inside the line: white space, like a space
    for i in range(n):
        b = line[i]
        if 32 <= b <= 126:
            continue
        if b == 9 or b == 10 or b == 13:
            spaces = True
            continue
        if b < 32 or b == 127:
            return None, None, err("control", _control_reason(i, b))
        return (
            None,
            None,
            err(
                "encoding",
                "Byte "
                + str(i + 1)
                + " of the line ("
                + hex(b)
                + ") is not plain text. Use printable ASCII only; nothing "
                "was done.",
            ),
        )
    if spaces:
        line = bytes(32 if b in (9, 10, 13) else b for b in line[:n])
    text = bytes(line[:n]).decode().strip()
    if not text:
        return "", "", None
    sp = text.find(" ")
    if sp < 0:
        return text.lower(), "", None
    return text[:sp].lower(), text[sp + 1 :].strip(), None


def split_tag(line):
    """A request line (bytes) -> (tag, rest, error): `@a7 status` gives ("a7", b"status", None).

    No tag: (None, line, None). A tag is `@` then 1 to 8 letters or digits, then a space; its
    reply echoes it (`tagged`). A bad tag gives (None, None, the untagged ERR reply line).
    """
    n = len(line)
    i = 0
    while i < n and line[i] == 32:  # leading spaces, as parse() allows them
        i += 1
    if i >= n or line[i] != 64:  # "@"
        return None, line, None
    j = i + 1
    while j < n and j - i <= 9:
        b = line[j]
        if not (48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122):
            break
        j += 1
    k = j - i - 1  # letters and digits after the @
    if k < 1 or k > 8 or (j < n and line[j] not in (32, 9, 10, 13)):
        return (
            None,
            None,
            err(
                "tag",
                "A request tag is @ followed by 1 to 8 letters or digits and a space, "
                "e.g. '@a7 status'. Nothing was done.",
            ),
        )
    return bytes(line[i + 1 : j]).decode(), line[j + 1 :] if j < n else b"", None


def tagged(tag, reply):
    """The reply line for a request that carried `tag` (None: the reply as it is)."""
    if tag is None or reply is None:
        return reply
    return "@" + tag + " " + reply


def _control_reason(i, b):
    name = "DEL" if b == 127 else "Ctrl-" + chr(64 + b)
    return (
        "Byte "
        + str(i + 1)
        + " of the line is a control character ("
        + hex(b)
        + ", "
        + name
        + "). Control characters are never commands here: the instrument plays on and "
        "nothing was done."
    )


# replies' JSON without the spaces after `,` and `:` (json.dumps' default): a 12-channel
# `status` is ~1/6 shorter, and each 64 bytes cost the USB serial port ~0.9 ms on an RP2040
_COMPACT = (",", ":")


def ok(payload):
    """An OK reply line (without its newline) carrying a JSON object (compact JSON)."""
    return "OK " + json.dumps(payload, separators=_COMPACT)


def err(code, reason):
    """An ERR reply line (without its newline): a one-word code, then the reason in plain words."""
    return "ERR " + code + " " + clean(reason)


def notice(kind, text):
    """An asynchronous line (without its newline), e.g. notice("fault", "pad not answering")."""
    return "* " + kind + " " + clean(text)


def clean(text):
    """Text made safe for one protocol line: printable ASCII only, bounded length."""
    text = str(text)
    if len(text) > _REASON_MAX:
        text = text[: _REASON_MAX - 3] + "..."
    # the check walks the bytes in C (min, max): a Python loop over a str makes a new string
    # for every character, and on the emulated Pico one 60-character reason took 7.4 ms so
    data = text.encode()
    if not data or (min(data) >= 32 and max(data) <= 126):
        return text
    out = []  # (rare: a character to replace)
    for c in text:
        out.append(c if " " <= c <= "~" else "?")
    return "".join(out)


def valid_name(name):
    """True if `name` is a usable profile name: 1..24 of A-Z a-z 0-9 - _ (no paths, no dots)."""
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME:
        return False
    for c in name:
        if not ("a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c == "-" or c == "_"):
            return False
    return True
