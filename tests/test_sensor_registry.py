"""The sensor registry (firmware/sensors/__init__.py) is the one list of sensor types: the
instrument schema, the drivers, the hardware factory, the simulator and the docs agree with
it, and a new type needs only a driver, a registry entry and a simulated chip."""

from __future__ import annotations

import inspect
import json
import re
import shutil
import sys
from pathlib import Path

import hardware
import pytest
import sensors
from sensors.i2cdevice import I2CDevice

from simulator import chips
from simulator.run import FIRMWARE_DIR, Simulation
from simulator.world import UNITS, World, sensor_registry

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "boards" / "instrument.schema.json"
# The schema's part for each wiring rule of the registry.
SCHEMA_DEF = {"gpio": "#/$defs/switch", "adc": "#/$defs/analog", "i2c": "#/$defs/i2c"}
CONSTRUCTOR = {
    "gpio": ("pin", "active_low"),
    "adc": ("adc", "oversample"),
    "i2c": ("i2c", "address", "recover", "bus_lines"),
}


def schema_channel() -> dict:
    return json.loads(SCHEMA.read_text())["$defs"]["channel"]


def test_the_schema_lists_exactly_the_registry_types_in_order():
    assert schema_channel()["properties"]["sensor"]["enum"] == list(sensors.names())


def test_the_schema_wires_each_type_the_way_the_registry_says():
    wired_as: dict[str, str] = {}
    for rule in schema_channel()["allOf"]:
        sensor = rule["if"]["properties"]["sensor"]
        for name in sensor.get("enum", [sensor.get("const")]):
            wired_as[name] = rule["then"]["$ref"]
    assert wired_as == {s["type"]: SCHEMA_DEF[s["wiring"]] for s in sensors.SENSORS}


def test_the_schema_states_each_default_i2c_address():
    text = json.loads(SCHEMA.read_text())["$defs"]["i2c"]["properties"]["address"]["description"]
    for spec in sensors.SENSORS:
        if spec["wiring"] == "i2c":
            assert f"{spec['type']} {spec['address']} (0x{spec['address']:02X})" in text


@pytest.mark.parametrize("spec", sensors.SENSORS, ids=lambda s: s["type"])
def test_each_entry_is_complete_and_agrees_with_its_driver(spec):
    assert set(spec) >= {"type", "driver", "kind", "unit", "full_scale", "wiring"}
    assert spec["wiring"] in sensors.WIRINGS and spec["kind"] in ("switch", "analog")
    assert ("address" in spec) == (spec["wiring"] == "i2c")
    cls = sensors.driver(spec)
    assert (cls.KIND, cls.FULL_SCALE) == (spec["kind"], spec["full_scale"])
    params = inspect.signature(cls).parameters
    for keyword in CONSTRUCTOR[spec["wiring"]][1:]:
        assert keyword in params, f"{cls.__name__} must take {keyword}= (its wiring)"


def test_types_are_unique_and_an_unknown_one_names_the_known_ones():
    assert len(set(sensors.names())) == len(sensors.SENSORS)
    with pytest.raises(
        ValueError,
        match="sensor type 'bmp280'; use one of: switch, fsr, ir_distance, vl6180x, lps22.",
    ):
        sensors.find("bmp280")


def test_an_unknown_i2c_type_is_never_built_as_some_other_sensor(monkeypatch):
    monkeypatch.setitem(sys.modules, "machine", object())  # never reached
    inst = {
        "name": "t",
        "channels": [{"name": "x", "sensor": "bmp280", "bus": 0, "sda": 4, "scl": 5}],
    }
    board = json.loads((ROOT / "boards" / "pico.json").read_text())
    with pytest.raises(ValueError, match="'bmp280', which Attune does not know; use one of"):
        hardware.build_sensors(board, inst)


def test_the_simulator_has_a_simulated_sensor_and_the_unit_of_every_type():
    registry = sensor_registry()
    assert list(registry) == list(sensors.names())
    assert set(chips.SIMULATED) == set(registry)
    assert UNITS == {t: s["unit"] for t, s in registry.items()}
    for name, spec in registry.items():
        sim = chips.SIMULATED[name]
        assert (sim.chip is not None) == (spec["wiring"] == "i2c"), name
        if sim.chip is not None:
            chip = sim.chip(address=spec["address"], clock=None)
            assert callable(getattr(chip, sim.feed)), name


def hardware_md_table() -> dict[str, list[str]]:
    text = (ROOT / "docs" / "hardware.md").read_text()
    section = text.split("## Sensor types", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"\| `([a-z0-9_]+)` \|", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in line.strip().strip("|").split("|")]
    return rows


def test_the_hardware_docs_table_agrees_with_the_registry():
    rows = hardware_md_table()
    assert list(rows) == list(sensors.names())
    for spec in sensors.SENSORS:
        _, kind, unit, full_scale, wiring, address = rows[spec["type"]][:6]
        assert kind == spec["kind"] and unit == f"`{spec['unit']}`"
        assert int(full_scale.replace(" ", "")) == spec["full_scale"]
        assert wiring.startswith(spec["wiring"])
        assert address == (f"{spec['address']:#04x}" if "address" in spec else "")


# -- a throw-away sensor type, added through the registry alone ----------------------------


class Knob(I2CDevice):
    """A made-up I2C knob for this test: register 0 holds how far it is turned, 0..100."""

    KIND = "analog"
    FULL_SCALE = 100
    REST = 0
    _RUN = 1

    def __init__(self, i2c, address=0x33, invert=False, recover=None, bus_lines=None):
        super().__init__(i2c, address, recover, bus_lines)
        self.invert = invert
        self._buf = bytearray(1)

    def _step(self, now_us):
        self._i2c.readfrom_mem_into(self._address, 0, self._buf)
        self.value = self._buf[0]
        self._state = self._RUN
        self._ok()
        self._wait(now_us, 2_000)


class KnobChip(chips.I2CChip):
    """The simulated knob: one register, fed by the world."""

    def power_on_reset(self) -> None:
        self.regs = {0: 0}
        self.pointer = 0

    def set_turn(self, value: int) -> None:
        self.regs[0] = max(0, min(100, int(value)))


KNOB_ENTRY = (
    '{"type": "knob", "driver": ("sensors.knob", "Knob"), "kind": "analog", '
    '"unit": "percent", "full_scale": 100, "wiring": "i2c", "address": 0x33}'
)


def firmware_with_knob(folder: Path) -> Path:
    """A copy of firmware/ with the knob's driver file and its one registry entry."""
    fw = folder / "firmware"
    shutil.copytree(FIRMWARE_DIR, fw, ignore=shutil.ignore_patterns("__pycache__"))
    (fw / "sensors" / "knob.py").write_text(
        "from sensors.i2cdevice import I2CDevice\n\n\n" + inspect.getsource(Knob)
    )
    registry = fw / "sensors" / "__init__.py"
    registry.write_text(registry.read_text() + f"\nSENSORS = SENSORS + ({KNOB_ENTRY},)\n")
    return fw


def test_a_new_sensor_type_plays_in_the_simulator_through_the_registry_alone(
    tmp_path, monkeypatch
):
    fw = firmware_with_knob(tmp_path)
    monkeypatch.setitem(chips.SIMULATED, "knob", chips.Simulated(0, 80, KnobChip, "set_turn"))
    instrument = {
        "name": "knob",
        "title": "Knob",
        "description": "a test",
        "profile": {},
        "channels": [{"name": "knob", "sensor": "knob", "bus": 0, "sda": 4, "scl": 5}],
    }
    turn = [0] * 1500 + [80] * 600 + [0] * 1400
    with Simulation(instrument, tmp_path / "flash", trace={"knob": turn}, firmware_dir=fw) as sim:
        assert sim.world.warnings == []
        events = sim.run()
    assert sim.crashes == [] and sim.resets == []
    played = [(e["type"], e["t_ms"]) for e in events if e["type"] in ("note_on", "note_off")]
    assert [kind for kind, _ in played] == ["note_on", "note_off"]
    on_ms, off_ms = played[0][1], played[1][1]
    assert 1500 < on_ms < 1560 and 2100 < off_ms < 2300
    chip = sim.world.chips["knob"]
    assert chip.errors == [] and chip.address == 0x33


def test_the_world_wires_a_registry_type_it_has_a_simulated_sensor_for(tmp_path, monkeypatch):
    from simulator.clock import Clock

    fw = firmware_with_knob(tmp_path)
    inst = {
        "channels": [
            {"name": "knob", "sensor": "knob", "bus": 1, "sda": 6, "scl": 7, "address": 0x34}
        ]
    }
    assert "unknown sensor 'knob'" in World(Clock(), inst, firmware_dir=fw).warnings[0]
    monkeypatch.setitem(chips.SIMULATED, "knob", chips.Simulated(0, 80, KnobChip, "set_turn"))
    world = World(Clock(), inst, firmware_dir=fw)
    assert world.warnings == [] and set(world.buses[1]) == {0x34}
    assert (world.inputs["knob"].rest, world.inputs["knob"].full) == (0, 80)
