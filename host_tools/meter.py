"""`attune monitor`: a live meter per sensor (level, trigger point, pressed, fault), recent notes.

Usage: run_monitor(client, console, rate_hz=20)   # Ctrl-C stops it and sends `monitor off`
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from host_tools import firmware
from host_tools.client import Client, parse_async
from host_tools.errors import AttuneError

LEVEL_MAX: int = firmware.module("protocol").LEVEL_MAX  # the firmware's level scale
BAR_WIDTH = 40
EVENTS_KEPT = 8


@dataclass
class SensorView:
    """What the meter shows for one sensor."""

    name: str
    level: int = 0
    raw: int | None = None
    trigger: int | None = None
    pressed: bool = False
    fault: str = ""


def level_bar(level: int, trigger: int | None, width: int = BAR_WIDTH) -> Text:
    """A bar of `width` cells filled to `level`, with the trigger point marked '┃'."""
    level = max(0, min(LEVEL_MAX, level))
    filled = (level * width + LEVEL_MAX // 2) // LEVEL_MAX
    mark = None
    if trigger is not None:
        mark = min(width - 1, max(0, (trigger * width + LEVEL_MAX // 2) // LEVEL_MAX))
    bar = Text()
    for i in range(width):
        if i == mark:
            bar.append("┃", style="bold yellow")
        elif i < filled:
            bar.append("█", style="green")
        else:
            bar.append("·", style="dim")
    return bar


def describe_event(msg: dict[str, Any]) -> str:
    """'pad: note on C4 (60) velocity 96' and the like, for the recent-events list."""
    kind = str(msg.get("type", ""))
    sensor = str(msg.get("sensor", ""))
    if kind in ("note_on", "note_off") and "note" in msg:
        note = msg["note"]
        name = _note_name(note) if isinstance(note, int) else str(note)
        text = sensor + ": " + kind.replace("_", " ") + " " + name
        if "velocity" in msg and kind == "note_on":
            text += " velocity " + str(msg["velocity"])
        return text
    args = " ".join(str(a) for a in msg.get("args", []))
    return (sensor + ": " + kind + " " + args).strip()


def _note_name(n: int) -> str:
    names = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
    return names[n % 12] + str(n // 12 - 1) + " (" + str(n) + ")"


class Meter:
    """The meter's state, fed with parsed `* ` lines; `render()` draws it."""

    def __init__(self, channels: list[str], title: str = "") -> None:
        self.title = title
        self.sensors: dict[str, SensorView] = {c: SensorView(c) for c in channels}
        self.events: deque[str] = deque(maxlen=EVENTS_KEPT)

    @classmethod
    def from_status(cls, channels: list[str], status: dict[str, Any], title: str = "") -> Meter:
        meter = cls(channels, title)
        for ch in status.get("channels") or []:
            view = meter._view(str(ch.get("name", "")))
            view.fault = _fault_text(ch.get("fault"))
            view.pressed = bool(ch.get("pressed"))
            if isinstance(ch.get("level"), int):
                view.level = ch["level"]
        return meter

    def _view(self, name: str) -> SensorView:
        if name not in self.sensors:
            self.sensors[name] = SensorView(name)
        return self.sensors[name]

    def feed(self, msg: dict[str, Any]) -> None:
        kind = msg.get("kind")
        sensor = str(msg.get("sensor", ""))
        if kind == "monitor" and sensor:
            view = self._view(sensor)
            if isinstance(msg.get("level"), int):
                view.level = msg["level"]
            if isinstance(msg.get("raw"), int):
                view.raw = msg["raw"]
            if isinstance(msg.get("trigger"), int):
                view.trigger = msg["trigger"]
            view.pressed = bool(msg.get("pressed"))
        elif kind == "levels":  # a frame: every sensor's level and press
            for s in msg.get("sensors") or ():
                view = self._view(str(s["sensor"]))
                view.level = s["level"]
                view.pressed = bool(s["pressed"])
        elif kind == "event":
            self.events.append(describe_event(msg))
        elif kind == "fault" and sensor:
            self._view(sensor).fault = str(msg.get("reason") or "not answering")
            self.events.append(sensor + ": FAULT " + str(msg.get("reason", "")))
        elif kind == "info" and sensor:
            if "recovered" in str(msg.get("message", "")):
                self._view(sensor).fault = ""
            self.events.append(sensor + ": " + str(msg.get("message", "")))

    def render(self) -> RenderableType:
        table = Table(title=self.title or None, expand=False, show_edge=False)
        table.add_column("sensor", style="bold")
        table.add_column("level (┃ = trigger point)")
        table.add_column("level", justify="right")
        table.add_column("raw", justify="right")
        table.add_column("")
        for view in self.sensors.values():
            if view.fault:
                state = Text("FAULT: " + view.fault, style="bold red")
            elif view.pressed:
                state = Text("PRESSED", style="bold green")
            else:
                state = Text("")
            table.add_row(
                view.name,
                level_bar(view.level, view.trigger),
                str(view.level),
                "" if view.raw is None else str(view.raw),
                state,
            )
        recent = Text(
            "Recent: " + ("  |  ".join(reversed(self.events)) if self.events else "no notes yet"),
            style="cyan",
        )
        hint = Text("Ctrl-C stops the meter.", style="dim")
        return Group(table, recent, hint)


def _fault_text(fault: object) -> str:
    if not fault:
        return ""
    return fault if isinstance(fault, str) else "not answering"


def run_monitor(
    client: Client,
    console: Console,
    rate_hz: int = 20,
    seconds: float | None = None,
    as_json: bool = False,
    out: TextIO | None = None,
) -> int:
    """Stream `* ` lines until Ctrl-C (or `seconds`), then send `monitor off`."""
    info = client.info
    channels = info.channels if info else []
    meter: Meter | None = None
    if not as_json:
        meter = Meter.from_status(channels, client.status(), info.name if info else "")
    client.monitor(rate_hz)
    end = None if seconds is None else time.monotonic() + seconds
    stream = out or sys.stdout
    try:
        if meter is None:
            _stream_json(client, end, stream)
        else:
            with Live(meter.render(), console=console, refresh_per_second=12) as live:
                while end is None or time.monotonic() < end:
                    line = client.read_async(0.1)
                    if line is not None:
                        meter.feed(parse_async(line))
                        live.update(meter.render())
    except KeyboardInterrupt:
        pass
    finally:
        try:
            client.monitor_off()
        except AttuneError:
            pass  # the device may already be gone; nothing more to stop
    return 0


def _stream_json(client: Client, end: float | None, stream: TextIO) -> None:
    while end is None or time.monotonic() < end:
        line = client.read_async(0.1)
        if line is not None:
            stream.write(json.dumps(parse_async(line)) + "\n")
            stream.flush()
