"""Sensor drivers against fake pins, ADCs and register-level chip models on a fake I2C bus."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from sensors.analog import AnalogSensor
from sensors.i2cdevice import EIO, ENODATA, ENODEV, ETIMEDOUT
from sensors.lps22 import LPS22
from sensors.switch import Switch
from sensors.vl6180x import FAR, VL6180X

from simulator.chips import LPS22Chip, VL6180XChip

ROOT = Path(__file__).resolve().parents[1]
TICKS_PERIOD = 1 << 30
MS = 1000


def _ticks_diff(a: int, b: int) -> int:
    return ((a - b + TICKS_PERIOD // 2) & (TICKS_PERIOD - 1)) - TICKS_PERIOD // 2


def _ticks_add(t: int, delta: int) -> int:
    return (t + delta) & (TICKS_PERIOD - 1)


@pytest.fixture(autouse=True)
def micropython_ticks(monkeypatch):
    """MicroPython's wrapping ticks arithmetic on CPython's time module, for this test only."""
    monkeypatch.setattr(time, "ticks_diff", _ticks_diff, raising=False)
    monkeypatch.setattr(time, "ticks_add", _ticks_add, raising=False)


class FakePin:
    def __init__(self, level: int = 1) -> None:
        self.level = level

    def value(self) -> int:
        return self.level


class FakeADC:
    def __init__(self, codes: list[int]) -> None:
        self.codes = codes
        self.calls = 0

    def read_u16(self) -> int:
        code = self.codes[self.calls % len(self.codes)]
        self.calls += 1
        return code


class FakeI2C:
    """machine.I2C stand-in: routes each transaction to the chip model at that address."""

    def __init__(self, *chips) -> None:
        self.chips = {chip.address: chip for chip in chips}
        self.transactions: list[tuple[int, int]] = []  # (time of the read() call, address)
        self.now = 0

    def _chip(self, addr: int):
        self.transactions.append((self.now, addr))
        if any(chip.stuck for chip in self.chips.values()):
            raise OSError(ETIMEDOUT)  # one chip holding SDA low blocks the whole bus
        chip = self.chips.get(addr)
        if chip is None or not chip.connected:
            raise OSError(EIO)
        return chip

    def writeto(self, addr: int, buf, stop: bool = True) -> int:
        self._chip(addr).write(bytes(buf))
        return len(buf)

    def writeto_mem(self, addr: int, memaddr: int, buf, *, addrsize: int = 8) -> None:
        self._chip(addr).write(memaddr.to_bytes(addrsize // 8, "big") + bytes(buf))

    def readfrom_mem_into(self, addr: int, memaddr: int, buf, *, addrsize: int = 8) -> None:
        chip = self._chip(addr)
        chip.write(memaddr.to_bytes(addrsize // 8, "big"))
        buf[:] = chip.read(len(buf))

    def readfrom_mem(self, addr: int, memaddr: int, n: int, *, addrsize: int = 8) -> bytes:
        buf = bytearray(n)
        self.readfrom_mem_into(addr, memaddr, buf, addrsize=addrsize)
        return bytes(buf)

    def scan(self) -> list[int]:
        return sorted(a for a, c in self.chips.items() if c.connected)


class World:
    """A virtual clock shared by the chips and the bus; run() calls read() once per tick."""

    def __init__(self, start_us: int = 0) -> None:
        self.t = start_us  # never wraps; the firmware sees ticks = t mod 2**30

    @property
    def ticks(self) -> int:
        return self.t & (TICKS_PERIOD - 1)

    def run(self, sensor, bus: FakeI2C | None, ms: float, tick_us: int = MS) -> list[int]:
        values = []
        end = self.t + int(ms * MS)
        while self.t < end:
            if bus is not None:
                bus.now = self.t
            values.append(sensor.read(self.ticks))
            self.t += tick_us
        return values


def writes(chip) -> list[tuple[int, bytes]]:
    return [(reg, data) for kind, reg, data in chip.log if kind == "write" and data]


# -- switches --------------------------------------------------------------------------------


def test_switch_to_ground_reads_pressed_while_its_pin_is_low():
    pin = FakePin(level=1)
    switch = Switch(pin)
    assert switch.read(0) == 0
    pin.level = 0
    assert switch.read(0) == 1


def test_active_high_switch_reads_pressed_while_its_pin_is_high():
    pin = FakePin(level=0)
    switch = Switch(pin, active_low=False)
    assert switch.read(0) == 0
    pin.level = 1
    assert switch.read(0) == 1


def test_several_switches_on_one_instrument_read_independently():
    left, right = FakePin(1), FakePin(1)
    switches = [Switch(left), Switch(right)]
    right.level = 0
    assert [s.read(0) for s in switches] == [0, 1]
    left.level, right.level = 0, 1
    assert [s.read(0) for s in switches] == [1, 0]


def test_switch_has_the_common_sensor_interface():
    switch = Switch(FakePin())
    switch.begin()
    assert (switch.KIND, switch.FULL_SCALE, switch.REST) == ("switch", 1, 0)
    assert (switch.invert, switch.fault, switch.fault_text) == (False, 0, "")


# -- analog inputs ---------------------------------------------------------------------------


def test_analog_sensor_averages_its_oversampled_readings_in_integers():
    adc = FakeADC([100, 101, 102, 104])
    pad = AnalogSensor(adc, oversample=4)
    value = pad.read(0)
    assert value == 407 // 4 and isinstance(value, int)
    assert adc.calls == 4


def test_analog_sensor_without_oversampling_reads_the_adc_once_per_call():
    adc = FakeADC([1234])
    pad = AnalogSensor(adc, oversample=1)
    assert [pad.read(0), pad.read(0)] == [1234, 1234]
    assert adc.calls == 2


def test_full_pressure_on_a_pad_averages_to_full_scale():
    pad = AnalogSensor(FakeADC([65535]), oversample=64)
    assert pad.read(0) == AnalogSensor.FULL_SCALE == 65535


def test_oversampling_outside_1_to_64_is_refused_in_plain_words():
    with pytest.raises(ValueError, match="oversample is 0"):
        AnalogSensor(FakeADC([0]), oversample=0)
    with pytest.raises(ValueError, match="1 to 64"):
        AnalogSensor(FakeADC([0]), oversample=65)


# -- VL6180X time-of-flight ------------------------------------------------------------------


def make_tof(distance_mm: int | None = 80, clocked: bool = True):
    world = World()
    chip = VL6180XChip(clock=(lambda: world.t) if clocked else None, distance_mm=distance_mm)
    bus = FakeI2C(chip)
    return world, chip, bus, VL6180X(bus)


def test_time_of_flight_sensor_follows_the_datasheet_conversation():
    world, chip, bus, tof = make_tof(distance_mm=80, clocked=False)
    tof.begin()
    log = list(chip.log)
    assert log[0] == ("write", 0x000, b"") and log[1] == ("read", 0x000, b"\xb4")  # model id
    assert log[3] == ("read", 0x016, b"\x01")  # fresh out of reset: load the private settings
    configured = writes(chip)
    assert configured[0] == (0x0207, b"\x01") and configured[29] == (0x0030, b"\x00")
    assert {reg for reg, _ in configured[:30]} == set(VL6180XChip.PRIVATE_SETTINGS)
    assert (0x0014, b"\x04") in configured  # interrupt on "new sample ready"
    assert configured[-1] == (0x0016, b"\x00")  # SYSTEM__FRESH_OUT_OF_RESET cleared last
    assert chip.configured

    chip.log.clear()
    values = world.run(tof, bus, ms=20)
    conversation = [(kind, reg, data) for kind, reg, data in chip.log if data]
    assert conversation[:4] == [
        # one write from 0x015: clear any interrupt, FRESH_OUT_OF_RESET and GROUPED_PARAMETER_
        # HOLD kept at 0, single-shot start
        ("write", 0x015, b"\x07\x00\x00\x01"),
        ("read", 0x04D, bytes([0x01, 0x00, 0x04])),  # status: no error, new sample ready
        ("read", 0x062, bytes([80])),  # RESULT__RANGE_VAL
        ("write", 0x015, b"\x07\x00\x00\x01"),  # the interrupt cleared as the next starts
    ]
    assert values[-1] == 80 and tof.fault == 0
    assert chip.errors == []


def test_time_of_flight_reads_the_hand_distance_in_mm_and_far_when_nothing_is_in_view():
    world, chip, bus, tof = make_tof(distance_mm=120)
    tof.begin()
    assert world.run(tof, bus, ms=40)[-1] == 120
    chip.set_distance_mm(35)
    assert world.run(tof, bus, ms=40)[-1] == 35
    chip.set_distance_mm(None)
    assert world.run(tof, bus, ms=40)[-1] == FAR == VL6180X.FULL_SCALE
    chip.set_distance_mm(400)
    assert world.run(tof, bus, ms=40)[-1] == FAR
    assert chip.errors == []


def test_time_of_flight_needs_at_most_one_short_transaction_per_read_and_polls_every_few_ms():
    world, chip, bus, tof = make_tof(distance_mm=60)
    tof.begin()
    bus.transactions.clear()
    world.run(tof, bus, ms=200)
    per_call: dict[int, int] = {}
    for t, _ in bus.transactions:
        per_call[t] = per_call.get(t, 0) + 1
    assert max(per_call.values()) == 1
    polls = [reg for kind, reg, _ in chip.log if kind == "read" and reg == 0x04D]
    assert polls  # status is polled...
    assert len(bus.transactions) < 200 * 0.6  # ...but far from every 1 ms tick
    assert chip.samples >= 200 // 15  # a fresh distance at least every 15 ms
    # the first poll learns the measurement's length: about one poll per sample once learned
    # (each transaction holds a Pico's loop for ~0.1 ms)
    assert len(bus.transactions) / chip.samples < 3.6
    assert len(polls) / chip.samples < 1.6


def test_time_of_flight_sensor_already_set_up_skips_the_private_settings():
    world, chip, bus, tof = make_tof()
    tof.begin()
    chip.log.clear()
    again = VL6180X(bus)  # e.g. after a soft reset of the Pico: the sensor kept its power
    again.begin()
    registers = [reg for reg, _ in writes(chip)]
    assert not set(registers) & set(VL6180XChip.PRIVATE_SETTINGS)
    assert 0x0014 in registers
    assert world.run(again, bus, ms=40)[-1] == 80
    assert chip.errors == []


def test_time_of_flight_defaults_describe_a_closer_is_more_sensor():
    tof = VL6180X(FakeI2C())
    assert (tof.KIND, tof.FULL_SCALE, tof.REST, tof.invert) == ("analog", 255, FAR, True)


def test_missing_time_of_flight_sensor_sets_a_fault_instead_of_raising():
    bus = FakeI2C()
    tof = VL6180X(bus)
    tof.begin()
    assert tof.fault == EIO and "not answering" in tof.fault_text
    assert World().run(tof, bus, ms=5) == [FAR] * 5


def test_a_different_chip_at_the_time_of_flight_address_is_reported():
    world, chip, bus, tof = make_tof()
    chip.regs[0x000] = 0xEE
    tof.begin()
    assert tof.fault == ENODEV and tof.fault_text == "a different chip answers at this address"


def test_unplugged_time_of_flight_sensor_faults_and_recovers_after_replug():
    world, chip, bus, tof = make_tof(distance_mm=80)
    tof.begin()
    assert world.run(tof, bus, ms=50)[-1] == 80 and tof.fault == 0

    chip.unplug()
    unplugged_at = world.t
    values = world.run(tof, bus, ms=3000)
    assert set(values) == {80}  # the last good distance, never a jump
    assert tof.fault == EIO and tof.fault_text

    retries = [t - unplugged_at for t, _ in bus.transactions if t >= unplugged_at]
    gaps = [b - a for a, b in zip(retries, retries[1:], strict=False)]
    assert gaps[:5] == [50 * MS, 100 * MS, 200 * MS, 400 * MS, 800 * MS]  # doubling back-off
    assert set(gaps[5:]) == {1000 * MS}  # capped at 1 s

    chip.plug_in()  # a re-plugged sensor powers up fresh: it needs the full set-up again
    chip.set_distance_mm(42)
    values = world.run(tof, bus, ms=1200)
    assert values[-1] == 42 and tof.fault == 0 and tof.fault_text == ""
    recovered = values.index(42)
    assert recovered < 1000 + 60  # next retry + ~40 one-register set-up steps + a measurement
    assert chip.configured and chip.errors == []


def test_back_off_timing_holds_across_the_ticks_wrap():
    world, chip, bus, tof = make_tof()
    world.t = TICKS_PERIOD - 120 * MS  # ticks_us wraps 120 ms from now
    tof.begin()
    world.run(tof, bus, ms=20)
    chip.unplug()
    unplugged_at = world.t
    world.run(tof, bus, ms=2000)
    retries = [t - unplugged_at for t, _ in bus.transactions if t >= unplugged_at]
    gaps = [b - a for a, b in zip(retries, retries[1:], strict=False)]
    assert gaps == [50 * MS, 100 * MS, 200 * MS, 400 * MS, 800 * MS]
    chip.plug_in()
    assert world.run(tof, bus, ms=1200)[-1] == 80 and tof.fault == 0


def test_time_of_flight_sensor_that_resets_itself_is_noticed_and_set_up_again():
    world, chip, bus, tof = make_tof()
    tof.begin()
    world.run(tof, bus, ms=30)
    chip.power_on_reset()  # a brown-out: the chip answers but no longer measures
    world.run(tof, bus, ms=150)
    assert tof.fault == ENODATA and tof.fault_text == "sensor stopped measuring"
    chip.set_distance_mm(100)
    assert world.run(tof, bus, ms=300)[-1] == 100 and tof.fault == 0
    assert chip.configured


def test_stuck_i2c_bus_is_recovered_after_repeated_timeouts():
    world, chip, bus, tof = make_tof()
    recoveries = []

    def recover():
        recoveries.append(world.t)
        chip.release()  # nine clocks and a STOP free SDA
        return bus

    tof = VL6180X(bus, recover=recover)
    tof.begin()
    world.run(tof, bus, ms=30)
    chip.stuck = True
    world.run(tof, bus, ms=40)
    assert tof.fault == ETIMEDOUT and "stuck" in tof.fault_text and not recoveries
    world.run(tof, bus, ms=500)
    assert len(recoveries) == 1  # after the second timeout in a row
    assert world.run(tof, bus, ms=100)[-1] == 80 and tof.fault == 0


@pytest.mark.parametrize(("held", "tries"), [(0b10, (4, 8)), (0b00, (0, 0))])
def test_a_bus_held_low_is_not_tried_until_its_lines_are_free(held, tries):
    # each try on a stuck bus waits out the I2C timeout (6 ms for a register read on an
    # emulated RP2040) inside the play loop: with the lines readable, only the first is paid.
    # SDA alone low (0b10): a stuck chip, so a recovery per back-off; SCL low too (0b00): no
    # pull-ups, nothing a recovery could do
    world, chip, bus, tof = make_tof()
    lines = {"state": 0b11}
    recoveries = []

    def recover():
        recoveries.append(world.t)  # nine clocks and a STOP, but this chip stays stuck
        return bus

    tof = VL6180X(bus, recover=recover, bus_lines=lambda: lines["state"])
    tof.begin()
    world.run(tof, bus, ms=30)
    chip.stuck = True
    lines["state"] = held
    bus.transactions.clear()
    world.run(tof, bus, ms=3000)
    assert tof.fault == ETIMEDOUT and len(bus.transactions) == 1  # the timeout that told
    assert tries[0] <= len(recoveries) <= tries[1]  # one try per back-off, doubling to 1 s
    chip.release()
    lines["state"] = 0b11
    assert world.run(tof, bus, ms=1200)[-1] == 80 and tof.fault == 0


# -- LPS22 pressure --------------------------------------------------------------------------


def make_pressure(model: str = "LPS22HB", pressure_pa: int = 101_325, clocked: bool = True):
    world = World()
    chip = LPS22Chip(model=model, clock=(lambda: world.t) if clocked else None,
                     pressure_pa=pressure_pa)  # fmt: skip
    bus = FakeI2C(chip)
    return world, chip, bus, LPS22(bus)


@pytest.mark.parametrize("model, ctrl2", [("LPS22HB", 0x10), ("LPS22HH", 0x12)])
def test_pressure_sensor_is_set_up_in_power_down_then_started_at_75_hz(model, ctrl2):
    world, chip, bus, breath = make_pressure(model)
    breath.begin()
    assert breath.chip == LPS22Chip.WHO_AM_I[model]
    assert writes(chip) == [(0x10, b"\x00"), (0x11, bytes([ctrl2])), (0x10, b"\x52")]
    assert world.run(breath, bus, ms=30)[-1] == 101_325
    assert chip.errors == []


@pytest.mark.parametrize("pressure_pa", [26_000, 98_765, 101_325, 104_000, 111_325, 126_000])
def test_pressure_reads_in_whole_pascals(pressure_pa):
    world, chip, bus, breath = make_pressure(pressure_pa=pressure_pa, clocked=False)
    breath.begin()
    value = world.run(breath, bus, ms=3)[-1]
    assert abs(value - pressure_pa) <= 1 and isinstance(value, int)


def test_pressure_conversion_stays_in_small_ints():
    largest_raw = (1 << 23) - 1  # the 24-bit register's extreme
    assert largest_raw * 25 + 512 < 1 << 30


def test_a_squeeze_raises_and_a_sip_lowers_the_pressure_reading():
    world, chip, bus, breath = make_pressure()
    breath.begin()
    rest = world.run(breath, bus, ms=30)[-1]
    chip.set_pressure_pa(rest + 3000)
    assert world.run(breath, bus, ms=30)[-1] == rest + 3000
    chip.set_pressure_pa(rest - 1500)
    assert world.run(breath, bus, ms=30)[-1] == rest - 1500


def test_pressure_sensor_polls_status_and_data_in_one_transaction_every_few_ms():
    world, chip, bus, breath = make_pressure()
    breath.begin()
    chip.log.clear()
    bus.transactions.clear()
    world.run(breath, bus, ms=100)
    reads = [(reg, len(data)) for kind, reg, data in chip.log if kind == "read"]
    assert set(reads) == {(0x27, 4)}  # STATUS, PRESS_OUT_XL, _L, _H together
    assert 20 <= len(bus.transactions) <= 26  # every 4 ms
    assert chip.samples in (7, 8)  # 75 Hz


def test_pressure_defaults_describe_the_span_above_rest():
    breath = LPS22(FakeI2C())
    assert (breath.KIND, breath.FULL_SCALE, breath.REST, breath.invert) == (
        "analog", 10_000, 101_325, False)  # fmt: skip


def test_unplugged_pressure_sensor_faults_and_recovers_after_replug():
    world, chip, bus, breath = make_pressure()
    breath.begin()
    chip.set_pressure_pa(103_000)
    assert world.run(breath, bus, ms=30)[-1] == 103_000
    chip.unplug()
    values = world.run(breath, bus, ms=500)
    assert set(values) == {103_000} and breath.fault == EIO
    chip.plug_in()
    values = world.run(breath, bus, ms=1000)
    assert values[-1] == 103_000 and breath.fault == 0 and breath.fault_text == ""
    assert chip.errors == []


def test_missing_pressure_sensor_reads_standard_atmosphere_with_a_fault():
    bus = FakeI2C()
    breath = LPS22(bus)
    breath.begin()
    assert breath.fault == EIO
    assert World().run(breath, bus, ms=3) == [101_325] * 3


# -- on the real MicroPython VM (WebAssembly, from npm): nothing allocated per read ------------

VM_RUNNER = ROOT / "tests" / "micropython" / "run.mjs"
VM_PACKAGE = ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
VM_ALLOCATION_SCRIPT = """
import gc
import json
import time

from sensors.analog import AnalogSensor
from sensors.lps22 import LPS22
from sensors.switch import Switch
from sensors.vl6180x import VL6180X


class Pin:
    def value(self):
        return 0


class ADC:
    def read_u16(self):
        return 1234


class Bus:
    # a chip that answers a register read with REGS[reg] (else OTHER; None leaves buf as it is),
    # copied by index: a slice would allocate inside the measured loop
    REGS = {}
    OTHER = None

    def writeto(self, addr, buf):
        return len(buf)

    def readfrom_mem_into(self, addr, reg, buf, addrsize=8):
        data = self.REGS.get(reg, self.OTHER)
        i = 0
        while data is not None and i < len(data):
            buf[i] = data[i]
            i += 1


class ToFBus(Bus):
    REGS = {0x000: bytes([0xB4]), 0x016: bytes([1]), 0x04D: bytes([0x01, 0, 0x04]),
            0x062: bytes([80])}


class PressureBus(Bus):
    REGS = {0x0F: bytes([0xB3])}
    OTHER = bytes([0x01, 0x00, 0x50, 0x3F])


class DeadBus:
    def writeto(self, addr, buf):
        raise OSError(5)

    def readfrom_mem_into(self, addr, reg, buf, addrsize=8):
        raise OSError(5)


now = [0]


def ticker(sensor):
    def tick():
        now[0] = time.ticks_add(now[0], 1000)
        sensor.read(now[0])

    return tick


def nothing():
    pass


def net_alloc(fn, n):
    i = 0
    while i < 50:
        fn()
        i += 1
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    i = 0
    while i < n:
        fn()
        i += 1
    used = gc.mem_alloc() - before
    gc.enable()
    return used


sensors = (
    ("switch", Switch(Pin())),
    ("analog", AnalogSensor(ADC(), oversample=4)),
    ("vl6180x", VL6180X(ToFBus())),
    ("lps22", LPS22(PressureBus())),
    ("vl6180x_unplugged", VL6180X(DeadBus())),
)
base = net_alloc(nothing, 1000)
out = {}
for name, s in sensors:
    s.begin()
    out[name] = {"bytes_per_1000_reads": net_alloc(ticker(s), 1000) - base,
                 "value": s.read(now[0]), "fault": s.fault}
print(json.dumps(out))
"""


@pytest.mark.skipif(
    shutil.which("node") is None or not VM_RUNNER.exists() or not VM_PACKAGE.exists(),
    reason="needs node and the MicroPython VM from npm (make setup)",
)
def test_healthy_sensors_allocate_nothing_per_read_on_real_micropython(tmp_path):
    script = tmp_path / "check_sensor_alloc.py"
    script.write_text(VM_ALLOCATION_SCRIPT)
    done = subprocess.run(
        ["node", str(VM_RUNNER), str(script), "--path", str(ROOT / "firmware")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("switch", "analog", "vl6180x", "lps22"):
        assert result[name]["bytes_per_1000_reads"] == 0, (name, result[name])
        assert result[name]["fault"] == 0, (name, result[name])
    assert result["vl6180x"]["value"] == 80
    assert result["lps22"]["value"] == 101_300  # raw 0x3F5000 = 4149248 / 4096 hPa
    assert result["vl6180x_unplugged"]["fault"] == EIO
    assert result["vl6180x_unplugged"]["value"] == FAR
