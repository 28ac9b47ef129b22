"""A simulated instrument the hub runs (host_tools/hub/simchild.py in a child process) and opens
through its pseudo-terminal like any Pico; its virtual input is set from the page.

Usage: inst = SimulatedInstrument(hub, "sim-combo-1", "combo", data_dir / "sim"); inst.start()
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from host_tools import device
from host_tools.client import Client
from host_tools.errors import AttuneError
from host_tools.firmware import REPO_DIR
from host_tools.hub.instrument import Instrument

START_S = 20.0  # the child's Python start, then the firmware's boot, in real time
RESTART_S = 1.0  # a crashed child is started again after this long ...
CRASHES_MAX = 5  # ... unless it crashed this many times within CRASH_WINDOW_S: then it stays down
CRASH_WINDOW_S = 60.0
EXIT_WAIT_S = 3.0  # how long a child whose port closed may take to end before it is killed


class SimulatedInstrument(Instrument):
    """The simulator's firmware in a child process, reached through its pseudo-terminal."""

    def __init__(self, hub: Any, ident: str, instrument: str, folder: Path) -> None:
        super().__init__(hub, ident, self._open, simulated=True)
        self.instrument = instrument
        self.folder = folder
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self.crashes: list[float] = []  # when the child died under the hub (monotonic)
        self.restarts = 0

    def _spawn(self) -> str:
        """Start the child; returns its serial port's path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / (self.id + ".log"), "wb")
        cmd = [sys.executable, "-m", "host_tools.hub.simchild", "--instrument", self.instrument]
        cmd += ["--flash", str(self.folder / ("flash-" + self.id))]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=REPO_DIR
        )
        log.close()
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode("utf-8", "replace").strip()
        if not line.startswith("serial: "):
            self.proc.kill()
            raise AttuneError(
                "The simulated instrument '"
                + self.instrument
                + "' did not start; see "
                + str(self.folder / (self.id + ".log"))
                + "."
            )
        stdout = self.proc.stdout  # drained, so a chatty child never blocks on it
        threading.Thread(target=stdout.read, name="sim output " + self.id, daemon=True).start()
        return line.split(": ", 1)[1]

    def _run(self) -> None:
        """Serve the child; when it dies (a crash, or killed), tell the pages and start it again
        (its flash folder keeps the profiles), unless it keeps crashing."""
        while True:
            super()._run()
            if self._stop.is_set():
                return
            proc = self.proc
            stopped = "stopped unexpectedly"
            if proc is not None:
                try:  # its port closes a moment before the process has ended
                    proc.wait(timeout=EXIT_WAIT_S)
                except subprocess.TimeoutExpired:
                    proc.kill()  # alive but not answering: as good as crashed
                    proc.wait()
                    stopped = "stopped answering"
            code = proc.returncode if proc is not None else None
            now = time.monotonic()
            self.crashes = [t for t in self.crashes if now - t < CRASH_WINDOW_S] + [now]
            if len(self.crashes) >= CRASHES_MAX:
                self.problem = (
                    "the simulated instrument stopped "
                    + str(len(self.crashes))
                    + " times within a minute, so Studio does not start it again; see "
                    + str(self.folder / (self.id + ".log"))
                    + " and restart Studio"
                )
                self._notice("fault", "The simulated instrument " + self.id + ": " + self.problem)
                return
            self._notice(
                "fault",
                "The simulated instrument "
                + self.id
                + " "
                + stopped
                + (" (exit code " + str(code) + ")" if stopped != "stopped answering" else "")
                + ". Studio is starting it again; its saved profiles are kept.",
            )
            if self._stop.wait(RESTART_S):
                return
            self.restarts += 1

    def _notice(self, kind: str, text: str) -> None:
        self.hub.emit({"type": "notice", "device": self.id, "kind": kind, "text": text})

    def _prepare(self, client: Client) -> None:
        super()._prepare(client)
        if self.restarts:
            self._notice("info", "The simulated instrument " + self.id + " is running again.")

    def _open(self) -> Client:
        # one `hello`, waited for as long as a boot takes: asking again while it boots would
        # leave late replies that the next requests would take for their own
        return device.open_client(self._spawn(), START_S)

    def send_input(self, sensor: str, value: float) -> None:
        known = [c.get("name") for c in self.status.get("channels") or []]
        if sensor not in known:
            raise AttuneError(
                "The instrument "
                + self.id
                + " has no sensor called '"
                + sensor
                + "' (it has "
                + ", ".join(str(k) for k in known)
                + ")."
            )
        proc = self.proc
        if proc is None or proc.stdin is None or proc.poll() is not None:
            raise AttuneError("The simulated instrument " + self.id + " is not running.")
        data = json.dumps({"sensor": sensor, "value": value}).encode() + b"\n"
        with self._lock:
            proc.stdin.write(data)
            proc.stdin.flush()

    def stop(self) -> None:
        super().stop()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                if proc.stdin is not None:
                    proc.stdin.close()  # the child stops at the end of its input
                proc.wait(timeout=3)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
