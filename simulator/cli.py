"""`attune sim`: run the firmware in the simulator from the command line.

Usage: attune sim --instrument squeeze-pad --trace presses.csv --events-jsonl out/ev.jsonl
       attune sim --demo                      # the combo instrument, files in out/
       attune sim --instrument combo --interactive --record out/my-take.csv
       python -m simulator ...                # the same, without the host tools
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
from pathlib import Path
from typing import Any

from simulator import movement as mv

DEMO_SECONDS = 16


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--instrument",
        default=None,
        metavar="NAME",
        help="instrument under boards/instruments/ (or a .json path); default combo",
    )
    p.add_argument("--board", default="pico", metavar="NAME", help="board under boards/")
    p.add_argument(
        "--trace",
        metavar="FILE.csv",
        help="recorded movements: time_ms, then one column per channel (raw units)",
    )
    p.add_argument("--events-jsonl", metavar="OUT.jsonl", help="write the MIDI as JSON lines")
    p.add_argument("--midi", metavar="OUT.mid", help="write a standard MIDI file")
    p.add_argument("--wav", metavar="OUT.wav", help="render the MIDI to a WAV to listen to")
    p.add_argument("--plot", metavar="OUT.png", help="plot signals, thresholds and notes")
    p.add_argument("--profile", metavar="FILE.json", help="play with this profile")
    p.add_argument(
        "--flash",
        metavar="DIR",
        help="the simulated flash folder (kept between runs); default out/flash-<instrument>",
    )
    p.add_argument(
        "--duration",
        type=float,
        metavar="S",
        help="seconds to simulate (default: the trace's length; endless with "
        "--serial or --interactive)",
    )
    p.add_argument("--realtime", action="store_true", help="run at the speed of real time")
    p.add_argument(
        "--serial",
        action="store_true",
        help="expose the serial port on a pseudo-terminal (prints 'serial: PATH'); "
        "implies --realtime unless --fast",
    )
    p.add_argument("--fast", action="store_true", help="with --serial: as fast as possible")
    p.add_argument(
        "--interactive",
        action="store_true",
        help="play with the keyboard (implies --realtime): space or 1-9 toggle "
        "switches, Tab picks an analog channel, + and - move it, 0 rests it",
    )
    p.add_argument(
        "--record",
        metavar="OUT.csv",
        help="with --interactive: save what you played as a trace to replay later",
    )
    p.add_argument(
        "--no-port",
        action="store_true",
        help="no virtual MIDI port in real time (one opens where the system has one)",
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject a fault, e.g. unplug:hand@2-3.5, stick:pad=high@4, "
        "stuck-bus:0@2, power-cut@5, usb-stop@1-2, flood@3 (repeatable)",
    )
    p.add_argument(
        "--near-wrap",
        action="store_true",
        help="start the ticks clock 2 s before it wraps (shows wrap bugs)",
    )
    p.add_argument(
        "--demo",
        action="store_true",
        help="a demo trace through the combo instrument: out/demo.mid, .wav, .png, "
        ".jsonl and a short summary",
    )
    p.add_argument("--out", default="out", metavar="DIR", help="folder for --demo's files")
    p.add_argument("--firmware", default=None, metavar="DIR", help=argparse.SUPPRESS)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `sim` to the host tool's sub-commands (host_tools/cli.py calls this)."""
    p = subparsers.add_parser(
        "sim",
        help="run the firmware in the simulator",
        description=(__doc__ or "").split("\n\n")[0],
    )
    add_arguments(p)
    p.set_defaults(func=run_command)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulator", description="Run the Attune firmware in the simulator."
    )
    add_arguments(parser)
    parser.set_defaults(func=run_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


# -- the demo trace -----------------------------------------------------------------------------


def demo_trace(
    instrument: dict[str, Any], seconds: int = DEMO_SECONDS, seed: int = 7
) -> dict[str, list[int]]:
    """Small presses on each channel, a stretch of tremor and a twitch that should not play,
    slow drift and sensor noise; built with simulator.movement."""
    from simulator.chips import SIMULATED
    from simulator.world import SENSOR_RANGES, sensor_registry

    rng = random.Random(seed)
    n = seconds * 1000
    out: dict[str, list[int]] = {}
    for k, ch in enumerate(instrument.get("channels", [])):
        name, sensor = ch["name"], ch["sensor"]
        rest, full = SENSOR_RANGES[sensor]
        offset = 400 * k  # channels take turns, then overlap a little
        if seconds < DEMO_SECONDS:
            raise ValueError(f"The demo trace needs at least {DEMO_SECONDS} s.")
        if sensor == "switch":
            presses = [
                (1500 + offset, 250),
                (4200 + offset, 400),
                (9000 + offset, 180),
                (9600 + offset, 180),
                (13000 + offset, 600),
            ]
            out[name] = mv.switch_presses(n, presses, bounce_ms=4, rng=rng)
            continue
        span = full - rest
        sig = mv.rest(n, float(rest))
        for lap in range(0, n - DEMO_SECONDS * 1000 + 1, DEMO_SECONDS * 1000):
            for start, size, hold in (
                (2200, 0.25, 300),
                (5200, 0.45, 250),
                (7600, 0.7, 500),
                (11800, 0.35, 900),
                (14000, 0.9, 300),
            ):
                mv.add_press(sig, lap + start + offset, span * size, rise_ms=90, hold_ms=hold)
        # tremor and a twitch of a resting hand: small, so they should play nothing
        mv.add_tremor(sig, 10200 + offset, 1200, 5.0, span * 0.025, rng)
        mv.add_twitch(sig, 12600 + offset, span * 0.05)
        mv.add_drift(sig, span * 0.02)
        if sensor_registry()[sensor]["wiring"] == "adc":
            out[name] = mv.adc_read_u16(sig, rng)
        else:
            sim = SIMULATED[sensor]
            out[name] = mv.quantise(sig, rng, noise=sim.noise, lo=sim.limits[0], hi=sim.limits[1])
    return out


# -- interactive play ---------------------------------------------------------------------------


class Keyboard:
    """Keys move the live inputs: space / 1-9 toggle switches, Tab picks an analog channel,
    + / - step it by a tenth of its range, 0 rests it, m pushes it fully; q stops."""

    def __init__(self, sim: Any, console: Any) -> None:
        self.sim = sim
        self.console = console
        world = sim.world
        self.switches = [n for n, i in world.inputs.items() if i.sensor == "switch"]
        self.analogs = [n for n, i in world.inputs.items() if i.sensor != "switch"]
        self.pressed = {n: False for n in self.switches}
        self.levels = {n: 0.0 for n in self.analogs}
        self.selected = 0
        self.fd = sys.stdin.fileno() if sys.stdin is not None else -1
        self.saved_tty: Any = None
        self.thread = threading.Thread(target=self._loop, name="keyboard", daemon=True)

    def start(self) -> None:
        if self.fd >= 0 and os.isatty(self.fd):
            import termios
            import tty

            self.saved_tty = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)  # keys one at a time, Ctrl-C still stops
        self._show("keys: space/1-9 switches, Tab next analog, + - 0 m level, q quit")
        self.thread.start()

    def stop(self) -> None:
        if self.saved_tty is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved_tty)
            self.saved_tty = None

    def _show(self, text: str) -> None:
        print(f"\r{text}\033[K", end="", file=self.console, flush=True)

    def _status(self) -> str:
        parts = [f"{n}={'ON' if self.pressed[n] else 'off'}" for n in self.switches]
        for i, n in enumerate(self.analogs):
            mark = ">" if i == self.selected else ""
            parts.append(f"{mark}{n}={int(self.levels[n] * 100)}%")
        return "  ".join(parts)

    def handle(self, key: str) -> bool:
        """Apply one key; False means stop."""
        world = self.sim.world
        if key in ("q", "\x03", "\x04"):
            return False
        if key == " " and self.switches:
            key = "1"
        if key.isdigit() and key != "0" and int(key) <= len(self.switches):
            name = self.switches[int(key) - 1]
            self.pressed[name] = not self.pressed[name]
            world.inputs[name].set_live(1 if self.pressed[name] else 0)
        elif self.analogs:
            name = self.analogs[self.selected]
            level = self.levels[name]
            if key == "\t":
                self.selected = (self.selected + 1) % len(self.analogs)
            elif key in "+=":
                level = min(1.0, level + 0.1)
            elif key in "-_":
                level = max(0.0, level - 0.1)
            elif key == "0":
                level = 0.0
            elif key == "m":
                level = 1.0
            self.levels[name] = level
            world.set_level(name, level)
        self._show(self._status())
        return True

    def _loop(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 1) if self.fd >= 0 else b""
            except OSError:
                data = b""
            if not data or not self.handle(data.decode("latin-1")):
                self.sim.request_stop()
                return


# -- running ------------------------------------------------------------------------------------


def _say(text: str) -> None:
    print(text, flush=True)


def run_command(args: argparse.Namespace) -> int:
    from simulator.outputs import plot, render_wav, summary, write_jsonl, write_midi
    from simulator.run import FIRMWARE_DIR, FirmwareCrash, Simulation
    from simulator.world import find_instrument, load_csv, parse_fault, write_csv

    name = args.instrument or "combo"
    try:
        instrument = find_instrument(name)
        faults = [parse_fault(f) for f in args.fault]
        trace: Any = load_csv(args.trace) if args.trace else None
    except (OSError, ValueError) as exc:
        print(f"attune sim: {exc}", file=sys.stderr)
        return 2
    out_dir = Path(args.out)
    if args.demo:
        if args.instrument is None:
            instrument = find_instrument("combo")
        trace = demo_trace(instrument)
        out_dir.mkdir(parents=True, exist_ok=True)
        for attr, suffix in (
            ("midi", ".mid"),
            ("wav", ".wav"),
            ("plot", ".png"),
            ("events_jsonl", ".jsonl"),
        ):
            if getattr(args, attr) is None:
                setattr(args, attr, str(out_dir / f"demo{suffix}"))
    live = args.interactive
    realtime = args.realtime or live or (args.serial and not args.fast)
    duration = args.duration
    if duration is None and trace is None and (live or args.serial):
        duration = 365 * 24 * 3600.0  # until stopped
    flash = args.flash or str(out_dir / f"flash-{instrument.get('name', 'instrument')}")
    try:
        sim = Simulation(
            instrument,
            flash,
            board=args.board,
            trace=trace,
            duration_s=duration,
            realtime=realtime,
            serial="pty" if args.serial else None,
            profile=args.profile,
            start_near_wrap=args.near_wrap,
            faults=faults,
            firmware_dir=args.firmware or FIRMWARE_DIR,
            sample_ms=5 if (args.plot or args.demo) else None,
            strict=False,
            midi_port=realtime and not args.no_port,
        )
    except (OSError, ValueError) as exc:
        print(f"attune sim: {exc}", file=sys.stderr)
        return 2
    keyboard = None
    with sim:
        if sim.serial_path:
            _say(f"serial: {sim.serial_path}")
        if live:
            sim.world.make_live()
            keyboard = Keyboard(sim, sys.stdout)
            keyboard.start()
        recorder = _Recorder(sim) if (live and args.record) else None
        try:
            events = sim.run()
        except FirmwareCrash as exc:
            print(f"attune sim: {exc}", file=sys.stderr)
            return 1
        finally:
            if keyboard is not None:
                keyboard.stop()
                print(file=sys.stdout)
    if recorder is not None:
        write_csv(args.record, recorder.columns())
        _say(f"Recorded what you played: {args.record} (replay with --trace).")
    if args.events_jsonl:
        write_jsonl(events, args.events_jsonl)
    if args.midi:
        write_midi(events, args.midi)
    if args.wav:
        render_wav(events, args.wav)
    if args.plot:
        title = f"{instrument.get('title', name)}: {len(events)} MIDI messages"
        plot(sim.traces, sim.samples, events, args.plot, title=title)
    virtual_s = sim.clock.now / 1e6
    _say(summary(events, virtual_s, sim.wall_s, sim.samples))
    for reset in sim.resets:
        _say(f"The board restarted at {reset['t_ms'] / 1000:.2f} s ({reset['cause']}).")
    if sim.crashes:
        _say("The firmware stopped with an error; the end of what it printed:")
        _say(sim.serial.text()[-800:])
    written = [p for p in (args.events_jsonl, args.midi, args.wav, args.plot) if p]
    if written:
        _say("Wrote " + ", ".join(written) + ".")
    return 0


class _Recorder:
    """Keeps the live inputs of an interactive session, one value per millisecond."""

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.data: dict[str, list[int]] = {n: [] for n in sim.world.inputs}
        sim.clock.call_at(0, self._tick)

    def _tick(self) -> None:
        ms = self.sim.clock.now // 1000
        self.sim.clock.call_at((ms + 1) * 1000, self._tick)
        for name, inp in self.sim.world.inputs.items():
            self.data[name].append(inp.at(ms))

    def columns(self) -> dict[str, list[int]]:
        return self.data
