"""The console's command registry: each command module registers its words here, once.

Usage (a module in this folder, listed in console.py's import line):
    from commands import command
    @command("panic", "panic")
    def panic(con, rest):
        con.inst.panic()
        return protocol.ok({"panic": True})
"""

import protocol

HANDLERS = {}  # word -> handler(console, rest) -> reply line
USAGE = []  # the `help` lines, in the order the commands were registered
STARTS = []  # fn(console): set up a module's state on a new console
POLLS = []  # (order, fn(console, now_ms)) between ticks, by order; True ends that poll


def command(word, *usage):
    """Register `word` with its usage lines for `help`; decorates handler(console, rest)."""

    def register(fn):
        HANDLERS[word] = fn
        for line in usage:
            USAGE.append(line)
        return fn

    return register


def start(fn):
    """Register fn(console), run when a console is built (a module's own state)."""
    STARTS.append(fn)
    return fn


def between_ticks(order):
    """Register fn(console, now_ms), run by Console.poll between ticks (bounded work), lowest
    `order` first: 0 restart, 10 fault news, 20 calibration, 30 monitor and event lines.
    A console takes the list as it is when built."""

    def register(fn):
        i = len(POLLS)
        while i and POLLS[i - 1][0] > order:
            i -= 1
        POLLS.insert(i, (order, fn))
        return fn

    return register


def code(e):
    """An OSError's number as text, for plain-words errors."""
    return str(e.args[0]) if e.args else "unknown"


def busy(con):
    """The ERR reply while a calibration runs (it owns the settings until it ends), else None."""
    cal = con.cal
    if cal is not None and cal.running:
        return protocol.err(
            "busy",
            "Calibration of " + cal.name + " is running; wait for it "
            "to finish or send 'calibrate cancel' first.",
        )
    return None
