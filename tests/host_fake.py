"""A simulated Attune on a fake USB serial port: the real firmware console (firmware/console.py
and firmware/commands/) on a Kit instrument (tests/console_kit.py), in-process, on a virtual
clock that moves on while the host waits for something to read.

Usage: port = FakeSerial(FakeAttune()); Client(port).hello()

Nothing here speaks the protocol itself: every reply and `* ` line comes from the firmware.
What the fake adds is the world around it, and a few explicit knobs (marked HOOK) for things a
test cannot get from the real firmware in a moment:
- `mode`: a board that is not Attune ("repl": plain MicroPython, "silent"), or one that answers
  `hello` and then nothing ("mute"); `proto`: announce another protocol version in `hello`;
  `page`: another `params` page size (commands/params.py's PAGE, set while a request runs).
- `faults`: sensor name -> fault text, applied to the simulated sensors before each request.
- while monitoring, a short performance: the pad is pressed once a second (C4 at velocity 96,
  then 109: see PRESS_VELOCITY)
  and the hand sensor stops answering after 0.6 s, until `monitor off`.
- `calibration_outcome`: "result" (the simulated person follows the steps on a noisy pad; the
  firmware's calibration suggests range 58, sensitivity 82), "hang" (the instrument's clock
  stands still while calibrating, so it never finishes) or "failed" (HOOK: the run is failed
  with "The sensor stopped answering." and the firmware-shaped `* calibrate` line is written).
- `before_reply`: HOOK: `* ` lines queued on the port just before the next reply.
- `tags`: False makes it an older firmware that knows no request tags (HOOK: the console's
  protocol.split_tag is bypassed while a request runs, so `@a7 hello` is an unknown command).
- `in_flight`: bytes on their way from the device to the host (replies to an earlier
  program's requests): a port cannot clear them; they arrive with the next bytes the host
  writes. `inbuf` is the device's own half-read line: it outlives the host program that wrote it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time

import console  # noqa: F401  (first: it registers the commands in `help`'s order)
import protocol
from commands import params as params_cmd
from console_kit import Kit
from store import Store
from system import System

from host_tools import firmware

settings = firmware.module("settings")

_TYPES = {
    settings.INT: "int",
    settings.CHOICE: "choice",
    settings.ONOFF: "onoff",
    settings.NOTES: "notes",
}

REPL_ERROR = (
    'Traceback (most recent call last):\r\n  File "<stdin>", line 1, in <module>\r\n'
    "NameError: name '{0}' isn't defined\r\n>>> "
)

IDLE_STEP_MS = 25  # virtual time that passes each time the host finds nothing to read
PRESS_TOP = 39000  # the pad pressed from rest to here over PRESS_MS plays C4 at velocity...
PRESS_MS = 16
# ...96 the first time, before anything is learned, and 109 once auto-ranging has raised the
# trigger to 3/8 of that press (docs/sensing.md): crossing higher up the same ramp, the press's
# approach speed (hence velocity) is measured over more readings
PRESS_VELOCITY_FIRST, PRESS_VELOCITY = 96, 109
CAL_WOBBLE = 1044  # the pad's noise (alternating +-) while calibrating, and the press above
CAL_PRESS = 32656  # rest: the firmware then suggests range 58 and sensitivity 82
HAND_FAULT = "not answering (I2C error)"


def schema_rows() -> list[dict]:
    """The schema as `params` should list it (from firmware/settings.py, written here again
    so the test checks the firmware's paging against it)."""
    rows = []
    for scope, table in (("global", settings.GLOBAL), ("channel", settings.CHANNEL)):
        for row in table:
            key, kind, low, high, default, unit, text = row
            item = {
                "key": key,
                "scope": scope,
                "type": _TYPES[kind],
                "unit": unit,
                "default": settings.format_value(row, default),
                "help": text,
            }
            if kind in (settings.CHOICE, settings.ONOFF):
                item["choices"] = list(low)
            else:
                item["min"], item["max"] = low, high
            rows.append(item)
    return rows


class ShimSystem(System):
    """The board as the console sees it: the maintenance flag and restarts are recorded."""

    def __init__(self, *args: str) -> None:
        super().__init__(*args)
        self.maintenance = False
        self.reboots = 0

    def request_maintenance(self) -> None:
        self.maintenance = True

    def reboot(self) -> None:
        self.reboots += 1


class FakeAttune:
    """The device side: the real console on a simulated instrument. `mode`: "attune", "repl"
    (plain MicroPython), "silent", or "mute" (answers hello, then nothing)."""

    def __init__(
        self,
        instrument: str = "combo",
        title: str = "Combo",
        channels: tuple[str, ...] = ("switch", "pad", "hand"),
        board: str = "pico",
        firmware_version: str = "0.1.0",
        proto: int = 1,
        page: int = 8,
        mode: str = "attune",
        tags: bool = True,
    ) -> None:
        self.channels = channels
        self.tags = tags
        self.in_flight = bytearray()
        self.inbuf = bytearray()
        self.proto = proto
        self.page = page
        self.mode = mode
        self.flash = tempfile.mkdtemp(prefix="attune-fake-")
        store = Store(
            firmware_version, folder=self.flash + "/profiles", active=self.flash + "/active"
        )
        self.system = ShimSystem(firmware_version, board, instrument, title)
        self.kit = Kit(names=channels, store=store, system=self.system)
        self.kit.play(300)  # baselines learned
        self.console = self.kit.console
        self.settings = self.kit.settings
        self.faults: dict[str, str] = {}
        self.calibration_outcome = "result"  # or "failed", or "hang" (never finishes)
        self.requests: list[str] = []  # every line received, without its request tag
        self.wire: list[str] = []  # ... and exactly as received
        self.before_reply: list[str] = []
        self._panics0 = self.kit.panics
        self._monitor_t0: int | None = None
        self._cal: object = None  # the calibration run the simulated person follows
        self._cal_t0 = 0

    def __del__(self) -> None:
        shutil.rmtree(self.flash, ignore_errors=True)

    # -- what tests look at ---------------------------------------------------------------

    @property
    def profiles(self) -> dict[str, dict]:
        """Profiles on the simulated flash: name -> values."""
        st = self.kit.store
        return {name: st.load(name)[0] for name in st.names()}

    @property
    def active(self) -> str | None:
        return self.kit.profiles.name

    @active.setter
    def active(self, name: str | None) -> None:
        self.kit.profiles.name = name

    @property
    def monitor_rate(self) -> int:
        return self.console.telemetry.monitor_hz

    @property
    def panicked(self) -> int:
        return self.kit.panics - self._panics0

    @property
    def maintenance(self) -> bool:
        return self.system.maintenance

    # -- one line in, lines out -----------------------------------------------------------

    def handle(self, raw: bytes) -> list[str]:
        line = raw.decode("ascii", "replace").rstrip("\r")
        self.wire.append(line)
        if self.tags and line.startswith("@") and " " in line:
            line = line.split(" ", 1)[1]  # `requests` are the lines without their tags
        self.requests.append(line)
        if self.mode == "silent":
            return []
        if self.mode == "repl":
            word = line.split(" ")[0] if line else ""
            return [line] + ([REPL_ERROR.format(word)] if word else [])
        if self.mode == "mute" and line != "hello":
            return []
        self._world()
        self.kit.play(1)  # the sensors as they are now reach the instrument
        params_cmd.PAGE, page = self.page, params_cmd.PAGE
        split_tag = protocol.split_tag
        if not self.tags:
            protocol.split_tag = lambda line: (None, line, None)  # HOOK: no tags
        try:
            reply = self.console.handle(raw)
        finally:
            params_cmd.PAGE = page
            protocol.split_tag = split_tag
        if reply is None:
            return []
        at = reply.find('OK {"firmware"')
        if self.proto != protocol.VERSION and at >= 0:
            doc = json.loads(reply[at + 3 :])
            doc["protocol"] = self.proto
            reply = reply[:at] + protocol.ok(doc)
        out = list(self.before_reply) + self.take_lines() + [reply]
        self.before_reply.clear()
        if self.console.cal is not None and self.console.cal is not self._cal:
            self._cal = self.console.cal
            self._cal_t0 = self.kit.t_ms
        return out

    def take_lines(self) -> list[str]:
        lines = list(self.kit.lines)
        self.kit.lines.clear()
        return lines

    def idle(self, ms: int = IDLE_STEP_MS) -> list[str]:
        """The host found nothing to read: time moves on; returns the `* ` lines written."""
        if self.mode != "attune":
            return []
        cal = self.console.cal
        if cal is not None and cal.running and cal is self._cal:
            if self.calibration_outcome == "hang":
                return self.take_lines()  # the clock stands still: it never finishes
            if self.calibration_outcome == "failed":  # HOOK (see the module docstring)
                change = cal.fail("The sensor stopped answering.")
                self.kit.lines.append(
                    protocol.notice("calibrate", cal.name + " " + change[0] + " " + change[1])
                )
                return self.take_lines()
        for _ in range(ms):
            self._world()
            self.kit.tick()
        return self.take_lines()

    def _world(self) -> None:
        """The simulated sensors at this millisecond: faults, the monitor performance, the
        person following a calibration."""
        kit = self.kit
        t = kit.t_ms
        hand_fault = False
        if self.monitor_rate:
            if self._monitor_t0 is None:
                self._monitor_t0 = t
            phase = (t - self._monitor_t0) % 1000
            if "pad" in kit.sensors:
                rest = kit.REST["pad"]
                k = phase - 100
                top = rest + (PRESS_TOP - rest) * (k + 1) // PRESS_MS
                kit.sensors["pad"].value = rest if k < 0 or k >= 300 else min(top, PRESS_TOP)
            hand_fault = t - self._monitor_t0 >= 600
        else:
            self._monitor_t0 = None
        cal = self.console.cal
        if cal is not None and cal is self._cal and cal.running:
            s = kit.sensors[cal.name]
            rel = t - self._cal_t0
            wobble = CAL_WOBBLE if rel % 2 else -CAL_WOBBLE
            moving = cal.phase == "move" and (rel // 400) % 2 == 1
            s.value = kit.REST[cal.name] + (CAL_PRESS if moving else 0) + wobble
        elif cal is not None and cal is self._cal:
            kit.sensors[cal.name].value = kit.REST[cal.name]
        for name, sensor in kit.sensors.items():
            text = self.faults.get(name) or (HAND_FAULT if name == "hand" and hand_fault else "")
            sensor.fault = 1 if text else 0
            sensor.fault_text = text


class FakeSerial:
    """The host side of the fake's USB serial port: pyserial's read/write/in_waiting/timeout."""

    def __init__(self, dev: FakeAttune, timeout: float = 0.01) -> None:
        self.dev = dev
        self.timeout = timeout
        self.out = bytearray()
        self.inbuf = dev.inbuf
        self.is_open = True
        self.written = bytearray()

    def _put(self, lines: list[str]) -> None:
        for line in lines:
            self.out += line.encode() + (b"" if line.endswith(">>> ") else b"\r\n")

    def write(self, data: bytes) -> int:
        self.written += data
        self.out += self.dev.in_flight
        self.dev.in_flight.clear()
        self.inbuf += data
        while b"\n" in self.inbuf:
            nl = self.inbuf.index(b"\n")
            line = bytes(self.inbuf[:nl])
            del self.inbuf[: nl + 1]
            self._put(self.dev.handle(line))
        return len(data)

    @property
    def in_waiting(self) -> int:
        return len(self.out)

    def read(self, size: int = 1) -> bytes:
        if not self.out:
            self._put(self.dev.idle())
        if not self.out:
            time.sleep(min(self.timeout, 0.002))
            return b""
        chunk = bytes(self.out[:size])
        del self.out[:size]
        return chunk

    def flush(self) -> None:
        pass

    def reset_input_buffer(self) -> None:
        self.out.clear()

    def close(self) -> None:
        self.is_open = False


def profile_doc(values: dict, name: str = "anna") -> str:
    return json.dumps(
        {
            "format": "attune-profile",
            "version": 1,
            "name": name,
            "instrument": "combo",
            "saved_at": "2025-01-01T00:00:00+00:00",
            "values": values,
        }
    )


def attune(capsys, *argv: str) -> tuple[int, str, str]:
    """Runs `attune ARGV...` in-process; returns (exit code, stdout, stderr).
    Usage: `code, out, err = attune(capsys, "status", "--json")`."""
    from host_tools import cli

    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def plug_in(monkeypatch, devices: dict[str, FakeAttune], busy: tuple[str, ...] = ()) -> dict:
    """Make host_tools.device see `devices` (path -> fake) as Picos on USB; returns the ports
    opened, path -> FakeSerial."""
    from host_tools import device
    from host_tools.errors import PortBusy

    opened: dict[str, FakeSerial] = {}

    def list_pico_ports():
        return [
            device.PortInfo(path, "Board in FS mode", "E6614" + str(i), 0x2E8A, 0x0005)
            for i, path in enumerate(sorted(devices))
        ]

    def open_serial(path):
        if path in busy:
            raise PortBusy(path + " is in use by another program.")
        if path not in devices:
            raise device._open_error(path, FileNotFoundError(2, "No such file", path))
        port = FakeSerial(devices[path])
        opened[path] = port
        return port

    monkeypatch.setattr(device, "list_pico_ports", list_pico_ports)
    monkeypatch.setattr(device, "open_serial", open_serial)
    return opened
