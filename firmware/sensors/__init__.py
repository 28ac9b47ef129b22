"""Sensor drivers, and the one registry of sensor types the instrument JSON may name.

    spec = sensors.find("vl6180x")      # the registry entry (a dict), or ValueError in words
    VL6180X = sensors.driver(spec)      # the driver class, imported only now

Adding a sensor type: a driver file here, one entry in SENSORS, one simulated chip or source
in simulator/chips.py (SIMULATED); see docs/architecture.md "How to add a sensor". Nothing
here runs per tick: hardware.py reads the registry once, while it builds the instrument.

Each entry of SENSORS (a tuple, so the order of types in messages is fixed on MicroPython too):

    type        the name an instrument channel gives as "sensor"
    driver      (module, class): imported lazily, so a board loads only the drivers it uses
    kind        "switch" (reads 0/1) or "analog" (reads a level); = the driver's KIND
    unit        what read() returns: "pressed" (1/0), "read_u16" (ADC code), "mm", "Pa"
    full_scale  the largest meaningful reading, in that unit; = the driver's FULL_SCALE
    wiring      what the channel must name: "gpio" (pin; pull, active_low), "adc" (an ADC pin;
                oversample) or "i2c" (bus, sda, scl; address, freq). The wiring decides how
                hardware.py makes the driver: Driver(pin, active_low=), Driver(adc, oversample=)
                or Driver(i2c, address=, recover=, bus_lines=)
    address     the default 7-bit I2C address ("i2c" wiring only)

(What each type is for, in words, is in docs/hardware.md "Sensor types": strings here would
cost RAM on every board.)

Every driver has the same duck-typed interface, so instrument.py treats them alike:

    KIND          class attr: "switch" (reads 0/1) or "analog" (reads a level)
    FULL_SCALE    class attr: the largest meaningful reading, in the driver's unit
    REST          class attr: what read() returns before the first good reading
    NO_TARGET     class attr, optional: the reading that means "nothing in range" (not a
                  position: never learned as the rest point)
    RAIL_FAULT    class attr, optional: True when a reading pinned at its "most" end for
                  seconds means a wiring fault (AnalogSensor only)
    invert        instance attr, bool: True means "less = more" (a closer hand reads fewer mm)
    fault         instance attr: 0 when OK, else an errno-like int while it cannot be read
                  (5 EIO not answering, 19 ENODEV wrong chip, 61 ENODATA stopped measuring,
                  110 ETIMEDOUT bus stuck)
    fault_text    instance attr: a short plain-words reason, '' when OK (static strings)
    begin()       configures the hardware; never raises for a missing I2C sensor (sets fault)
    read(now_us)  the latest value (int); never blocks, never allocates, never raises OSError.
                  now_us is time.ticks_us(); drivers only use ticks_diff/ticks_add on it.

    driver            KIND      unit                  FULL_SCALE  REST    invert default
    Switch            switch    1 pressed, 0 not      1           0       False
    AnalogSensor      analog    read_u16 0..65535     65535       0       False
    VL6180X           analog    mm, 255 = FAR         255         255     True
    LPS22             analog    Pa (absolute)         10000 (span above rest)  101325  False

An I2C sensor that stops answering keeps returning its last good value with fault set, and
retries on its own with back-off (50 ms doubling to 1 s) until it answers, then clears fault.
"""

import sys

# fmt: off
SENSORS = (
    {"type": "switch", "driver": ("sensors.switch", "Switch"), "kind": "switch",
     "unit": "pressed", "full_scale": 1, "wiring": "gpio"},
    {"type": "fsr", "driver": ("sensors.analog", "AnalogSensor"), "kind": "analog",
     "unit": "read_u16", "full_scale": 65535, "wiring": "adc"},
    {"type": "ir_distance", "driver": ("sensors.analog", "AnalogSensor"), "kind": "analog",
     "unit": "read_u16", "full_scale": 65535, "wiring": "adc"},
    {"type": "vl6180x", "driver": ("sensors.vl6180x", "VL6180X"), "kind": "analog",
     "unit": "mm", "full_scale": 255, "wiring": "i2c", "address": 0x29},
    {"type": "lps22", "driver": ("sensors.lps22", "LPS22"), "kind": "analog",
     "unit": "Pa", "full_scale": 10_000, "wiring": "i2c", "address": 0x5D},
)
# fmt: on

WIRINGS = ("gpio", "adc", "i2c")


def names():
    """The sensor types, in registry order: ("switch", "fsr", ...)."""
    return tuple(s["type"] for s in SENSORS)


def find(sensor_type):
    """The registry entry of `sensor_type`; ValueError in plain words when there is none."""
    for spec in SENSORS:
        if spec["type"] == sensor_type:
            return spec
    raise ValueError(
        "Attune does not know the sensor type "
        + repr(sensor_type)
        + "; use one of: "
        + ", ".join(names())
        + "."
    )


def driver(spec):
    """The driver class of a registry entry, importing its module now (not before)."""
    module, cls = spec["driver"]
    if module not in sys.modules:
        __import__(module)
    return getattr(sys.modules[module], cls)
