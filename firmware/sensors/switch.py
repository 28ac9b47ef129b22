"""A switch on one GPIO (accessibility switch, button, pedal): reads 1 while pressed.

    sw = Switch(Pin(15, Pin.IN, Pin.PULL_UP))   # switch from GP15 to ground
    sw.read(now_us)  # -> 1 pressed, 0 released

The pin comes configured (direction and pull) from hardware.py; debouncing is the job of
engine/gestures.py, so read() reports the raw contact state. Cost: one Pin.value() call.
On a board where hardware.py can read the GPIO input register, the switches join a SwitchBank
(`bank`, `bit`) and the instrument reads them all at once instead (SwitchBank, below).

    bank = SwitchBank(machine.mem32, GPIO_IN)   # built by hardware.py (rp2040: SIO GPIO_IN)
    bank.add(switch, 15)                        # the Switch on GP15 joins the bank
    pressed = bank.read()                       # bit n set: the switch on GPn is pressed

The instrument reads the bank once per tick and updates only the switches whose contact changed
or that are still busy (debouncing, a dwell, a lockout), so a resting switch costs nothing and
eight cost what one did. `mem` and `addr` come from hardware.py (the one module that touches
`machine`); any object indexable by `addr` serves (the simulator's fake mem32, an array in the
MicroPython VM's checks). Both classes live in this one module: compiling another module at
start-up (from source) took the last contiguous RAM the combo instrument's I2C driver needed.
"""

from micropython import const


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


GPIO_IN = const(0xD0000004)  # rp2040: SIO GPIO_IN, GPIO 0..29 as bits 0..29 (30, 31 read 0)
PINS = const(30)  # GPIOs the register holds


class SwitchBank:
    """The pins of one instrument's switches, read together."""

    def __init__(self, mem, addr=GPIO_IN):
        self.mem = mem
        self.addr = addr
        self.mask = 0  # one bit per switch's GPIO
        self.flip = 0  # the active-low ones: their pressed level is 0
        self.value = 0  # the last read(): bit n set while the switch on GPn is pressed

    def add(self, switch, pin):
        """Let the bank read `switch` (on GP`pin`); sets its `bank` and `bit`."""
        bit = 1 << pin
        self.mask |= bit
        if switch.active_low:
            self.flip |= bit
        else:
            self.flip &= ~bit
        switch.bank = self
        switch.bit = bit

    def read(self):
        """Every switch's contact at once: bit n set while the switch on GPn is pressed."""
        v = (self.mem[self.addr] ^ self.flip) & self.mask
        self.value = v
        return v
