"""Builds the instrument's hardware from the board and instrument JSON: sensors, LED, MIDI, tone.

    sensors = build_sensors(board, instrument)   # [("switch", Switch), ...] in channel order

On an RP2040, switches join one SwitchBank (sensors/switch.py) on the GPIO input register
(`machine.mem32`, SIO GPIO_IN), so the instrument reads them all with one load a tick.

Which driver a channel gets and how it is wired come from the sensor registry
(sensors.SENSORS); only the drivers the instrument names are imported. The only sensor-side
module that touches `machine` (imported inside the build functions, so check_wiring() also
runs on a laptop). build_sensors() checks the wiring first and raises
ValueError with a plain-words message for the first mistake; it does not call begin().
"""

import time

import sensors
from micropython import const

I2C_FREQ = const(400_000)
I2C_TIMEOUT_US = const(3_000)  # a missing chip NACKs at once; only a stuck bus waits this long
MIDI_BAUD = const(31_250)
_HALF_CLOCK_US = const(5)  # 100 kHz bit-banged clock for bus recovery

_PULLS = ("up", "down", "none")
_BANK_PINS = const(30)  # GPIO 0..29 are in the GPIO input register (sensors/switch.py)


def _gp(pin):
    return "GP" + str(pin)


def _gp_list(pins):
    return ", ".join(_gp(p) for p in pins)


def _board_name(board):
    return board.get("name", board.get("id", "this board"))


def _adc_pins(board):
    return [a["pin"] for a in board.get("adc", ())]


def _i2c_bus(board, bus_id):
    for bus in board.get("i2c", ()):
        if bus["id"] == bus_id:
            return bus
    return None


def _uart_for_tx(board, tx):
    for uart in board.get("uart", ()):
        if tx in uart["tx"]:
            return uart["id"]
    return None


def _valid_name(name):
    if not isinstance(name, str) or not 1 <= len(name) <= 12:
        return False
    if not "a" <= name[0] <= "z":
        return False
    for c in name:
        if not ("a" <= c <= "z" or "0" <= c <= "9" or c == "_"):
            return False
    return True


def _spec(ch):
    """The registry entry of a channel's sensor type; an unknown type names the known ones."""
    kind = ch.get("sensor")
    for spec in sensors.SENSORS:
        if spec["type"] == kind:
            return spec
    raise ValueError(
        f"Channel '{ch.get('name')}' has sensor type {kind!r}, which Attune does not know; "
        f"use one of: {', '.join(sensors.names())}."
    )


def check_wiring(board, instrument):
    """Raise ValueError naming the first wiring mistake; return None when all is well."""
    where = _board_name(board)
    gpio = board["gpio"]
    channels = instrument.get("channels") or []
    if not channels:
        raise ValueError(f"Instrument '{instrument.get('name', '?')}' has no channels.")
    users = {}  # GPIO -> who uses it
    buses = {}  # bus id -> (sda, scl, freq, first channel name)
    addresses = {}  # (bus id, address) -> channel name

    def claim(pin, who):
        if pin not in gpio:
            raise ValueError(
                f"{_gp(pin)} is not a usable pin on the {where}, so {who} cannot be wired "
                f"to it; use one of {_gp_list(gpio)}."
            )
        if pin in users:
            raise ValueError(f"{_gp(pin)} is used by both {users[pin]} and {who}.")
        users.setdefault(pin, who)

    for ch in channels:
        name = ch.get("name")
        if not _valid_name(name):
            raise ValueError(
                f"Channel name {name!r} must be 1 to 12 characters: lowercase letters, "
                "digits or _, starting with a letter."
            )
        who = f"channel '{name}'"
        if any(other.get("name") == name for other in channels if other is not ch):
            raise ValueError(f"Two channels are named '{name}'; each needs its own name.")
        kind = ch.get("sensor")
        spec = _spec(ch)
        wiring = spec["wiring"]
        if wiring == "gpio":
            claim(ch["pin"], who)
            if ch.get("pull", "up") not in _PULLS:
                raise ValueError(
                    f"Channel '{name}' has pull {ch.get('pull')!r}; use one of: up, down, none."
                )
        elif wiring == "adc":
            pin = ch["pin"]
            claim(pin, who)
            if pin not in _adc_pins(board):
                raise ValueError(
                    f"Channel '{name}' ({kind}) is wired to {_gp(pin)}, which is not an analog "
                    f"(ADC) pin on the {where}; use {_gp_list(_adc_pins(board))}."
                )
            oversample = ch.get("oversample", 4)
            if not isinstance(oversample, int) or not 1 <= oversample <= 64:
                raise ValueError(
                    f"Channel '{name}' has oversample {oversample!r}; use 1 to 64 readings."
                )
        elif wiring == "i2c":
            bus_id = ch.get("bus", 0)
            bus = _i2c_bus(board, bus_id)
            if bus is None:
                ids = ", ".join(str(b["id"]) for b in board.get("i2c", ()))
                raise ValueError(
                    f"Channel '{name}' uses I2C bus {bus_id}, which the {where} does not have; "
                    f"use bus {ids}."
                )
            sda, scl = ch["sda"], ch["scl"]
            if sda not in bus["sda"]:
                raise ValueError(
                    f"Channel '{name}' puts SDA on {_gp(sda)}, but I2C{bus_id} SDA can only be "
                    f"on {_gp_list(bus['sda'])}."
                )
            if scl not in bus["scl"]:
                raise ValueError(
                    f"Channel '{name}' puts SCL on {_gp(scl)}, but I2C{bus_id} SCL can only be "
                    f"on {_gp_list(bus['scl'])}."
                )
            freq = ch.get("freq", I2C_FREQ)
            if bus_id in buses:
                b_sda, b_scl, b_freq, first = buses[bus_id]
                if (sda, scl, freq) != (b_sda, b_scl, b_freq):
                    raise ValueError(
                        f"Channels '{first}' and '{name}' share I2C{bus_id} but give it "
                        "different pins or speed; sensors on one bus use the same SDA, SCL "
                        "and freq."
                    )
            else:
                buses[bus_id] = (sda, scl, freq, name)
                bus_who = f"I2C{bus_id} (channel '{name}')"
                claim(sda, bus_who)
                claim(scl, bus_who)
            address = ch.get("address", spec["address"])
            if (bus_id, address) in addresses:
                raise ValueError(
                    f"Channels '{addresses[(bus_id, address)]}' and '{name}' both answer at "
                    f"address {hex(address)} on I2C{bus_id}; move one to the other bus."
                )
            addresses[(bus_id, address)] = name
        else:  # a registry entry with a wiring hardware.py cannot build: a firmware bug
            raise ValueError(
                f"Sensor type '{kind}' has wiring {wiring!r} in the sensor registry; "
                f"hardware.py knows {', '.join(sensors.WIRINGS)}."
            )

    tx = board.get("din_midi_tx")
    if tx is not None:
        if _uart_for_tx(board, tx) is None:
            tx_pins = [p for u in board.get("uart", ()) for p in u["tx"]]
            raise ValueError(
                f"din_midi_tx is {_gp(tx)}, which is not a UART TX pin on the {where}; "
                f"use one of {_gp_list(tx_pins)}."
            )
        claim(tx, "DIN MIDI out")
        claim(tx + 1, "DIN MIDI (its UART also takes the RX pin)")
    tone = board.get("tone_pin")
    if tone is not None:
        claim(tone, "the tone output")


def recover_i2c_bus(sda, scl):
    """Free a bus held low by a chip stuck mid-byte: 9 SCL clocks as GPIO, then a STOP.

    Returns True when SDA is high (free) afterwards. Re-create the machine.I2C object
    afterwards: that hands both pins back to the I2C block.
    """
    import machine

    pin = machine.Pin
    scl_pin = pin(scl, pin.OPEN_DRAIN, value=1)
    sda_pin = pin(sda, pin.OPEN_DRAIN, value=1)
    n = 0
    while n < 9:
        scl_pin.value(0)
        time.sleep_us(_HALF_CLOCK_US)
        scl_pin.value(1)
        time.sleep_us(_HALF_CLOCK_US)
        n += 1
    # STOP: SDA rises while SCL is high.
    scl_pin.value(0)
    sda_pin.value(0)
    time.sleep_us(_HALF_CLOCK_US)
    scl_pin.value(1)
    time.sleep_us(_HALF_CLOCK_US)
    sda_pin.value(1)
    time.sleep_us(_HALF_CLOCK_US)
    return sda_pin.value() == 1


def _make_i2c(bus_id, sda, scl, freq, timeout_us):
    import machine

    return machine.I2C(
        bus_id, sda=machine.Pin(sda), scl=machine.Pin(scl), freq=freq, timeout=timeout_us
    )


def _bus_lines(sda, scl):
    """A callable for the drivers: the I2C lines' levels, SDA | SCL << 1 (3: both high). Pin(n)
    with no other argument leaves the pin with the I2C block; its input still reads the line."""
    import machine

    sda_pin = machine.Pin(sda)
    scl_pin = machine.Pin(scl)

    def lines():
        return sda_pin.value() | (scl_pin.value() << 1)

    return lines


def _bus_recovery(bus_id, sda, scl, freq, timeout_us):
    """A callable for the drivers: reset a stuck bus and return a working I2C object."""

    def recover():
        recover_i2c_bus(sda, scl)
        # On rp2 machine.I2C(id) is a singleton, so every driver on the bus sees the reset.
        return _make_i2c(bus_id, sda, scl, freq, timeout_us)

    return recover


def build_sensors(board, instrument, i2c_timeout_us=I2C_TIMEOUT_US):
    """Create every channel's sensor; returns [(channel_name, sensor), ...] in order."""
    import machine

    check_wiring(board, instrument)
    pin_cls = machine.Pin
    buses = {}  # bus id -> (i2c, recover)
    bank = None
    out = []
    for ch in instrument["channels"]:
        spec = _spec(ch)
        wiring = spec["wiring"]
        make = sensors.driver(spec)
        if wiring == "gpio":
            pull = ch.get("pull", "up")
            if pull == "up":
                pin = pin_cls(ch["pin"], pin_cls.IN, pin_cls.PULL_UP)
            elif pull == "down":
                pin = pin_cls(ch["pin"], pin_cls.IN, pin_cls.PULL_DOWN)
            else:
                pin = pin_cls(ch["pin"], pin_cls.IN)
            sensor = make(pin, active_low=ch.get("active_low", pull != "down"))
            if hasattr(sensor, "bank") and ch["pin"] < _BANK_PINS:
                # read with the other switches: one register load a tick for all of them
                if bank is None:
                    bank = _switch_bank(machine, board)
                if bank:
                    bank.add(sensor, ch["pin"])
        elif wiring == "adc":
            adc = machine.ADC(pin_cls(ch["pin"]))
            sensor = make(adc, oversample=ch.get("oversample", 4))
        else:  # "i2c" (check_wiring let no other through)
            bus_id = ch.get("bus", 0)
            if bus_id not in buses:
                freq = ch.get("freq", I2C_FREQ)
                i2c = _make_i2c(bus_id, ch["sda"], ch["scl"], freq, i2c_timeout_us)
                recover = _bus_recovery(bus_id, ch["sda"], ch["scl"], freq, i2c_timeout_us)
                buses[bus_id] = (i2c, recover, _bus_lines(ch["sda"], ch["scl"]))
            i2c, recover, bus_lines = buses[bus_id]
            address = ch.get("address", spec["address"])
            sensor = make(i2c, address=address, recover=recover, bus_lines=bus_lines)
        if "invert" in ch:
            sensor.invert = bool(ch["invert"])
        out.append((ch["name"], sensor))
    return out


def _switch_bank(machine, board):
    """A SwitchBank on the RP2040's GPIO input register, or False: then each switch reads its
    own pin. Only the RP2040 for now: its register's top two bits always read 0, so the value
    is a small int (no allocation per tick); the RP2350's has GPIO 30 and 31 there."""
    mem = getattr(machine, "mem32", None)
    if mem is None or board.get("mcu", "RP2040") != "RP2040":
        return False
    from sensors.switch import GPIO_IN, SwitchBank

    return SwitchBank(mem, GPIO_IN)


def build_led(board):
    """The board's status LED as an output Pin (off), or None when the board has none."""
    led = board.get("led")
    if led is None:
        return None
    import machine

    return machine.Pin(led, machine.Pin.OUT, value=0)


def build_din_midi(board):
    """machine.UART at 31250 baud on the board's din_midi_tx pin, or None.

    rp2 always routes an RX pin too; the pin after TX (tx + 1) is taken and left unused.
    """
    tx = board.get("din_midi_tx")
    if tx is None:
        return None
    uart_id = _uart_for_tx(board, tx)
    if uart_id is None:
        raise ValueError(f"din_midi_tx is {_gp(tx)}, which is not a UART TX pin on this board.")
    import machine

    return machine.UART(uart_id, baudrate=MIDI_BAUD, tx=machine.Pin(tx), rx=machine.Pin(tx + 1))


def build_tone_pin(board):
    """machine.PWM on the board's tone_pin, silent (duty 0), or None."""
    tone = board.get("tone_pin")
    if tone is None:
        return None
    import machine

    pwm = machine.PWM(machine.Pin(tone))
    pwm.duty_u16(0)
    return pwm
