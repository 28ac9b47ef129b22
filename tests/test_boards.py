"""Board and instrument files: schema, wiring cross-checks, and the hardware factory."""

from __future__ import annotations

import json
import sys
import time
import types
from pathlib import Path

import hardware
import jsonschema
import pytest
from sensors.analog import AnalogSensor
from sensors.lps22 import LPS22
from sensors.switch import Switch
from sensors.vl6180x import VL6180X

ROOT = Path(__file__).resolve().parents[1]
BOARDS = ROOT / "boards"


BOARD_FILES = sorted(p for p in BOARDS.glob("*.json") if not p.name.endswith("schema.json"))
INSTRUMENT_FILES = sorted((BOARDS / "instruments").glob("*.json"))


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def board(name: str) -> dict:
    return load(BOARDS / f"{name}.json")


def instrument(name: str) -> dict:
    return load(BOARDS / "instruments" / f"{name}.json")


def validator(schema_name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load(BOARDS / schema_name))


def wired(*channels: dict) -> dict:
    return {"name": "test", "title": "Test", "description": "", "channels": list(channels),
            "profile": {}}  # fmt: skip


# -- the files -------------------------------------------------------------------------------


def test_the_three_boards_and_the_required_instruments_are_there():
    assert {p.stem for p in BOARD_FILES} == {"pico", "pico_w", "pico2"}
    assert {"big-switch", "squeeze-pad", "air-harp", "combo", "two-switch-breath"} <= {
        p.stem for p in INSTRUMENT_FILES
    }


@pytest.mark.parametrize("schema_name", ["schema.json", "instrument.schema.json"])
def test_schemas_are_valid_json_schema_2020_12(schema_name):
    schema = load(BOARDS / schema_name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.stem)
def test_every_board_file_matches_the_board_schema(path):
    errors = [e.message for e in validator("schema.json").iter_errors(load(path))]
    assert errors == []
    assert load(path)["id"] == path.stem


@pytest.mark.parametrize("path", INSTRUMENT_FILES, ids=lambda p: p.stem)
def test_every_instrument_file_matches_the_instrument_schema(path):
    errors = [e.message for e in validator("instrument.schema.json").iter_errors(load(path))]
    assert errors == []
    assert load(path)["name"] == path.stem
    assert load(path)["profile"] == {} or isinstance(load(path)["profile"], dict)


def test_the_instrument_schema_refuses_a_field_that_belongs_to_another_sensor():
    doc = wired({"name": "pad", "sensor": "fsr", "pin": 26, "sda": 4})
    errors = [e.message for e in validator("instrument.schema.json").iter_errors(doc)]
    assert any("'sda' was unexpected" in e for e in errors)
    doc = wired({"name": "hand", "sensor": "vl6180x", "sda": 4, "scl": 5})
    errors = [e.message for e in validator("instrument.schema.json").iter_errors(doc)]
    assert "'bus' is a required property" in errors


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.stem)
def test_board_pins_agree_with_the_rp2_pin_functions(path):
    b = load(path)
    gpio = set(b["gpio"])
    for adc in b["adc"]:
        assert adc["pin"] in gpio and adc["channel"] == adc["pin"] - 26  # GP26..29 = ADC0..3
    for bus in b["i2c"]:
        for sda in bus["sda"]:  # RP2040/RP2350: SDA on even pins, bus = bit 1 of the pin
            assert sda in gpio and sda % 2 == 0 and (sda >> 1) & 1 == bus["id"]
        for scl in bus["scl"]:
            assert scl in gpio and scl % 2 == 1 and (scl >> 1) & 1 == bus["id"]
    for uart in b["uart"]:
        for tx in uart["tx"]:  # UART0 TX on 0/12/16/28, UART1 TX on 4/8/20/24
            assert tx in gpio and tx + 1 in gpio and tx % 4 == 0
            assert ((tx + 4) // 8) % 2 == uart["id"]
    assert b["vref"] == 3.3 and b["adc_bits"] == 12


def test_the_pico_w_led_is_reached_by_name_and_the_others_by_gp25():
    assert board("pico_w")["led"] == "LED"
    assert board("pico")["led"] == board("pico2")["led"] == 25
    assert board("pico2")["mcu"] == "RP2350" and board("pico")["mcu"] == "RP2040"


@pytest.mark.parametrize("board_path", BOARD_FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("path", INSTRUMENT_FILES, ids=lambda p: p.stem)
def test_every_instrument_is_wired_correctly_on_every_board(path, board_path):
    hardware.check_wiring(load(board_path), load(path))


@pytest.mark.parametrize("path", INSTRUMENT_FILES, ids=lambda p: p.stem)
def test_channel_names_are_short_unique_and_lowercase(path):
    names = [ch["name"] for ch in load(path)["channels"]]
    assert len(names) == len(set(names))
    for name in names:
        assert name == name.lower() and 1 <= len(name) <= 12 and name[0].isalpha()


@pytest.mark.parametrize("path", INSTRUMENT_FILES, ids=lambda p: p.stem)
def test_a_daw_shows_a_short_attune_name(path):
    assert len("Attune " + load(path)["title"]) <= 31


def test_the_documented_default_wiring_of_each_instrument():
    def wiring(name):
        return [
            (ch["name"], ch["sensor"], ch.get("pin"), ch.get("sda"), ch.get("scl"))
            for ch in instrument(name)["channels"]
        ]

    switch = ("switch", "switch", 15, None, None)
    pad = ("pad", "fsr", 26, None, None)
    hand = ("hand", "vl6180x", None, 4, 5)
    assert wiring("big-switch") == [switch]
    assert wiring("squeeze-pad") == [pad]
    assert wiring("air-harp") == [hand]
    assert wiring("combo") == [switch, pad, hand]
    assert wiring("two-switch-breath") == [
        ("left", "switch", 14, None, None),
        ("right", "switch", 15, None, None),
        ("breath", "lps22", None, 4, 5),
    ]
    assert instrument("big-switch")["channels"][0]["pull"] == "up"
    assert instrument("air-harp")["channels"][0]["invert"] is True  # closer plays


# -- wiring mistakes, in plain words ---------------------------------------------------------


@pytest.mark.parametrize(
    "channels, message",
    [
        ([{"name": "pad", "sensor": "piezo", "pin": 26}],
         "Channel 'pad' has sensor type 'piezo', which Attune does not know; use one of: "
         "switch, fsr, ir_distance, vl6180x, lps22."),
        ([{"name": "switch", "sensor": "switch", "pin": 23}],
         "GP23 is not a usable pin on the Raspberry Pi Pico W, so channel 'switch' cannot be "
         "wired to it; use one of GP0, GP1,"),
        ([{"name": "pad", "sensor": "fsr", "pin": 15}],
         "Channel 'pad' (fsr) is wired to GP15, which is not an analog (ADC) pin on the "
         "Raspberry Pi Pico W; use GP26, GP27, GP28."),
        ([{"name": "hand", "sensor": "vl6180x", "bus": 0, "sda": 6, "scl": 5}],
         "Channel 'hand' puts SDA on GP6, but I2C0 SDA can only be on GP0, GP4, GP8, GP12, "
         "GP16, GP20."),
        ([{"name": "hand", "sensor": "vl6180x", "bus": 2, "sda": 4, "scl": 5}],
         "Channel 'hand' uses I2C bus 2, which the Raspberry Pi Pico W does not have; "
         "use bus 0, 1."),
        ([{"name": "left", "sensor": "switch", "pin": 15},
          {"name": "right", "sensor": "switch", "pin": 15}],
         "GP15 is used by both channel 'left' and channel 'right'."),
        ([{"name": "left", "sensor": "switch", "pin": 4},
          {"name": "hand", "sensor": "vl6180x", "bus": 0, "sda": 4, "scl": 5}],
         "GP4 is used by both channel 'left' and I2C0 (channel 'hand')."),
        ([{"name": "pad", "sensor": "fsr", "pin": 26},
          {"name": "pad", "sensor": "fsr", "pin": 27}],
         "Two channels are named 'pad'; each needs its own name."),
        ([{"name": "Pad", "sensor": "fsr", "pin": 26}],
         "Channel name 'Pad' must be 1 to 12 characters: lowercase letters, digits or _, "
         "starting with a letter."),
        ([{"name": "a", "sensor": "lps22", "bus": 0, "sda": 4, "scl": 5},
          {"name": "b", "sensor": "lps22", "bus": 0, "sda": 4, "scl": 5}],
         "Channels 'a' and 'b' both answer at address 0x5d on I2C0; move one to the other bus."),
        ([{"name": "a", "sensor": "lps22", "bus": 0, "sda": 4, "scl": 5},
          {"name": "b", "sensor": "vl6180x", "bus": 0, "sda": 8, "scl": 9}],
         "Channels 'a' and 'b' share I2C0 but give it different pins or speed;"),
        ([{"name": "pad", "sensor": "fsr", "pin": 26, "oversample": 100}],
         "Channel 'pad' has oversample 100; use 1 to 64 readings."),
        ([{"name": "s", "sensor": "switch", "pin": 2, "pull": "sideways"}],
         "Channel 's' has pull 'sideways'; use one of: up, down, none."),
    ],
)  # fmt: skip
def test_wiring_mistakes_are_explained_in_plain_words(channels, message):
    with pytest.raises(ValueError) as caught:
        hardware.check_wiring(board("pico_w"), wired(*channels))
    assert str(caught.value).startswith(message)


def test_din_midi_and_tone_pins_must_be_free_and_capable():
    b = board("pico")
    ok = wired({"name": "switch", "sensor": "switch", "pin": 15})
    hardware.check_wiring({**b, "din_midi_tx": 0, "tone_pin": 16}, ok)
    with pytest.raises(ValueError, match="din_midi_tx is GP2, which is not a UART TX pin"):
        hardware.check_wiring({**b, "din_midi_tx": 2}, ok)
    with pytest.raises(ValueError, match="GP15 is used by both channel 'switch' and the tone"):
        hardware.check_wiring({**b, "tone_pin": 15}, ok)
    left_on_rx = wired({"name": "left", "sensor": "switch", "pin": 13})
    with pytest.raises(ValueError, match="GP13 is used by both channel 'left' and DIN MIDI"):
        hardware.check_wiring({**b, "din_midi_tx": 12}, left_on_rx)


# -- the factory, with a fake machine module -------------------------------------------------


class FakeMachine(types.ModuleType):
    """Records what the factory asks of `machine`: pins, ADCs, I2C buses, UART, PWM."""

    def __init__(self) -> None:
        super().__init__("machine")
        self.made: list[tuple] = []
        self.trace: list[tuple[int | str, int]] = []  # (pin, level) as bus recovery drives it
        machine = self

        class Pin:
            IN, OUT, OPEN_DRAIN = 0, 1, 2
            PULL_UP, PULL_DOWN = 1, 2

            def __init__(self, pin, mode=-1, pull=-1, *, value=None):
                self.pin, self.mode, self.pull = pin, mode, pull
                self.level = 1 if value is None else value
                machine.made.append(("Pin", pin, mode, pull))

            def value(self, level=None):
                if level is None:
                    return self.level
                self.level = level
                machine.trace.append((self.pin, level))
                return None

        class ADC:
            def __init__(self, pin):
                machine.made.append(("ADC", pin.pin))

            def read_u16(self):
                return 0

        class I2C:
            def __init__(self, bus, *, sda, scl, freq, timeout):
                self.bus = bus
                machine.made.append(("I2C", bus, sda.pin, scl.pin, freq, timeout))

        class UART:
            def __init__(self, uart, *, baudrate, tx, rx):
                machine.made.append(("UART", uart, baudrate, tx.pin, rx.pin))

        class PWM:
            def __init__(self, pin):
                self.duty = None
                machine.made.append(("PWM", pin.pin))

            def duty_u16(self, duty):
                self.duty = duty

        self.Pin, self.ADC, self.I2C, self.UART, self.PWM = Pin, ADC, I2C, UART, PWM


@pytest.fixture
def machine(monkeypatch):
    fake = FakeMachine()
    monkeypatch.setitem(sys.modules, "machine", fake)
    monkeypatch.setattr(time, "sleep_us", lambda us: None, raising=False)
    return fake


def test_combo_builds_its_sensors_in_channel_order(machine):
    built = hardware.build_sensors(board("pico"), instrument("combo"))
    assert [name for name, _ in built] == ["switch", "pad", "hand"]
    switch, pad, hand = (sensor for _, sensor in built)
    assert isinstance(switch, Switch) and isinstance(pad, AnalogSensor)
    assert isinstance(hand, VL6180X) and hand.invert is True
    assert ("Pin", 15, 0, 1) in machine.made  # input with pull-up
    assert ("ADC", 26) in machine.made
    i2c = [m for m in machine.made if m[0] == "I2C"]
    assert i2c == [("I2C", 0, 4, 5, 400_000, hardware.I2C_TIMEOUT_US)]
    assert hardware.I2C_TIMEOUT_US <= 5_000  # a few ms: a stuck bus must not stall the tick


def test_sensors_on_one_i2c_bus_share_one_i2c_object(machine):
    inst = wired(
        {"name": "hand", "sensor": "vl6180x", "bus": 0, "sda": 4, "scl": 5},
        {"name": "breath", "sensor": "lps22", "bus": 0, "sda": 4, "scl": 5, "invert": True},
        {"name": "head", "sensor": "vl6180x", "bus": 1, "sda": 6, "scl": 7, "invert": False},
    )
    built = dict(hardware.build_sensors(board("pico2"), inst))
    assert [m[1] for m in machine.made if m[0] == "I2C"] == [0, 1]
    assert built["hand"]._i2c is built["breath"]._i2c is not built["head"]._i2c
    assert isinstance(built["breath"], LPS22) and built["breath"].invert is True
    assert built["head"].invert is False  # the instrument file overrides the driver default


def test_switch_pulls_and_polarity_follow_the_wiring(machine):
    inst = wired(
        {"name": "a", "sensor": "switch", "pin": 2},
        {"name": "b", "sensor": "switch", "pin": 3, "pull": "down"},
        {"name": "c", "sensor": "switch", "pin": 6, "pull": "none", "active_low": False},
    )
    built = dict(hardware.build_sensors(board("pico"), inst))
    pins = [m for m in machine.made if m[0] == "Pin"]
    assert pins == [("Pin", 2, 0, 1), ("Pin", 3, 0, 2), ("Pin", 6, 0, -1)]
    assert [built[n]._flip for n in "abc"] == [1, 0, 0]


def test_wiring_mistakes_stop_the_build_before_any_pin_is_touched(machine):
    with pytest.raises(ValueError, match="not an analog"):
        hardware.build_sensors(board("pico"), wired({"name": "pad", "sensor": "fsr", "pin": 2}))
    assert machine.made == []


def test_led_din_midi_and_tone_outputs(machine):
    assert hardware.build_din_midi(board("pico")) is None
    assert hardware.build_tone_pin(board("pico")) is None
    led = hardware.build_led(board("pico_w"))
    assert led.pin == "LED" and led.level == 0
    uart = hardware.build_din_midi({**board("pico"), "din_midi_tx": 4})
    assert uart is not None and ("UART", 1, 31_250, 4, 5) in machine.made
    tone = hardware.build_tone_pin({**board("pico"), "tone_pin": 16})
    assert tone.duty == 0 and ("PWM", 16) in machine.made


def test_stuck_bus_recovery_clocks_scl_nine_times_then_sends_a_stop(machine):
    assert hardware.recover_i2c_bus(sda=4, scl=5) is True
    scl = [level for pin, level in machine.trace if pin == 5]
    falling = sum(1 for a, b in zip([1, *scl], scl, strict=False) if a == 1 and b == 0)
    assert falling == 10  # nine clocks, then SCL low once more to set up the STOP
    stop = machine.trace[-3:]
    assert stop == [(4, 0), (5, 1), (4, 1)]  # SDA low, SCL high, SDA rises: STOP


def test_recovery_callable_resets_the_bus_and_hands_back_a_working_i2c(machine):
    built = dict(hardware.build_sensors(board("pico"), instrument("air-harp")))
    recover = built["hand"]._recover
    machine.made.clear()
    i2c = recover()
    assert i2c.bus == 0
    assert ("I2C", 0, 4, 5, 400_000, hardware.I2C_TIMEOUT_US) in machine.made
    assert len([p for p, _ in machine.trace if p == 5]) >= 18
