"""Fake `machine` module (rp2 flavour) for the simulator: pins, ADC, I2C, PWM, UART, WDT, Timer,
and `mem32` for the one register the firmware reads directly (SIO GPIO_IN).

Inputs come from the simulator's world, indexed by virtual millisecond; outputs (PWM tones, DIN
MIDI bytes) are recorded there. Hot calls (`Pin.value`, `ADC.read_u16`) do a few attribute loads
and a list index, nothing more.
"""

from typing import Any

from simulator import context as _ctx
from simulator.clock import SimulationEnd
from simulator.context import SimulatedReset
from simulator.world import PWRON_RESET, WDT_RESET, gpio_number  # noqa: F401 (re-exported)

_clock, _world = _ctx.require()

_EIO = 5
_ETIMEDOUT = 110
_UNSET = object()
_WDT_MAX_MS = 8388  # the RP2040 watchdog's longest timeout
_ADC_CONVERSION_US = 2  # 500 ksample/s
# The temperature sensor (ADC 4) at 27 degrees C reads 0.706 V.
_TEMP_U16 = (876 << 4) | (876 >> 8)
_FLOATING_U16 = (2048 << 4) | (2048 >> 8)

_pins = {}
# bumped by every change mem32's GPIO_IN depends on besides time (a pin's mode, pull or level,
# a switch held or released), so the register is worked out once per virtual ms and change
_gen = [0]


def _bump() -> None:
    _gen[0] += 1


def _err(code):
    # CPython only fills `errno` with two arguments; MicroPython code reads e.errno or e.args[0].
    return OSError(code, "EIO" if code == _EIO else "ETIMEDOUT")


class Pin:
    """A GPIO. `Pin(15)` is the same object every time, as on rp2; a switch of the instrument on
    this pin reads its wired level when pressed and the pull's level when released."""

    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    ALT = 3
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    # Set once in __new__ (one object per GPIO); declared for the type checker only.
    _id: Any
    _mode: Any
    _pull: Any
    _out: int
    _irq: Any
    _switch: Any  # the switch's Input in the world, or None
    _pressed_level: int
    _released_level: int
    _sda_bus: int | None
    _scl_bus: int | None

    def __new__(cls, id, *args, **kwargs):
        gpio = id._id if isinstance(id, Pin) else gpio_number(id)
        pin = _pins.get(gpio)
        if pin is None:
            pin = object.__new__(cls)
            pin._id = gpio
            pin._mode = Pin.IN
            pin._pull = None
            pin._out = 0
            pin._irq = None
            wired = _world.pins.get(gpio)
            pin._switch = wired[0] if wired else None
            pin._pressed_level = wired[1] if wired else 0
            pin._released_level = 1 - pin._pressed_level
            # An I2C bus's pins, driven as GPIOs for bus recovery.
            pin._sda_bus, pin._scl_bus = _world.bus_of_pin(gpio)
            _pins[gpio] = pin
            if pin._switch is not None:
                pin._switch.listeners.append(_bump)
            _bump()
        return pin

    def __init__(self, id, mode=_UNSET, pull=_UNSET, *, value=None, drive=None, alt=None):
        if mode is not _UNSET or pull is not _UNSET or value is not None:
            self.init(mode, pull, value=value)

    def init(self, mode=_UNSET, pull=_UNSET, *, value=None, drive=None, alt=None):
        if mode is not _UNSET and mode is not None:
            self._mode = mode
        if pull is not _UNSET:
            self._pull = pull
        if value is not None:
            self._out = 1 if value else 0
        # Released, the pin reads what its pull gives; with no pull, the board's own resistor
        # (the wiring's opposite of pressed).
        if self._pull == Pin.PULL_UP:
            self._released_level = 1
        elif self._pull == Pin.PULL_DOWN:
            self._released_level = 0
        else:
            self._released_level = 1 - self._pressed_level
        _gen[0] += 1

    def value(self, x=_UNSET):
        if x is not _UNSET:
            self._out = 1 if x else 0
            _gen[0] += 1
            if self._scl_bus is not None:
                _world.scl_driven(self._scl_bus, self._out)
            return None
        inp = self._switch
        if inp is not None and self._mode == 0:
            ms = _clock.now // 1000
            pressed = inp.values[ms] if ms < inp.n else inp.values[-1]
            return self._pressed_level if pressed else self._released_level
        if self._sda_bus is not None and self._sda_bus in _world.stuck_buses:
            return 0  # a stuck chip holds SDA low
        if self._mode == Pin.OUT or self._mode == Pin.OPEN_DRAIN:
            return self._out
        return self._released_level

    __call__ = value

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    high = on
    low = off

    def toggle(self):
        self.value(self._out ^ 1)

    def mode(self, mode=_UNSET):
        if mode is _UNSET:
            return self._mode
        self._mode = mode
        _gen[0] += 1

    def pull(self, pull=_UNSET):
        if pull is _UNSET:
            return self._pull
        self.init(pull=pull)

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING, hard=False):
        """Call `handler(pin)` on each edge of the switch's trace (in virtual time)."""
        if self._irq is not None:
            self._irq.cancel()
        self._irq = _PinIRQ(self, handler, trigger) if handler is not None else None
        return self._irq

    def __repr__(self):
        return f"Pin(GPIO{self._id}, mode={('IN', 'OUT', 'OPEN_DRAIN', 'ALT')[self._mode]})"


class _PinIRQ:
    def __init__(self, pin, handler, trigger):
        self._pin = pin
        self._handler = handler
        self._trigger = trigger
        self._flags = 0
        self._level = pin.value()
        self._handle = None
        self._epoch = _clock.epoch
        inp = pin._switch
        if inp is not None:
            inp.listeners.append(self._changed)
            self._schedule()

    def _schedule(self):
        inp = self._pin._switch
        ms = inp.next_change(_clock.now // 1000)
        self._handle = (
            None if ms is None else _clock.call_at(ms * 1000, self._changed, firmware=True)
        )

    def _changed(self):
        if _clock.epoch != self._epoch or self._handler is None:
            return
        level = self._pin.value()
        if level != self._level:
            self._level = level
            self._flags = Pin.IRQ_RISING if level else Pin.IRQ_FALLING
            if self._trigger & self._flags:
                self._handler(self._pin)
        _clock.cancel(self._handle)
        self._schedule()

    def cancel(self):
        self._handler = None
        _clock.cancel(self._handle)

    def flags(self):
        return self._flags

    def trigger(self, trigger=None):
        if trigger is None:
            return self._trigger
        self._trigger = trigger


class Signal:
    """A pin with an optional logical inversion."""

    def __init__(self, pin, *args, invert=False, **kwargs):
        self._pin = pin if isinstance(pin, Pin) else Pin(pin, *args, **kwargs)
        self._invert = 1 if invert else 0

    def value(self, x=_UNSET):
        if x is _UNSET:
            return self._pin.value() ^ self._invert  # pyright: ignore[reportOptionalOperand]
        self._pin.value((1 if x else 0) ^ self._invert)

    __call__ = value

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class ADC:
    """`ADC(Pin(26))`, `ADC(26)` or `ADC(0)` (channel 0 = GPIO 26); channel 4 is the
    temperature sensor."""

    CORE_TEMP = 4

    def __init__(self, pin, *args, **kwargs):
        gpio = pin._id if isinstance(pin, Pin) else int(pin)
        if 26 <= gpio <= 29:
            channel = gpio - 26
        elif 0 <= gpio <= 4 and not isinstance(pin, Pin):
            channel = gpio
        else:
            raise ValueError("Pin doesn't have ADC capabilities")
        self._channel = channel
        self._inp = _world.adcs.get(channel)
        self._fixed = _TEMP_U16 if channel == 4 else _FLOATING_U16

    def read_u16(self):
        c = _clock
        now = c.now + 2  # _ADC_CONVERSION_US
        c.now = now
        if now >= c.next_due:
            c._run_due()
            now = c.now
        inp = self._inp
        if inp is None:
            return self._fixed
        ms = now // 1000
        return inp.values[ms] if ms < inp.n else inp.values[-1]

    def __repr__(self):
        return f"<ADC channel={self._channel}>"


class I2C:
    """Hardware I2C: transactions reach the simulated chips on this bus by address. A missing or
    unplugged chip fails with OSError(EIO); a stuck bus waits `timeout` us then fails with
    OSError(ETIMEDOUT). Each transaction takes its bus time (9 bits a byte)."""

    def __init__(self, id=0, *, scl=None, sda=None, freq=400_000, timeout=50_000):
        self._init(int(id), freq, timeout)

    def _init(self, bus, freq, timeout):
        self._bus = bus
        self._freq = int(freq)
        self._byte_us = max(1, 9_000_000 // self._freq)
        self._timeout = int(timeout)
        self._slots = _world.buses.setdefault(bus, {})

    def _chip(self, addr, nbytes):
        """The chip at `addr` after the transaction's bus time (`nbytes` plus the address
        byte), its input brought up to the present; raises as a real bus would."""
        c = _clock
        stuck = _world.stuck_buses
        if stuck and self._bus in stuck:
            c.advance(self._timeout)
            raise _err(_ETIMEDOUT)
        t = c.now + self._byte_us * (nbytes + 1)
        if t < c.next_due:
            c.now = t
        else:
            c.advance(t - c.now)
        slot = self._slots.get(addr)
        if slot is None:
            raise _err(_EIO)
        chip = slot.chip
        stock = _stock_types.get(type(chip))
        if stock is None:
            stock = _stock(chip)
        if stock:  # a chips.I2CChip: its state without the `connected` property call
            if not chip._connected:
                raise _err(_EIO)
            if chip.stuck:  # the chip itself holds SDA low
                _world.stick_bus(self._bus)
                c.advance(self._timeout)
                raise _err(_ETIMEDOUT)
        else:
            if not chip.connected:
                raise _err(_EIO)
            if getattr(chip, "stuck", False):
                _world.stick_bus(self._bus)
                c.advance(self._timeout)
                raise _err(_ETIMEDOUT)
        # slot.refresh(ms), inline
        ms = c.now // 1000
        if ms != slot.last_ms and slot.setter is not None:
            slot.last_ms = ms
            inp = slot.input
            slot.setter(inp.values[ms] if ms < inp.n else inp.values[-1])
        return chip

    @staticmethod
    def _memaddr(memaddr, addrsize):
        key = (memaddr, addrsize)
        head = _heads.get(key)
        if head is None:
            if addrsize == 16:
                head = bytes(((memaddr >> 8) & 0xFF, memaddr & 0xFF))
            else:
                head = bytes((memaddr & 0xFF,))
            if len(_heads) < 4096:
                _heads[key] = head
        return head

    def scan(self):
        c = _clock
        if self._bus in _world.stuck_buses:
            c.advance(self._timeout)
            raise _err(_ETIMEDOUT)
        c.advance(self._byte_us * 112)
        return sorted(a for a, s in self._slots.items() if s.chip.connected)

    def writeto(self, addr, buf, stop=True):
        chip = self._chip(addr, len(buf))
        # a stock chip copies the buffer itself (one bytes() call instead of two)
        chip.write(buf if _stock_types.get(type(chip)) else bytes(buf))
        return len(buf)

    def writevto(self, addr, vector, stop=True):
        data = b"".join(bytes(b) for b in vector)
        self._chip(addr, len(data)).write(data)
        return len(data)

    def readfrom(self, addr, nbytes, stop=True):
        return _fit(self._chip(addr, nbytes).read(nbytes), nbytes)

    def readfrom_into(self, addr, buf, stop=True):
        n = len(buf)
        buf[:n] = _fit(self._chip(addr, n).read(n), n)

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        head = self._memaddr(memaddr, addrsize)
        self._chip(addr, len(head) + len(buf)).write(head + bytes(buf))

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        head = self._memaddr(memaddr, addrsize)
        chip = self._chip(addr, len(head) + nbytes + 1)
        if _stock_types.get(type(chip)) == len(head):
            return _fit(chip.read_register(int.from_bytes(head, "big"), nbytes), nbytes)
        chip.write(head)
        return _fit(chip.read(nbytes), nbytes)

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        n = len(buf)
        if addrsize == 16:
            chip = self._chip(addr, n + 3)
            stock = _stock_types.get(type(chip)) == 2
            reg = memaddr & 0xFFFF
        else:
            chip = self._chip(addr, n + 2)
            stock = _stock_types.get(type(chip)) == 1
            reg = memaddr & 0xFF
        if stock:
            data = chip.read_register(reg, n)  # always n bytes
            if n == 3 and type(buf) is bytearray:  # (by items: cheaper than a slice)
                buf[0], buf[1], buf[2] = data
            else:
                buf[:n] = data
            return
        chip.write(self._memaddr(memaddr, addrsize))
        buf[:n] = _fit(chip.read(n), n)

    def __repr__(self):
        return f"I2C({self._bus}, freq={self._freq})"


class SoftI2C(I2C):
    """Bit-banged I2C on any two pins: the same chips as the hardware block on those pins."""

    def __init__(self, scl, sda, *, freq=400_000, timeout=50_000):
        gpio = sda._id if isinstance(sda, Pin) else gpio_number(sda)
        self._init((gpio >> 1) & 1, freq, timeout)  # pyright: ignore[reportOptionalOperand]


_heads = {}  # (memaddr, addrsize) -> the register address bytes sent first
# chip type -> its ADDRESS_BYTES when a chips.I2CChip with the stock transactions, else 0
_stock_types = {}


def _stock(chip):
    """Whether `chip` is a chips.I2CChip keeping its stock write/read/connected, so the fast
    paths (read_register, the `_connected` slot) give the same result as the generic ones."""
    cls = type(chip)
    known = _stock_types.get(cls)
    if known is None:
        stock = getattr(cls, "stock_transactions", False) is True and callable(
            getattr(cls, "read_register", None)
        )
        # the register address size, for readfrom_mem's shortcut (0: not a stock chip)
        known = _stock_types[cls] = int(cls.ADDRESS_BYTES) if stock else 0
    return known


def _fit(data, n):
    data = bytes(data)
    return data[:n] if len(data) >= n else data + bytes(n - len(data))


class PWM:
    """PWM output; every change of frequency or duty is recorded as a tone event."""

    def __init__(self, dest, *, freq=None, duty_u16=None, duty_ns=None, invert=False):
        self._gpio = dest._id if isinstance(dest, Pin) else gpio_number(dest)
        self._freq = 0
        self._duty = 0
        self.init(freq=freq, duty_u16=duty_u16, duty_ns=duty_ns)

    def init(self, *, freq=None, duty_u16=None, duty_ns=None, invert=False):
        if freq is not None:
            self._freq = int(freq)
        if duty_u16 is not None:
            self._duty = int(duty_u16)
        if duty_ns is not None and self._freq:
            self._duty = int(duty_ns * self._freq * 65536 // 1_000_000_000)
        self._record()

    def _record(self):
        events = _world.tone_events
        event = (_clock.now / 1000, self._gpio, self._freq, self._duty)
        if not events or events[-1][1:] != event[1:]:
            events.append(event)

    def freq(self, value=None):
        if value is None:
            return self._freq
        self._freq = int(value)
        self._record()

    def duty_u16(self, value=None):
        if value is None:
            return self._duty
        self._duty = int(value)
        self._record()

    def duty_ns(self, value=None):
        if value is None:
            return self._duty * 1_000_000_000 // (65536 * self._freq) if self._freq else 0
        self.init(duty_ns=value)

    def deinit(self):
        self._duty = 0
        self._record()


class UART:
    """A UART; bytes written are DIN MIDI (or anything else) recorded with their time. Nothing
    arrives on RX."""

    def __init__(self, id, baudrate=115200, *args, **kwargs):
        self._id = id
        self._baudrate = baudrate

    def init(self, baudrate=None, *args, **kwargs):
        if baudrate is not None:
            self._baudrate = baudrate

    def write(self, buf):
        data = bytes(buf)
        _world.din_out(_clock.now, data)
        return len(data)

    def read(self, nbytes=None):
        return None

    def readinto(self, buf, nbytes=None):
        return None

    def readline(self):
        return None

    def any(self):
        return 0

    def txdone(self):
        return True

    def flush(self):
        pass

    def deinit(self):
        pass


class WDT:
    """The watchdog: not fed within `timeout` ms of virtual time, the board resets. Like the
    RP2040's, it cannot be stopped and it survives a soft reset."""

    def __init__(self, id=0, timeout=5000):
        if timeout > _WDT_MAX_MS:
            raise ValueError(f"timeout exceeds {_WDT_MAX_MS}")
        state = _world.wdt
        if state is None:
            state = {"timeout_us": timeout * 1000, "fed": _clock.now}
            _world.wdt = state
            _clock.call_at(_clock.now + timeout * 1000, _wdt_check, state)
        else:
            state["timeout_us"] = timeout * 1000
            state["fed"] = _clock.now
        self._state = state

    def feed(self):
        self._state["fed"] = _clock.now


def _wdt_check(state):
    if _world.wdt is not state:
        return  # cleared by a hard reset
    deadline = state["fed"] + state["timeout_us"]
    if _clock.now >= deadline:
        _world.wdt = None
        _world.reset_cause = WDT_RESET
        _clock.stop(SimulatedReset("watchdog timeout"))
    _clock.call_at(deadline, _wdt_check, state)


class Timer:
    """A software timer on virtual time; the callback runs like a soft IRQ."""

    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, **kwargs):
        self._handle = None
        if kwargs:
            self.init(**kwargs)

    def init(self, *, mode=PERIODIC, freq=-1, period=-1, tick_hz=1000, callback=None):
        self.deinit()
        if freq > 0:
            self._period_us = max(1, int(1_000_000 / freq))
        elif period >= 0:
            self._period_us = max(1, int(period * 1_000_000 // tick_hz))
        else:
            raise ValueError("period or freq required")
        self._mode = mode
        self._callback = callback
        self._due = _clock.now + self._period_us
        self._handle = _clock.call_at(self._due, self._fire, firmware=True)

    def _fire(self):
        if self._mode == Timer.PERIODIC:
            self._due += self._period_us
            self._handle = _clock.call_at(self._due, self._fire, firmware=True)
        else:
            self._handle = None
        if self._callback is not None:
            self._callback(self)

    def deinit(self):
        _clock.cancel(self._handle)
        self._handle = None


class RTC:
    def __init__(self, id=0):
        self._base = (2024, 1, 1, 0, 0, 0, 0, 0)

    def datetime(self, value=None):
        if value is not None:
            self._base = tuple(value)
        return self._base


_GPIO_IN = 0xD0000004  # SIO GPIO_IN: the level of GPIO n as bit n (sensors/switch.py)


class _Mem32:
    """`machine.mem32`: reading SIO GPIO_IN gives bit n for GPIO n: a pin wired to one of the
    world's switches reads as its `Pin.value()` would, an output its own level, anything else 0
    (the firmware reads only its switches there; modelling more would slow every tick). Any
    other address, or a write, raises: the firmware must not rely on a register the simulator
    does not model."""

    _ms = -1
    _gen_seen = -1
    _value = 0

    def __getitem__(self, addr):
        if addr != _GPIO_IN:
            raise ValueError(f"the simulator models no register at {addr:#x} but GPIO_IN")
        ms = _clock.now // 1000
        if ms == self._ms and _gen[0] == self._gen_seen:
            return self._value  # (the loop looks several times a tick between its ticks)
        v = 0
        for gpio, pin in _pins.items():  # (inlined Pin.value: this runs every tick)
            inp = pin._switch
            if inp is not None and pin._mode == 0:
                pressed = inp.values[ms] if ms < inp.n else inp.values[-1]
                if pin._pressed_level if pressed else pin._released_level:
                    v |= 1 << gpio
            elif pin._mode == 1 and pin._out:
                v |= 1 << gpio
        self._ms = ms
        self._gen_seen = _gen[0]
        self._value = v
        return v

    def __setitem__(self, addr, value):
        raise ValueError(f"the simulator models no writable register at {addr:#x}")


mem32 = _Mem32()

_freq = [125_000_000]


def freq(hz=None):
    if hz is None:
        return _freq[0]
    _freq[0] = int(hz)


def unique_id():
    return b"\xe6\x61\x38\x51\x83\x2f\x4a\x2c"


def reset():
    """Hard reset (on rp2 through the watchdog, so reset_cause() is WDT_RESET after it)."""
    _world.wdt = None
    _world.reset_cause = WDT_RESET
    _clock.stop(SimulatedReset("machine.reset()"))


def soft_reset():
    _clock.stop(SimulatedReset("machine.soft_reset()", soft=True))


def reset_cause():
    return _world.reset_cause


def bootloader(*args):
    """The board would vanish into its USB bootloader: the simulation ends."""
    _clock.stop(SimulationEnd("machine.bootloader()"))


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


def idle():
    """Wait for the next interrupt: the next scheduled event, or the 1 ms system tick."""
    c = _clock
    wait = min(c.next_due - c.now, 1000 - c.now % 1000)
    c.advance(wait if wait > 1 else 1)


def lightsleep(ms=None):
    _clock.advance(int(ms) * 1000 if ms is not None else 1000)


def deepsleep(ms=None):
    lightsleep(ms)
    reset()


def time_pulse_us(pin, pulse_level, timeout_us=1_000_000):
    _clock.advance(int(timeout_us))
    return -2
