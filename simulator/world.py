"""The world around the simulated Pico: what each sensor reads, millisecond by millisecond,
and the faults that happen to it.

Usage: world = World(clock, instrument); world.load_trace(load_csv("presses.csv"))
       Unplug("hand", at_s=2.0, until_s=3.0).apply(world)

Each instrument channel gets an `Input`: a per-millisecond list of raw values (switch 0/1 =
released/pressed, ADC `read_u16` codes, distance in mm, pressure in Pa) that the fakes index by
virtual millisecond, so a read costs a list lookup and nothing else.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host_tools.firmware import BOARDS_DIR, FIRMWARE_DIR  # in a checkout or an installed wheel
from simulator import chips
from simulator.chips import SIMULATED
from simulator.context import SimulatedReset

_REGISTRIES: dict[tuple[str, float], dict[str, dict[str, Any]]] = {}


def sensor_registry(firmware_dir: str | Path = FIRMWARE_DIR) -> dict[str, dict[str, Any]]:
    """The firmware's sensor registry (`SENSORS` of firmware/sensors/__init__.py) by type:
    kind, unit, full scale, wiring and default I2C address, read from the firmware folder that
    runs (a test may run a copy with an extra type; a folder without one, the repository's)."""
    path = Path(firmware_dir).resolve() / "sensors" / "__init__.py"
    if not path.exists():
        path = FIRMWARE_DIR / "sensors" / "__init__.py"
    key = (str(path), path.stat().st_mtime)
    registry = _REGISTRIES.get(key)
    if registry is None:
        spec = importlib.util.spec_from_file_location("_attune_sensor_registry", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # imports only sys: no driver, no MicroPython name
        registry = {entry["type"]: entry for entry in module.SENSORS}
        _REGISTRIES[key] = registry
    return registry


# Per sensor type: (rest value, a full press) and the unit, in the sensor's raw unit (views of
# chips.SIMULATED and the firmware's registry, for the command line and plots).
SENSOR_RANGES: dict[str, tuple[int, int]] = {t: (s.rest, s.press) for t, s in SIMULATED.items()}
UNITS: dict[str, str] = {t: e["unit"] for t, e in sensor_registry().items()}

PWRON_RESET = 1
WDT_RESET = 3
_LIST_MAX = 600_000  # longer traces (10+ minutes) are stored as compact int arrays


class Input:
    """One channel's raw signal, indexed by virtual millisecond; past its end the last value
    holds. A live input (interactive play, a stuck ADC) has n == 0 and reads values[-1]."""

    __slots__ = ("name", "sensor", "values", "n", "rest", "full", "listeners", "_trace")

    def __init__(self, name: str, sensor: str) -> None:
        self.name = name
        self.sensor = sensor
        sim = SIMULATED.get(sensor)
        self.rest, self.full = (sim.rest, sim.press) if sim is not None else (0, 1)
        self.values: list[int] | array = [self.rest]
        self.n = 0
        self.listeners: list[Callable[[], None]] = []
        self._trace: tuple[Any, int] | None = None

    def at(self, ms: int) -> int:
        return self.values[ms] if ms < self.n else self.values[-1]

    def set_trace(self, values: list[int]) -> None:
        if not values:
            raise ValueError(f"The trace for '{self.name}' is empty.")
        self.values = values if len(values) <= _LIST_MAX else array("i", values)
        self.n = len(values)

    def hold(self, value: int) -> None:
        """Read `value` from now on (until `release`), whatever the trace says."""
        if self._trace is None:
            self._trace = (self.values, self.n)
        self.values = [int(value)]
        self.n = 0
        for notify in self.listeners:
            notify()

    def release(self) -> None:
        """Back to the trace after a `hold`."""
        if self._trace is not None:
            self.values, self.n = self._trace
            self._trace = None
            for notify in self.listeners:
                notify()

    def set_live(self, value: int) -> None:
        """Interactive play: the input reads `value` until set again (thread-safe enough: one
        list item store)."""
        if self.n:
            self.values = [int(value)]
            self.n = 0
        else:
            self.values[0] = int(value)
        for notify in self.listeners:
            notify()

    def next_change(self, after_ms: int) -> int | None:
        """First millisecond after `after_ms` whose value differs, or None (for pin IRQs)."""
        values, n = self.values, self.n
        if after_ms + 1 >= n:
            return None
        current = values[max(0, after_ms)]
        for ms in range(after_ms + 1, n):
            if values[ms] != current:
                return ms
        return None


class ChipSlot:
    """A simulated I2C chip on a bus, fed from its channel's input before each transaction."""

    __slots__ = ("chip", "input", "setter", "last_ms")

    def __init__(self, chip: Any, inp: Input | None, setter: Callable[[int], None] | None):
        self.chip = chip
        self.input = inp
        self.setter = setter
        self.last_ms = -1

    def refresh(self, ms: int) -> None:
        if ms != self.last_ms and self.setter is not None:
            self.last_ms = ms
            inp: Any = self.input  # there is one whenever there is a setter
            self.setter(inp.values[ms] if ms < inp.n else inp.values[-1])


def _int(value: Any) -> int:
    return int(value, 0) if isinstance(value, str) else int(value)


def gpio_number(pin: Any) -> int | None:
    """A GPIO number from 15, "15", "GP15" or "LED" (the Pico's LED is GPIO 25)."""
    if pin is None:
        return None
    if isinstance(pin, int):
        return pin
    text = str(pin).strip().upper()
    if text == "LED":
        return 25
    if text.startswith("GP"):
        text = text[2:]
    return int(text)


def load_json(path: str | Path) -> dict[str, Any]:
    with open(path) as f:
        return json.load(f)


def find_instrument(
    name_or_path: str | Path | dict[str, Any], boards_dir: Path = BOARDS_DIR
) -> dict[str, Any]:
    """An instrument description from a dict, a .json path, or a name under
    boards/instruments/."""
    if isinstance(name_or_path, dict):
        return name_or_path
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = Path(boards_dir) / "instruments" / f"{name_or_path}.json"
    if not path.exists():
        folder = Path(boards_dir) / "instruments"
        known = sorted(p.stem for p in folder.glob("*.json")) if folder.exists() else []
        raise FileNotFoundError(
            f"No instrument '{name_or_path}' ({path}); known instruments: "
            f"{', '.join(known) or 'none yet'}."
        )
    return load_json(path)


def find_board(
    name_or_path: str | Path | dict[str, Any], boards_dir: Path = BOARDS_DIR
) -> dict[str, Any]:
    """A board description from a dict, a .json path, or a name under boards/."""
    if isinstance(name_or_path, dict):
        return name_or_path
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = Path(boards_dir) / f"{name_or_path}.json"
    if not path.exists():
        raise FileNotFoundError(f"No board file {path}.")
    return load_json(path)


def load_csv(path: str | Path) -> dict[str, list[int]]:
    """Read a trace CSV (`time_ms`, then one column per channel, raw units) into one value per
    millisecond per channel; each value holds until the next row, an empty cell keeps the
    previous value."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or not rows[0] or rows[0][0].strip() != "time_ms":
        raise ValueError(f"{path}: the first column must be 'time_ms'.")
    names = [n.strip() for n in rows[0][1:]]
    times: list[int] = []
    cols: list[list[int | None]] = [[] for _ in names]
    last_t = -1
    for lineno, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        try:
            t = int(round(float(row[0])))
        except ValueError:
            raise ValueError(
                f"{path} line {lineno}: time_ms '{row[0]}' is not a number."
            ) from None
        if t < last_t:
            raise ValueError(f"{path} line {lineno}: time_ms goes back from {last_t} to {t}.")
        last_t = t
        times.append(t)
        for i in range(len(names)):
            cell = row[i + 1].strip() if i + 1 < len(row) else ""
            try:
                cols[i].append(int(round(float(cell))) if cell else None)
            except ValueError:
                raise ValueError(
                    f"{path} line {lineno}: '{cell}' in column '{names[i]}' is not a number."
                ) from None
    if not times:
        raise ValueError(f"{path}: no rows after the header.")
    length = times[-1] + 1
    out: dict[str, list[int]] = {}
    for name, col in zip(names, cols, strict=True):
        values: list[int] = []
        held = next((v for v in col if v is not None), 0)
        for k, t in enumerate(times):
            value = col[k]
            if value is not None:
                held = value
            end = times[k + 1] if k + 1 < len(times) else length
            if len(values) < t:  # rows before the first one: the first value
                values.extend([held] * (t - len(values)))
            values.extend([held] * (end - t))
        out[name] = values
    return out


def write_csv(path: str | Path, columns: dict[str, list[int]]) -> None:
    """Write per-millisecond columns as a trace CSV (a row only where a value changes)."""
    names = list(columns)
    n = max(len(c) for c in columns.values())
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time_ms", *names])
        prev = None
        for ms in range(n):
            row = [columns[k][ms] if ms < len(columns[k]) else columns[k][-1] for k in names]
            if row != prev or ms == n - 1:
                w.writerow([ms, *row])
                prev = row


class World:
    """The inputs, buses and sinks the fakes talk to, for one instrument; outlives resets."""

    def __init__(
        self,
        clock: Any,
        instrument: dict[str, Any],
        board: dict[str, Any] | None = None,
        firmware_dir: str | Path = FIRMWARE_DIR,
    ) -> None:
        self.clock = clock
        self.registry = sensor_registry(firmware_dir)
        self.instrument = instrument
        self.board = board or {}
        self.channels: list[dict[str, Any]] = list(instrument.get("channels", []))
        self.inputs: dict[str, Input] = {}
        self.pins: dict[int, tuple[Input, int]] = {}  # gpio -> (switch input, pressed level)
        self.adcs: dict[int, Input] = {}  # ADC channel -> input
        self.buses: dict[int, dict[int, ChipSlot]] = {}
        self.stuck_buses: set[int] = set()
        self.bus_pins: dict[int, tuple[int, int]] = {}  # bus -> (sda gpio, scl gpio)
        self._recoverable: dict[int, bool] = {}
        self._scl_clocks: dict[int, int] = {}
        self.chips: dict[str, Any] = {}
        self.warnings: list[str] = []
        # USB: whether the host reads the MIDI endpoint, and the interfaces of the current boot.
        self.usb_host_reading = True
        self.usb_enumerate_ms = 20
        # What USB MIDI costs the firmware (estimates: ARCHITECTURE.md measured about 0.9 ms
        # per note_on, which is one send_event() plus one transfer start).
        self.usb_send_cost_us = 400
        self.usb_xfer_cost_us = 500
        # usb.device's `_dev._usbd` (machine.USBDevice), which the firmware's ports call
        # directly; False models a usb-device release without it (they fall back)
        self.usb_low_level = True
        self.gc_collect_us = 2000  # a full gc.collect() with a small live heap
        self.gc_times: list[float] = []  # virtual ms at which each gc.collect() began
        self.bootsel_pressed = False
        self.console = sys.stderr  # where the fakes' own notices go
        self.usb_interfaces: list[Any] = []
        self.midi_sinks: list[Callable[[int, int, int, int, int], None]] = []
        self.din_sinks: list[Callable[[int, bytes], None]] = []
        self.tone_events: list[tuple[float, int, int, int]] = []  # (t_ms, gpio, freq, duty_u16)
        self.serial: Any = None  # simulator.serialport.SerialPort, set by the Simulation
        self.kbd_intr_char = 3
        self.wdt: dict[str, int] | None = None
        self.reset_cause = PWRON_RESET
        self.boots = 0
        self.missing_modules: set[str] = set()  # top-level modules not on the flash
        for ch in self.channels:
            self._wire(ch)

    # -- wiring -------------------------------------------------------------------------------

    def _wire(self, ch: dict[str, Any]) -> None:
        name, sensor = ch.get("name"), ch.get("sensor")
        spec = self.registry.get(sensor)  # type: ignore[arg-type]
        sim = SIMULATED.get(sensor)  # type: ignore[arg-type]
        if not name or spec is None or sim is None:
            self.warnings.append(f"Channel {ch!r}: unknown sensor '{sensor}', not simulated.")
            return
        inp = Input(name, str(sensor))
        self.inputs[name] = inp
        wiring = spec["wiring"]
        if wiring == "gpio":
            gpio = gpio_number(ch.get("pin"))
            if gpio is None:
                self.warnings.append(f"Switch '{name}' has no pin.")
                return
            # A switch wired to ground (with a pull-up) reads 0 when pressed: the usual,
            # active-low wiring unless the channel says otherwise (as firmware/hardware.py).
            to_ground = ch.get("active_low", str(ch.get("pull", "up")) != "down")
            self.pins[gpio] = (inp, 0 if to_ground else 1)
        elif wiring == "adc":
            adc = ch.get("adc")
            if adc is None:
                gpio = gpio_number(ch.get("pin"))
                adc = gpio - 26 if gpio is not None and 26 <= gpio <= 29 else None
            if adc is None:
                self.warnings.append(f"Analog channel '{name}' has no ADC pin (26-28).")
                return
            self.adcs[_int(adc)] = inp
        elif wiring == "i2c" and sim.chip is not None:
            self._attach_chip(ch, inp, spec, sim)
        else:
            self.warnings.append(
                f"Channel '{name}': the simulator cannot wire '{sensor}' "
                f"({wiring}); not simulated."
            )

    def _attach_chip(
        self, ch: dict[str, Any], inp: Input, spec: dict[str, Any], sim: chips.Simulated
    ) -> None:
        assert sim.chip is not None
        address = _int(ch["address"]) if ch.get("address") is not None else spec["address"]
        chip = sim.chip(address=address, clock=self.clock.peek_us)
        setter = getattr(chip, sim.feed)
        bus = self.bus_of(ch)
        sda, scl = gpio_number(ch.get("sda")), gpio_number(ch.get("scl"))
        if sda is not None and scl is not None:
            self.bus_pins[bus] = (sda, scl)
        slots = self.buses.setdefault(bus, {})
        if chip.address in slots:
            self.warnings.append(f"Two chips at address {chip.address:#04x} on I2C bus {bus}.")
        slots[chip.address] = ChipSlot(chip, inp, setter)
        self.chips[inp.name] = chip

    def bus_of(self, ch: dict[str, Any]) -> int:
        """The rp2 I2C block a channel is on: its "bus", else from its SDA pin (GPIO n with
        n % 4 in (0, 1) is I2C0, (2, 3) is I2C1)."""
        if ch.get("bus") is not None:
            return _int(ch["bus"])
        sda = gpio_number(ch.get("sda"))
        return (sda >> 1) & 1 if sda is not None else 0

    def attach_chip(
        self,
        bus: int,
        chip: Any,
        channel: str | None = None,
        setter: Callable[[int], None] | None = None,
    ) -> ChipSlot:
        """Put any object with `address`, `write`, `read`, `connected` on a bus (tests)."""
        slot = ChipSlot(chip, self.inputs.get(channel) if channel else None, setter)
        if slot.input is None:
            slot.setter = None
        self.buses.setdefault(bus, {})[chip.address] = slot
        return slot

    # -- inputs -------------------------------------------------------------------------------

    def load_trace(self, columns: dict[str, list[int]]) -> None:
        unknown = [k for k in columns if k not in self.inputs]
        if unknown:
            raise ValueError(
                f"The trace has columns {unknown} that are not channels of this "
                f"instrument (channels: {list(self.inputs)})."
            )
        for name, values in columns.items():
            self.inputs[name].set_trace(values)

    @property
    def trace_ms(self) -> int:
        return max((inp.n for inp in self.inputs.values()), default=0)

    def make_live(self) -> None:
        """Interactive play: every input holds its rest value until a key changes it."""
        for inp in self.inputs.values():
            inp.set_live(inp.rest)

    def set_level(self, name: str, fraction: float) -> int:
        """Interactive play: set a channel between rest (0.0) and a full press (1.0)."""
        inp = self.inputs[name]
        fraction = min(1.0, max(0.0, fraction))
        value = int(round(inp.rest + (inp.full - inp.rest) * fraction))
        inp.set_live(value)
        return value

    # -- I2C bus faults -----------------------------------------------------------------------

    def stick_bus(self, bus: int, recoverable: bool = True) -> None:
        """SDA held low: every transaction times out. A chip stuck mid-byte (`recoverable`) lets
        go after the firmware clocks SCL 9 times as a GPIO; a short does not."""
        self.stuck_buses.add(bus)
        self._recoverable[bus] = recoverable
        self._scl_clocks[bus] = 0

    def free_bus(self, bus: int) -> None:
        self.stuck_buses.discard(bus)
        for slot in self.buses.get(bus, {}).values():
            if getattr(slot.chip, "stuck", False):
                slot.chip.release()

    def bus_of_pin(self, gpio: int) -> tuple[int | None, int | None]:
        """(bus whose SDA this pin is, bus whose SCL this pin is), for the Pin fake."""
        sda_bus = scl_bus = None
        for bus, (sda, scl) in self.bus_pins.items():
            if gpio == sda:
                sda_bus = bus
            if gpio == scl:
                scl_bus = bus
        return sda_bus, scl_bus

    def scl_driven(self, bus: int, level: int) -> None:
        """The firmware drives a bus's SCL pin as a GPIO (bus recovery): count falling edges."""
        if bus in self.stuck_buses and level == 0 and self._recoverable.get(bus, True):
            self._scl_clocks[bus] = self._scl_clocks.get(bus, 0) + 1
            if self._scl_clocks[bus] >= 9:
                self.free_bus(bus)

    # -- outputs from the fakes ---------------------------------------------------------------

    def midi_out(self, t_us: int, cin: int, b0: int, b1: int, b2: int) -> None:
        for sink in self.midi_sinks:
            sink(t_us, cin, b0, b1, b2)

    def din_out(self, t_us: int, data: bytes) -> None:
        for sink in self.din_sinks:
            sink(t_us, data)

    # -- faults -------------------------------------------------------------------------------

    def schedule(self, faults: Iterable[Fault]) -> None:
        for fault in faults:
            fault.apply(self)


@dataclass(kw_only=True)
class Fault:
    """Something that happens to the instrument at a virtual time (and maybe ends)."""

    at_s: float
    until_s: float | None = None

    def apply(self, world: World) -> None:
        clock = world.clock
        clock.call_at(int(self.at_s * 1e6), self.start, world)
        if self.until_s is not None:
            clock.call_at(int(self.until_s * 1e6), self.end, world)

    def start(self, world: World) -> None:
        raise NotImplementedError

    def end(self, world: World) -> None:
        pass


def _chip(world: World, channel: str) -> Any:
    if channel not in world.chips:
        raise ValueError(
            f"'{channel}' is not an I2C sensor of this instrument "
            f"(I2C sensors: {list(world.chips) or 'none'})."
        )
    return world.chips[channel]


@dataclass(kw_only=True)
class Unplug(Fault):
    """An I2C sensor's cable comes out (reads fail with EIO) and, at `until_s`, goes back."""

    channel: str

    def start(self, world: World) -> None:
        _chip(world, self.channel).connected = False

    def end(self, world: World) -> None:
        _chip(world, self.channel).connected = True


@dataclass(kw_only=True)
class StickADC(Fault):
    """An analog input sticks at a rail ("high" = 65535, "low" = 0) or a value: a broken wire
    or a short."""

    channel: str
    value: str | int = "high"

    def start(self, world: World) -> None:
        v = {"high": 65535, "low": 0}.get(self.value, self.value)  # type: ignore[arg-type]
        world.inputs[self.channel].hold(int(v))

    def end(self, world: World) -> None:
        world.inputs[self.channel].release()


@dataclass(kw_only=True)
class StuckBus(Fault):
    """An I2C bus hangs (SDA held low): every transaction times out with ETIMEDOUT. A chip
    stuck mid-byte (`recoverable`, the usual case) lets go when the firmware clocks SCL 9
    times; a short (recoverable=False) lasts until `until_s`."""

    bus: int | None = None
    channel: str | None = None
    recoverable: bool = True

    def _bus(self, world: World) -> int:
        if self.bus is not None:
            return self.bus
        for ch in world.channels:
            if ch.get("name") == self.channel:
                return world.bus_of(ch)
        return 0

    def start(self, world: World) -> None:
        world.stick_bus(self._bus(world), self.recoverable)

    def end(self, world: World) -> None:
        world.free_bus(self._bus(world))


@dataclass(kw_only=True)
class SerialInput(Fault):
    """Bytes arriving on the USB serial port at a virtual time (a host typing a command)."""

    data: bytes = b""

    def start(self, world: World) -> None:
        world.serial.inject(self.data)


@dataclass(kw_only=True)
class FloodSerial(Fault):
    """A host floods the serial port: `nbytes` of junk at `bytes_per_ms` (USB full speed can
    deliver about 1000 bytes a millisecond)."""

    nbytes: int = 100_000
    bytes_per_ms: int = 1000
    data: bytes = b"flood-" * 10 + b"\n"

    def start(self, world: World) -> None:
        self._left = self.nbytes
        self._feed(world)

    def _feed(self, world: World) -> None:
        n = min(self._left, self.bytes_per_ms)
        if n <= 0:
            return
        self._left -= n
        if self._left > 0:
            world.clock.call_later(1000, self._feed, world)
        chunk = (self.data * (n // len(self.data) + 1))[:n]
        world.serial.inject(chunk, drop_when_full=True)


@dataclass(kw_only=True)
class PowerCut(Fault):
    """The power goes at `at_s` and comes back `off_s` later: the firmware stops wherever it is,
    the flash folder stays, and the board boots from scratch."""

    off_s: float = 0.5

    def start(self, world: World) -> None:
        world.reset_cause = PWRON_RESET
        world.clock.stop(SimulatedReset("power cut", off_us=int(self.off_s * 1e6)))


@dataclass(kw_only=True)
class StopUSBHost(Fault):
    """The computer stops reading USB MIDI (busy, asleep): the device's TX buffer fills up."""

    def start(self, world: World) -> None:
        world.usb_host_reading = False

    def end(self, world: World) -> None:
        world.usb_host_reading = True


@dataclass(kw_only=True)
class Readdress(Fault):
    """An I2C sensor answers at another address (its ADDR pin or a different breakout)."""

    channel: str
    address: int = 0x30

    def start(self, world: World) -> None:
        chip = _chip(world, self.channel)
        for slots in world.buses.values():
            for addr, slot in list(slots.items()):
                if slot.chip is chip:
                    del slots[addr]
                    chip.address = self.address
                    slots[self.address] = slot
                    return


# What `mip install` puts in /lib, by the top-level module the firmware imports.
LIBRARIES = {"usb-device-midi": "usb"}


@dataclass(kw_only=True)
class MissingLibrary(Fault):
    """A micropython-lib package is not on the flash (from power-up: `at_s` is ignored), so
    importing it fails as on a Pico where `mip install` never ran."""

    package: str = "usb-device-midi"

    def apply(self, world: World) -> None:
        world.missing_modules.add(LIBRARIES.get(self.package, self.package))


def parse_fault(text: str) -> Fault:
    """A fault from the command line: KIND[:ARG]@START[-END], e.g. `unplug:hand@2-3.5`,
    `stick:pad=low@1`, `stuck-bus:0@2-3` (`sda-short:0@2-3` cannot be recovered), `flood@1`,
    `power-cut@4`, `usb-stop@2-3`, `serial:hello@0.5`, `address:hand=0x30@0`,
    `missing-lib:usb-device-midi@0`."""
    head, _, when = text.partition("@")
    if not when:
        raise ValueError(f"Fault '{text}' needs a time: KIND[:ARG]@START[-END] (seconds).")
    start, _, end = when.partition("-")
    at_s, until_s = float(start), float(end) if end else None
    kind, _, arg = head.partition(":")
    if kind == "unplug":
        return Unplug(channel=arg, at_s=at_s, until_s=until_s)
    if kind == "stick":
        name, _, value = arg.partition("=")
        val: str | int = value or "high"
        if val not in ("high", "low"):
            val = int(val)
        return StickADC(channel=name, value=val, at_s=at_s, until_s=until_s)
    if kind in ("stuck-bus", "sda-short"):
        return StuckBus(
            bus=int(arg or 0), at_s=at_s, until_s=until_s, recoverable=kind == "stuck-bus"
        )
    if kind == "flood":
        return FloodSerial(at_s=at_s, nbytes=int(arg) if arg else 100_000)
    if kind == "power-cut":
        return PowerCut(at_s=at_s, off_s=(until_s - at_s) if until_s else 0.5)
    if kind == "usb-stop":
        return StopUSBHost(at_s=at_s, until_s=until_s)
    if kind == "serial":
        return SerialInput(at_s=at_s, data=arg.encode() + b"\n")
    if kind == "address":
        name, _, value = arg.partition("=")
        return Readdress(channel=name, address=int(value or "0x30", 0), at_s=at_s)
    if kind == "missing-lib":
        return MissingLibrary(package=arg or "usb-device-midi", at_s=at_s)
    raise ValueError(
        f"Unknown fault '{kind}'; known: unplug, stick, stuck-bus, sda-short, "
        "flood, power-cut, usb-stop, serial, address, missing-lib."
    )


def warn(message: str) -> None:
    print(f"simulator: {message}", file=sys.stderr)
