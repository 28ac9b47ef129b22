"""`diagnose`: what `attune doctor` asks a playing instrument (versions, USB MIDI, wiring, an
I2C scan, the end of the crash log). The work is in diagnosis.py, imported only when asked."""

import protocol

from commands import command


@command("diagnose", "diagnose")
def diagnose(con, rest):
    import diagnosis

    return protocol.ok(diagnosis.report(con))
