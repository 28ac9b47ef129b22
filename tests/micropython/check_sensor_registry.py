"""firmware/sensors/__init__.py (the sensor registry) and hardware.check_wiring on real
MicroPython: drivers load lazily, an unknown type is refused in plain words.

Run: node tests/micropython/run.mjs tests/micropython/check_sensor_registry.py --path firmware
"""

import sys

import hardware
import sensors
from checks import run

PICO = {
    "name": "Raspberry Pi Pico",
    "gpio": list(range(23)) + [26, 27, 28],
    "adc": [{"pin": 26, "channel": 0}, {"pin": 27, "channel": 1}, {"pin": 28, "channel": 2}],
    "i2c": [{"id": 0, "sda": [0, 4, 8], "scl": [1, 5, 9]}],
}


def check_the_registry_lists_the_types_in_order():
    assert sensors.names() == ("switch", "fsr", "ir_distance", "vl6180x", "lps22")


def check_a_driver_is_imported_only_when_asked_for():
    assert "sensors.lps22" not in sys.modules, "nothing may import the LPS22 driver up front"
    switch = sensors.driver(sensors.find("switch"))
    assert switch.__name__ == "Switch" and switch.KIND == "switch"
    assert "sensors.lps22" not in sys.modules
    lps22 = sensors.driver(sensors.find("lps22"))
    assert lps22.FULL_SCALE == sensors.find("lps22")["full_scale"]
    assert "sensors.lps22" in sys.modules


def check_every_entry_agrees_with_its_driver():
    for spec in sensors.SENSORS:
        cls = sensors.driver(spec)
        assert cls.KIND == spec["kind"], spec["type"]
        assert cls.FULL_SCALE == spec["full_scale"], spec["type"]


def check_wiring_follows_the_registry():
    inst = {
        "name": "t",
        "channels": [
            {"name": "switch", "sensor": "switch", "pin": 15},
            {"name": "pad", "sensor": "fsr", "pin": 26},
            {"name": "hand", "sensor": "vl6180x", "bus": 0, "sda": 4, "scl": 5},
            {"name": "breath", "sensor": "lps22", "bus": 0, "sda": 4, "scl": 5},
        ],
    }
    assert hardware.check_wiring(PICO, inst) is None


def check_an_unknown_type_is_refused_naming_the_known_ones():
    inst = {
        "name": "t",
        "channels": [{"name": "x", "sensor": "bmp280", "bus": 0, "sda": 4, "scl": 5}],
    }
    try:
        hardware.check_wiring(PICO, inst)
    except ValueError as e:
        assert str(e) == (
            "Channel 'x' has sensor type 'bmp280', which Attune does not know; "
            "use one of: switch, fsr, ir_distance, vl6180x, lps22."
        ), str(e)
    else:
        raise AssertionError("an unknown sensor type must not pass")


run(globals())
