"""The board the console runs on: who it is (for `hello`), a restart, and the one-shot
maintenance flag that makes the next boot skip the play loop (for mpremote and deploy).

Usage: sy = System("0.1.0", "pico", "combo", "Combo"); sy.request_maintenance(); sy.reboot()
"""

import os

MAINTENANCE_FLAG = "maintenance"  # one-shot file: main.py boots without the play loop


def maintenance_requested():
    """True (once) when the last run asked to boot into maintenance mode."""
    try:
        os.stat(MAINTENANCE_FLAG)
    except OSError:
        return False
    try:
        os.remove(MAINTENANCE_FLAG)
    except OSError:
        pass
    return True


class System:
    """Identity and restart. The runtime's subclass silences the outputs before a reset."""

    def __init__(self, firmware="", board="", instrument="", title=""):
        self.firmware = firmware
        self.board = board
        self.instrument = instrument
        self.title = title

    def request_maintenance(self):
        """Write the flag (raises OSError if the flash refuses)."""
        f = open(MAINTENANCE_FLAG, "w")
        try:
            f.write("1")
        finally:
            f.close()

    def reboot(self):
        """Restart the board (after the reply has gone out)."""
        import machine

        machine.reset()
