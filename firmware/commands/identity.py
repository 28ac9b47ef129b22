"""`hello` (who is this instrument) and `help` (the registered commands' usage lines)."""

import protocol

import commands
from commands import command


@command("hello", "hello")
def hello(con, rest):
    sy = con.system
    return protocol.ok(
        {
            "firmware": sy.firmware,
            "protocol": protocol.VERSION,
            "board": sy.board,
            "instrument": sy.instrument,
            "title": sy.title,
            "channels": list(con.settings.names),
        }
    )


@command("help", "help")
def help_(con, rest):
    return protocol.ok({"commands": list(commands.USAGE)})
