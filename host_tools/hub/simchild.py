"""A simulated instrument for the hub, in a process of its own: the real firmware in real time on
a pseudo-terminal (printed as `serial: PATH`), its virtual inputs set by JSON lines on stdin.

Usage: python -m host_tools.hub.simchild --instrument combo --flash DIR
       then on stdin: {"sensor": "pad", "value": 0.5}   (0 rest .. 1 a full press)

The simulator changes process-wide state while it runs (the `time` functions, `sys.modules`,
the working directory, `sys.stdout`), so each simulated instrument gets its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from typing import Any

FOREVER_S = 365 * 24 * 3600.0
# MIDI events the simulator keeps (the hub reads the notes from the serial line)
EVENTS_KEPT = 1000


class Recent(list[Any]):
    """A list that keeps only about its last `n` items, for as long as Studio runs (dropped in
    chunks, so an append stays cheap). Usage: sim.events = Recent(1000)"""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def append(self, item: Any) -> None:
        super().append(item)
        if len(self) >= 2 * self.n:
            del self[: len(self) - self.n]


def apply_input(world: Any, sensor: str, value: float) -> None:
    """Set a sensor between rest (0) and a full press (1); a switch is pressed above 0.5."""
    inp = world.inputs.get(sensor)
    if inp is None:
        return
    if inp.sensor == "switch":
        inp.set_live(1 if value > 0.5 else 0)
    else:
        world.set_level(sensor, value)


def _read_inputs(sim: Any, fd: int) -> None:
    """Apply each input line from the hub; the hub going away (end of input) stops the run."""
    pending = b""
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            sim.request_stop()
            return
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            try:
                msg = json.loads(line)
                apply_input(sim.world, str(msg["sensor"]), float(msg["value"]))
            except (ValueError, KeyError, TypeError):
                continue  # the hub checks inputs first: a bad line here is only skipped


def main(argv: list[str] | None = None) -> int:
    from simulator.run import Simulation

    p = argparse.ArgumentParser(prog="python -m host_tools.hub.simchild")
    p.add_argument("--instrument", default="combo")
    p.add_argument("--board", default="pico")
    p.add_argument("--flash", required=True)
    args = p.parse_args(argv)
    out = sys.stdout
    with Simulation(
        args.instrument,
        args.flash,
        board=args.board,
        duration_s=FOREVER_S,
        realtime=True,
        serial="pty",
        strict=False,
        console=sys.stderr,
    ) as sim:
        # the serial port a Pico with usb-device-cdc has (firmware/usbserial.py), so the
        # monitor's cap and early frames are a real board's, not the built-in port's
        setattr(sim.world, "usb_cdc", True)  # noqa: B010 (the fake cdc module reads it)
        sim.world.make_live()
        # the simulator lists every MIDI event for its files and summary; here nobody reads
        # them, and the list would grow all day (about 20 KB a minute of play): keep the last
        sim.events = Recent(EVENTS_KEPT)
        out.write("serial: " + str(sim.serial_path) + "\n")
        out.flush()
        threading.Thread(target=_read_inputs, args=(sim, 0), daemon=True).start()
        sim.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
