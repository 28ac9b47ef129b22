"""An in-memory Attune instrument that speaks docs/protocol.md, and a serial port onto it.

Usage: port = FakeSerial(FakeAttune()); Client(port).hello()
It validates settings with the real firmware/settings.py, so refusals read like the device's.
"""

from __future__ import annotations

import json
import time
from collections import deque

from host_tools import firmware

settings = firmware.module("settings")
protocol = firmware.module("protocol")

_TYPES = {settings.INT: "int", settings.CHOICE: "choice", settings.ONOFF: "onoff",
          settings.NOTES: "notes"}

REPL_ERROR = ('Traceback (most recent call last):\r\n  File "<stdin>", line 1, in <module>\r\n'
              "NameError: name '{0}' isn't defined\r\n>>> ")


def schema_rows() -> list[dict]:
    rows = []
    for scope, table in (("global", settings.GLOBAL), ("channel", settings.CHANNEL)):
        for row in table:
            key, kind, low, high, default, unit, text = row
            item = {"key": key, "scope": scope, "type": _TYPES[kind], "unit": unit,
                    "default": settings.format_value(row, default), "help": text}
            if kind in (settings.CHOICE, settings.ONOFF):
                item["choices"] = list(low)
            else:
                item["min"], item["max"] = low, high
            rows.append(item)
    return rows


class FakeAttune:
    """The device side. `mode`: "attune", "repl" (plain MicroPython), "silent", or "mute"
    (answers hello, then nothing)."""

    def __init__(self, instrument: str = "combo", title: str = "Combo",
                 channels: tuple[str, ...] = ("switch", "pad", "hand"), board: str = "pico",
                 firmware_version: str = "0.1.0", proto: int = 1, page: int = 8,
                 mode: str = "attune") -> None:
        self.instrument = instrument
        self.title = title
        self.channels = channels
        self.board = board
        self.firmware = firmware_version
        self.proto = proto
        self.page = page
        self.mode = mode
        self.settings = settings.Settings(channels)
        self.profiles: dict[str, dict] = {}
        self.active: str | None = None
        self.unsaved = False
        self.monitor_rate = 0
        self.monitor_frames = 6  # frames sent per `monitor` before it goes quiet
        self.calibration: dict | None = None
        self.calibration_outcome = "result"  # or "failed", or "hang" (never finishes)
        self.faults: dict[str, str] = {}
        self.requests: list[str] = []
        self.before_reply: list[str] = []  # `* ` lines sent just before the next reply
        self.panicked = 0
        self.maintenance = False
        self.t_ms = 0

    # -- one line in, lines out -----------------------------------------------------------

    def handle(self, raw: bytes) -> list[str]:
        line = raw.decode("ascii", "replace").rstrip("\r")
        self.requests.append(line)
        if self.mode == "silent":
            return []
        if self.mode == "repl":
            word = line.split(" ")[0] if line else ""
            return [line] + ([REPL_ERROR.format(word)] if word else [])
        if self.mode == "mute" and line != "hello":
            return []
        cmd, rest, error = protocol.parse(raw)
        if error:
            return [error]
        if cmd == "":
            return []
        out = list(self.before_reply)
        self.before_reply.clear()
        method = getattr(self, "do_" + cmd, None)
        if method is None:
            return out + [protocol.err("unknown", "There is no command '" + cmd
                                       + "'. 'help' lists them.")]
        reply, extra = method(rest)
        return out + [reply] + extra

    def ok(self, payload: dict) -> tuple[str, list[str]]:
        return protocol.ok(payload), []

    def do_hello(self, rest):
        return self.ok({"firmware": self.firmware, "protocol": self.proto, "board": self.board,
                        "instrument": self.instrument, "title": self.title,
                        "channels": list(self.channels)})

    def do_help(self, rest):
        return self.ok({"commands": sorted(n[3:] for n in dir(self) if n.startswith("do_"))})

    def do_params(self, rest):
        rows = schema_rows()
        offset = int(rest) if rest.isdigit() else 0
        nxt = offset + self.page if offset + self.page < len(rows) else None
        return self.ok({"total": len(rows), "offset": offset, "next": nxt,
                        "params": rows[offset:offset + self.page]})

    def do_get(self, rest):
        key = rest
        if key == "global":
            return self.ok({"values": {r[0]: self.settings.get(r[0])[0]
                                       for r in settings.GLOBAL}})
        if key in self.channels:
            return self.ok({"values": {key + "." + r[0]: self.settings.get(key + "." + r[0])[0]
                                       for r in settings.CHANNEL}})
        value, why = self.settings.get(key)
        if why:
            return protocol.err("key", why), []
        return self.ok({"key": key, "value": value})

    def do_set(self, rest):
        key, _, value = rest.partition(" ")
        if self.settings.row(key) is None:
            return protocol.err("key", self.settings.get(key)[1]), []
        why = self.settings.set(key, value)
        if why:
            return protocol.err("value", why), []
        self.unsaved = True
        return self.ok({"key": key, "value": self.settings.get(key)[0]})

    def do_reset(self, rest):
        self.settings.reset()
        self.unsaved = True
        return self.ok({"reset": True})

    def do_profile(self, rest):
        action, _, args = rest.partition(" ")
        names = args.split()
        for n in names:
            if not protocol.valid_name(n):
                return protocol.err("name", protocol.NAME_RULE), []
        if action == "list":
            return self.ok({"active": self.active, "profiles": sorted(self.profiles)})
        if action == "save":
            name = names[0] if names else self.active
            if not name:
                return protocol.err("name", "No profile is in use: give a name."), []
            self.profiles[name] = self.settings.to_dict()
            self.active = name
            self.unsaved = False
            return self.ok({"saved": name})
        if not names:
            return protocol.err("name", protocol.NAME_RULE), []
        name = names[0]
        if name not in self.profiles:
            return protocol.err("notfound", "There is no profile called '" + name + "'."), []
        if action == "load":
            self.settings.load_dict(self.profiles[name])
            self.active = name
            self.unsaved = False
            return self.ok({"loaded": name, "from": "saved"})
        if action == "show":
            return self.ok({"name": name, "values": dict(self.profiles[name])})
        if action == "delete":
            del self.profiles[name]
            if self.active == name:
                self.active = None
            return self.ok({"deleted": name})
        if action == "rename" and len(names) == 2:
            self.profiles[names[1]] = self.profiles.pop(name)
            if self.active == name:
                self.active = names[1]
            return self.ok({"renamed": names[1]})
        return protocol.err("unknown", "profile takes list, save, load, show, delete or "
                            "rename."), []

    def do_status(self, rest):
        chans = [{"name": c, "sensor": "analog", "fault": self.faults.get(c),
                  "pressed": False, "level": 0} for c in self.channels]
        return self.ok({"state": "playing", "uptime_s": 12, "tick_hz": 1000, "late_ticks": 0,
                        "config": "saved" if self.active else "defaults",
                        "profile": self.active, "unsaved": self.unsaved, "channels": chans,
                        "midi_dropped": 0, "errors": 0, "mem_free": 101234})

    def do_monitor(self, rest):
        if rest == "off":
            self.monitor_rate = 0
            return self.ok({"monitor": 0})
        if not rest.isdigit() or not 1 <= int(rest) <= 100:
            return protocol.err("value", "monitor takes a rate from 1 to 100 (updates a "
                                "second) or off."), []
        self.monitor_rate = int(rest)
        return self.ok({"monitor": self.monitor_rate})

    def monitor_frame(self, i: int) -> list[str]:
        self.t_ms += 50
        lines = []
        for n, c in enumerate(self.channels):
            level = (i * 3000 + n * 1000) % 16384
            lines.append(f"* monitor t={self.t_ms} {c} raw={level // 4} level={level} "
                         f"trigger=6000 pressed={int(level > 6000)}")
        if i == 2:
            lines.append("* event pad note_on 60 96")
        if i == 4:
            lines.append("* event pad note_off 60 0")
            lines.append("* fault hand not answering (I2C error)")
        return lines

    def do_calibrate(self, rest):
        if rest == "apply":
            if not self.calibration:
                return protocol.err("notfound", "No calibration result to apply."), []
            applied = {}
            for key, value in self.calibration["values"].items():
                full = self.calibration["sensor"] + "." + key
                self.settings.set(full, value)
                applied[full] = str(value)
            self.calibration = None
            self.unsaved = True
            return self.ok({"applied": applied})
        if rest == "cancel":
            if not self.calibration:
                return protocol.err("value", "No calibration is running."), []
            self.calibration = None
            return self.ok({"cancelled": True})
        if rest not in self.channels:
            return protocol.err("key", "There is no sensor called '" + rest + "'. Sensors: "
                                + ", ".join(self.channels) + "."), []
        self.calibration = {"sensor": rest, "values": {"range": 58, "sensitivity": 82}}
        # like firmware/console.py: the first step comes in the reply, the rest as `* ` lines
        rest_text = "Keep still for 3 seconds while I learn where the sensor rests."
        lines = [f"* calibrate {rest} rest {rest_text}",
                 f"* monitor t=1 {rest} raw=10 level=0 trigger=6000 pressed=0",
                 f"* calibrate {rest} move Now move as far as is comfortable, a few times."]
        if self.calibration_outcome == "failed":
            lines.append(f"* calibrate {rest} failed The sensor stopped answering.")
        elif self.calibration_outcome == "result":
            lines.append(f"* calibrate {rest} result range=58 sensitivity=82 Suggested range 58 "
                         "and sensitivity 82. Send 'calibrate apply' to use them, or "
                         "'calibrate cancel'.")
        return protocol.ok({"calibrate": rest, "phase": "rest", "message": rest_text}), lines

    def do_panic(self, rest):
        self.panicked += 1
        return self.ok({"panic": True})

    def do_maintenance(self, rest):
        self.maintenance = True
        return self.ok({"maintenance": True})


class FakeSerial:
    """The host side of the fake's USB serial port: pyserial's read/write/in_waiting/timeout."""

    def __init__(self, dev: FakeAttune, timeout: float = 0.01) -> None:
        self.dev = dev
        self.timeout = timeout
        self.out = bytearray()
        self.inbuf = bytearray()
        self.is_open = True
        self.frames: deque[int] = deque()
        self.sent_monitor = 0
        self.written = bytearray()

    def write(self, data: bytes) -> int:
        self.written += data
        self.inbuf += data
        while b"\n" in self.inbuf:
            nl = self.inbuf.index(b"\n")
            line = bytes(self.inbuf[:nl])
            del self.inbuf[:nl + 1]
            was_monitoring = self.dev.monitor_rate
            for reply in self.dev.handle(line):
                self.out += reply.encode() + (b"" if reply.endswith(">>> ") else b"\r\n")
            if self.dev.monitor_rate and not was_monitoring:
                self.sent_monitor = 0
        return len(data)

    @property
    def in_waiting(self) -> int:
        return len(self.out)

    def read(self, size: int = 1) -> bytes:
        if not self.out and self.dev.monitor_rate and self.sent_monitor < self.dev.monitor_frames:
            for line in self.dev.monitor_frame(self.sent_monitor):
                self.out += line.encode() + b"\r\n"
            self.sent_monitor += 1
        if not self.out:
            time.sleep(min(self.timeout, 0.01))
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
    return json.dumps({"format": "attune-profile", "version": 1, "name": name,
                       "instrument": "combo", "saved_at": "2025-01-01T00:00:00+00:00",
                       "values": values})


def plug_in(monkeypatch, devices: dict[str, FakeAttune], busy: tuple[str, ...] = ()) -> dict:
    """Make host_tools.device see `devices` (path -> fake) as Picos on USB; returns the ports
    opened, path -> FakeSerial."""
    from host_tools import device
    from host_tools.errors import PortBusy

    opened: dict[str, FakeSerial] = {}

    def list_pico_ports():
        return [device.PortInfo(path, "Board in FS mode", "E6614" + str(i), 0x2E8A, 0x0005)
                for i, path in enumerate(sorted(devices))]

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
