"""The settings: `params` (the schema, a page at a time), `get`, `set` and `reset`."""

import protocol
import settings
from micropython import const

from commands import busy, command

PAGE = const(8)  # parameters per `params` page
_TYPES = ("int", "choice", "onoff", "notes")


@command("params", "params [offset]")
def params(con, rest):
    rows = settings.GLOBAL + settings.CHANNEL
    total = len(rows)
    offset = 0
    if rest:
        try:
            offset = int(rest)
        except ValueError:
            offset = -1
        if offset < 0 or offset >= total:
            return protocol.err(
                "value",
                "params takes a start position from 0 to "
                + str(total - 1)
                + ", e.g. params "
                + str(PAGE)
                + ".",
            )
    page = []
    for i in range(offset, min(offset + PAGE, total)):
        page.append(describe(rows[i], "global" if i < len(settings.GLOBAL) else "channel"))
    nxt = offset + PAGE
    return protocol.ok(
        {"total": total, "offset": offset, "next": nxt if nxt < total else None, "params": page}
    )


def describe(row, scope):
    """One schema row as `params` lists it."""
    kind = row[1]
    d = {
        "key": row[0],
        "scope": scope,
        "type": _TYPES[kind],
        "min": None,
        "max": None,
        "choices": None,
        "default": settings.format_value(row, row[4]),
        "unit": row[5],
        "help": row[6],
    }
    if kind == settings.INT or kind == settings.NOTES:
        d["min"] = row[2]
        d["max"] = row[3]
    else:
        d["choices"] = list(row[2])
    return d


@command("get", "get <key> | get <sensor> | get global")
def get(con, rest):
    s = con.settings
    if not rest:
        return protocol.err(
            "usage",
            "get needs a setting, a sensor or 'global', e.g. get " + s.names[0] + ".sensitivity.",
        )
    if rest == "global" or rest in s.names:
        prefix = "" if rest == "global" else rest + "."
        table = settings.GLOBAL if rest == "global" else settings.CHANNEL
        values = {}
        for row in table:
            values[prefix + row[0]] = s.get(prefix + row[0])[0]
        return protocol.ok({"values": values})
    value, why = s.get(rest)
    if why is not None:
        return protocol.err("key", why)
    return protocol.ok({"key": rest, "value": value})


@command("set", "set <key> <value>")
def set_(con, rest):
    s = con.settings
    parts = rest.split(None, 1)
    if len(parts) < 2:
        return protocol.err(
            "usage", "set needs a setting and a value, e.g. set " + s.names[0] + ".sensitivity 80."
        )
    key, value = parts[0], parts[1]
    if s.row(key) is None:
        return protocol.err("key", s.get(key)[1])
    why = s.set(key, value)
    if why is not None:
        return protocol.err("value", why)
    con.profiles.unsaved = True
    return protocol.ok({"key": key, "value": s.get(key)[0]})


@command("reset", "reset")
def reset(con, rest):
    refused = busy(con)
    if refused:
        return refused
    con.inst.panic()
    con.profiles.reset()
    return protocol.ok({"reset": True})
