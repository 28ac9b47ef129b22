"""A switch on one GPIO (accessibility switch, button, pedal): reads 1 while pressed.

    sw = Switch(Pin(15, Pin.IN, Pin.PULL_UP))   # switch from GP15 to ground
    sw.read(now_us)  # -> 1 pressed, 0 released

The pin comes configured (direction and pull) from hardware.py; debouncing is the job of
engine/gestures.py, so read() reports the raw contact state. Cost: one Pin.value() call.
On a board where hardware.py can read the GPIO input register, the switches join a SwitchBank
(`bank`, `bit`) and the instrument reads them all at once instead (sensors/switchbank.py).
"""


class Switch:
    KIND = "switch"
    FULL_SCALE = 1
    REST = 0

    def __init__(self, pin, active_low=True, invert=False):
        self._pin = pin
        # value() ^ 1 turns a low (pressed, to ground) into 1.
        self.active_low = active_low
        self._flip = 1 if active_low else 0
        self.bank = None  # the SwitchBank that reads this switch with the others, if any
        self.bit = 0  # this switch's bit in the bank's read()
        self.invert = invert
        self.fault = 0
        self.fault_text = ""

    def begin(self):
        """Nothing to configure: the pin arrives set up. Kept for the common interface."""

    def read(self, now_us):
        return self._pin.value() ^ self._flip
