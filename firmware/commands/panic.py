"""`panic`: every note off, now."""

import protocol

from commands import command


@command("panic", "panic")
def panic(con, rest):
    con.inst.panic()
    return protocol.ok({"panic": True})
