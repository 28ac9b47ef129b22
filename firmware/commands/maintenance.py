"""`maintenance`: set the one-shot flag (system.py), then restart once the reply and the
note-offs have left; the board boots without the play loop so mpremote can copy files."""

import time

import protocol
from micropython import const

from commands import between_ticks, code, command, start

_REBOOT_MS = const(500)  # time for the reply and the note-offs to leave


@start
def _start(con):
    con.reboot_at = -2  # -2: no restart asked; -1: asked, the next poll sets the time


@command("maintenance", "maintenance")
def maintenance(con, rest):
    try:
        con.system.request_maintenance()
    except OSError as e:
        return protocol.err(
            "storage",
            "Could not write the maintenance flag (error "
            + code(e)
            + "); the instrument plays on.",
        )
    con.inst.panic()
    con.reboot_at = -1
    return protocol.ok({"maintenance": True})


@between_ticks(0)
def _restart(con, now_ms):
    at = con.reboot_at
    if at == -2:
        return False
    if at == -1:
        con.reboot_at = time.ticks_add(now_ms, _REBOOT_MS)
        return False
    if time.ticks_diff(now_ms, at) >= 0:
        con.reboot_at = -2
        con.system.reboot()
        return True
    return False
