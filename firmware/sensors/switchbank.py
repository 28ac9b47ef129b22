"""Every GPIO switch of an instrument read at once: one load of the GPIO input register.

    bank = SwitchBank(machine.mem32, GPIO_IN)   # built by hardware.py (rp2: SIO GPIO_IN)
    bank.add(switch, 15)                        # a Switch on GP15 joins the bank
    pressed = bank.read()                       # bit n set: the switch on GPn is pressed

The instrument reads the bank once per tick and updates only the switches whose contact changed
or that are still busy (debouncing, a dwell, a lockout), so a resting switch costs nothing and
eight cost what one did. `mem` and `addr` come from hardware.py (the one module that touches
`machine`); any object indexable by `addr` serves (the simulator's fake mem32, an array in the
MicroPython VM's checks). Nothing here runs per tick but `read()`, which the instrument inlines.
"""

from micropython import const

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
