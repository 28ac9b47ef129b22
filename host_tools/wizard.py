"""`attune calibrate SENSOR`: a plain-language wizard that follows the instrument's calibration.

Usage: run_calibration(client, "pad", console, ask=console.input)
The instrument leads (`* calibrate <sensor> rest|move|result|cancelled <message>`); the result is
applied only when the therapist says yes, then may be kept in the client's profile.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from host_tools.client import Client, parse_async
from host_tools.errors import FAILED, INTERRUPTED, AttuneError, DeviceTimeout

STEP_TITLES = {
    "rest": "Step 1 of 2: keep still.",
    "move": "Step 2 of 2: move.",
}


def result_words(message: str) -> str:
    """The result message for people: without its `key=value` figures (shown in the table)
    and without the protocol hint about typing `calibrate apply` (the wizard asks instead)."""
    words = [w for w in message.split() if "=" not in w]
    text = " ".join(words)
    cut = text.find("Send 'calibrate")
    return (text[:cut] if cut >= 0 else text).strip()


def _yes(answer: str) -> bool:
    return answer.strip().lower() in ("y", "yes")


def _ask(ask: Callable[[str], str], prompt: str) -> bool:
    try:
        return _yes(ask(prompt))
    except EOFError:
        return False


class Calibration:
    """One calibration run: start, follow the phases, then apply or cancel."""

    def __init__(
        self, client: Client, sensor: str, console: Console, as_json: bool = False
    ) -> None:
        self.client = client
        self.sensor = sensor
        self.console = console
        self.as_json = as_json
        self.result: dict[str, Any] | None = None

    def _emit(self, obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    def follow(self, wait_s: float) -> dict[str, Any] | None:
        """Start and follow the phases until the result (returned) or a cancel (None)."""
        reply = self.client.calibrate(self.sensor)
        if not self.as_json:
            self.console.print(
                "[bold]Calibrating " + self.sensor + ".[/] Follow the steps "
                "below; Ctrl-C stops without changing anything."
            )
        shown: set[str] = set()
        if reply.get("phase"):  # the first step's words may come with the reply itself
            first = {
                "kind": "calibrate",
                "sensor": self.sensor,
                "phase": reply["phase"],
                "message": str(reply.get("message", "")),
            }
            self._step(first, shown)
        deadline = time.monotonic() + wait_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.cancel()
                raise DeviceTimeout(
                    "The calibration of "
                    + self.sensor
                    + " did not finish within "
                    + str(int(wait_s))
                    + " seconds, so it was cancelled and nothing changed."
                )
            line = self.client.read_async(min(left, 0.5))
            if line is None:
                continue
            msg = parse_async(line)
            if msg.get("sensor") != self.sensor:
                continue
            kind = msg.get("kind")
            if kind == "fault":
                self._show_fault(msg)
                continue
            if kind != "calibrate":
                continue
            phase = msg.get("phase")
            if phase in STEP_TITLES:
                self._step(msg, shown)
                continue
            if self.as_json:
                self._emit(msg)
            if phase == "result":
                self.result = msg
                return msg
            if phase in ("cancelled", "failed"):
                if not self.as_json:
                    self.console.print(
                        "[bold red]Calibration stopped:[/] " + escape(str(msg.get("message", "")))
                    )
                return None

    def _step(self, msg: dict[str, Any], shown: set[str]) -> None:
        """Show a step once, however many times the instrument announces it."""
        phase = str(msg.get("phase"))
        if phase in shown:
            return
        shown.add(phase)
        if self.as_json:
            self._emit(msg)
        elif phase in STEP_TITLES:
            self.console.print(
                "\n[bold cyan]" + STEP_TITLES[phase] + "[/] " + escape(str(msg.get("message", "")))
            )

    def _show_fault(self, msg: dict[str, Any]) -> None:
        if self.as_json:
            self._emit(msg)
        else:
            self.console.print(
                "[bold red]The "
                + self.sensor
                + " sensor reports a fault:[/] "
                + str(msg.get("reason", ""))
            )

    def show_result(self, msg: dict[str, Any]) -> None:
        """The suggestion in words, and a table of each setting now and as suggested."""
        if self.as_json:
            return
        self.console.print(
            "\n[bold]Result:[/] " + escape(result_words(str(msg.get("message", ""))))
        )
        table = Table(show_header=True, show_edge=False)
        table.add_column("setting")
        table.add_column("now", justify="right")
        table.add_column("suggested", justify="right")
        for key, value in (msg.get("values") or {}).items():
            full = self.sensor + "." + str(key)
            try:
                now = self.client.get(full)
            except AttuneError:
                continue  # a measurement (baseline, noise), not a setting
            table.add_row(full, now, str(value))
        if table.row_count:
            self.console.print(table)

    def cancel(self) -> None:
        try:
            self.client.calibrate_cancel()
        except AttuneError:
            pass  # nothing running any more, or the device is gone: nothing to undo


def run_calibration(
    client: Client,
    sensor: str,
    console: Console,
    ask: Callable[[str], str],
    yes: bool = False,
    save: str | None = None,
    wait_s: float = 60.0,
    as_json: bool = False,
) -> int:
    """The whole wizard; returns the exit status. `save`: None = ask, "" = active profile."""
    cal = Calibration(client, sensor, console, as_json)
    try:
        result = cal.follow(wait_s)
        if result is None:
            return FAILED
        cal.show_result(result)
        if not (yes or _ask(ask, "Use these settings? [y/N] ")):
            cal.cancel()
            if not as_json:
                console.print("Nothing was changed.")
            else:
                cal._emit({"kind": "declined"})
            return 0
    except KeyboardInterrupt:
        cal.cancel()
        console.print("\nCalibration stopped; nothing was changed.")
        return INTERRUPTED
    applied = client.calibrate_apply()
    if as_json:
        cal._emit({"kind": "applied", "reply": applied})
    else:
        console.print("[green]Applied.[/] The instrument plays with the new settings now.")
    name = save
    if name is None and not yes and not as_json:
        if _ask(ask, "Keep them in the client's profile, so they survive a power cut? [y/N] "):
            name = ""
    if name is not None:
        saved = client.profile_save(name or None)
        if as_json:
            cal._emit({"kind": "saved", "profile": saved})
        else:
            console.print("Saved in profile '" + saved + "'.")
    elif not as_json:
        console.print("Not saved yet: 'attune profile save' keeps them.")
    return 0
