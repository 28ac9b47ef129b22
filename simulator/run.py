"""Run the unmodified firmware (`firmware/main.py`) on CPython, on virtual time, against a world
of simulated sensors; record the MIDI it sends.

Usage: events = Simulation("squeeze-pad", "out/flash", trace="presses.csv").run()

Each boot runs `boot.py` (if any) and `main.py` from the firmware folder with fresh imports, the
fakes of `machine`, `micropython`, `usb.device`, `select`, `gc` and `rp2` first on `sys.path`, the
flash folder as the working directory and the simulated serial port as `sys.stdin`/`sys.stdout`.
A watchdog timeout, `machine.reset()`, a soft reset or a power cut boots it again; the flash
folder keeps whatever the firmware saved.
"""

from __future__ import annotations

import _thread
import contextlib
import importlib.machinery
import importlib.util
import json
import os
import runpy
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from host_tools.firmware import FIRMWARE_DIR
from simulator import context
from simulator.clock import Clock, SimulationEnd, real_perf_counter
from simulator.context import SimulatedReset
from simulator.outputs import DinParser, Event, VirtualMidiPort, midi_event
from simulator.serialport import SerialPort
from simulator.world import (
    BOARDS_DIR,
    PWRON_RESET,
    Fault,
    World,
    find_board,
    find_instrument,
    load_csv,
)

FAKES_DIR = Path(__file__).resolve().parent / "fakes"
_SHADOWED_STDLIB = ("select", "gc")  # CPython modules the fakes stand in for, during a run
_BANNER = (
    b"MicroPython v1.24.1 on 2024-11-29; Raspberry Pi Pico with RP2040 "
    b'(Attune simulator)\r\nType "help()" for more information.\r\n>>> '
)


class _MissingModules:
    """First on sys.meta_path during a run: modules a MissingLibrary fault took off the flash
    fail to import, with MicroPython's message."""

    def __init__(self, world: World) -> None:
        self.world = world

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname.split(".", 1)[0] in self.world.missing_modules:
            raise ImportError(f"no module named '{fullname}'")
        return None

    def invalidate_caches(self) -> None:
        pass


class FirmwareCrash(RuntimeError):
    """An exception escaped main.py (the cause is chained)."""


def install_profile(flash_dir: Path, profile: dict[str, Any]) -> None:
    """Put a profile on the simulated flash the way the firmware's own store saves it, and make
    it the one loaded at start-up. Runs inside `Simulation.installed()` (firmware importable,
    working directory = `flash_dir`).

    `profile` is what `attune profile export` writes ({"name": ..., "values": {key: value}}) or
    a plain {key: value} dict. TODO(lead): keep in step with firmware/store.py's format.
    """
    import store  # the firmware's
    import version

    name = str(profile.get("name", "simulated")) if "values" in profile else "simulated"
    values = profile.get("values", profile)
    st = store.Store(version.FIRMWARE)
    st.save(name, {str(k): str(v) for k, v in values.items()})
    st.set_active(name)


# Compiled firmware and fake modules, kept for the whole process: every boot (a reset, each
# Simulation of a test run) imports them afresh, and compiling them is most of a boot's time.
_CODE: dict[tuple[str, bytes, int], Any] = {}


class _CachedSourceLoader(importlib.machinery.SourceFileLoader):
    """The standard loader (and its .pyc handling), compiling each distinct source only once
    per process."""

    def source_to_code(self, data: Any, path: Any, *, _optimize: int = -1) -> Any:
        path, source = str(path), bytes(data)
        key = (path, source, _optimize)
        code = _CODE.get(key)
        if code is None:
            code = super().source_to_code(data, path, _optimize=_optimize)
            _CODE[key] = code
        return code


class _CachedFinder:
    """On sys.meta_path during a run: modules found under `roots` load through
    _CachedSourceLoader; anything else is left to the usual finders."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = tuple(str(r) + os.sep for r in roots)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if (
            spec is None
            or type(spec.loader) is not importlib.machinery.SourceFileLoader
            or not str(spec.origin).startswith(self.roots)
        ):
            return None
        spec.loader = _CachedSourceLoader(fullname, str(spec.origin))
        return spec

    def invalidate_caches(self) -> None:
        pass


def _top_level_names(folder: Path) -> set[str]:
    names = set()
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.suffix == ".py" and entry.stem not in ("boot", "main"):
                names.add(entry.stem)
            elif entry.is_dir() and not entry.name.startswith((".", "__")):
                names.add(entry.name)
    return names


class Simulation:
    """One simulated Pico running the firmware on one instrument.

    instrument: a name under boards/instruments/, a .json path, or a dict.
    flash_dir: the Pico's flash (created; a temporary folder when None, removed by close()).
        It keeps what the firmware writes across simulated resets and runs.
    trace: a CSV path or {channel: per-ms raw values}; None leaves every sensor at rest.
    duration_s: virtual seconds to run (default: the trace's length, else 10 s).
    serial: None (output only kept in `serial_log`), "pipe" (`serial_fds`) or "pty"
        (`serial_path`, a terminal device for `attune`/`mpremote`-style tools).
    faults: simulator.world.Fault objects (Unplug, StickADC, StuckBus, FloodSerial, PowerCut,
        StopUSBHost, SerialInput).
    sample_ms: sample the firmware's `runtime.INSTRUMENT` channels every so many ms (for plots).
    strict: an exception escaping main.py ends the run with FirmwareCrash (else the board sits
        at its REPL, as a Pico does).
    """

    def __init__(
        self,
        instrument: str | Path | dict[str, Any],
        flash_dir: str | Path | None = None,
        board: str | Path | dict[str, Any] = "pico",
        trace: str | Path | dict[str, Sequence[int]] | None = None,
        duration_s: float | None = None,
        realtime: bool = False,
        serial: str | None = None,
        profile: str | Path | dict[str, Any] | None = None,
        start_near_wrap: bool | float = False,
        faults: Sequence[Fault] = (),
        firmware_dir: str | Path = FIRMWARE_DIR,
        boards_dir: str | Path = BOARDS_DIR,
        tick_cost_us: int = 1,
        sample_ms: int | None = None,
        strict: bool = True,
        midi_port: bool = False,
        usb_send_cost_us: int | None = None,
        console: Any = None,
    ) -> None:
        self.console = console or sys.stdout
        self.firmware_dir = Path(firmware_dir).resolve()
        if not (self.firmware_dir / "main.py").exists():
            raise FileNotFoundError(f"No main.py in {self.firmware_dir}.")
        self.instrument = find_instrument(instrument, Path(boards_dir))
        self.board = find_board(board, Path(boards_dir))
        self._own_flash = flash_dir is None  # a temporary folder: removed by close()
        self.flash_dir = Path(flash_dir or tempfile.mkdtemp(prefix="attune-flash-")).resolve()
        self.realtime = realtime
        self.strict = strict
        self.clock = Clock(
            cost_us=tick_cost_us, start_near_wrap=start_near_wrap, realtime=realtime
        )
        self.world = World(self.clock, self.instrument, self.board, self.firmware_dir)
        self.world.console = self.console
        if usb_send_cost_us is not None:
            self.world.usb_send_cost_us = usb_send_cost_us
        for message in self.world.warnings:
            print(f"simulator: {message}", file=self.console)
        if trace is not None:
            columns = load_csv(trace) if isinstance(trace, (str, Path)) else trace
            self.world.load_trace({k: list(v) for k, v in columns.items()})
        if duration_s is None:
            duration_s = self.world.trace_ms / 1000.0 if self.world.trace_ms else 10.0
        self.duration_s = float(duration_s)
        self.faults = list(faults)
        self.sample_ms = sample_ms
        self.events: list[Event] = []
        self.din = DinParser()
        self.resets: list[dict[str, Any]] = []
        self.crashes: list[str] = []
        self.samples: dict[str, Any] = {"t_ms": [], "channels": {}}
        self.wall_s = 0.0
        self.stopped_by_user = False
        self._serial_interrupt = False
        self._port_out = VirtualMidiPort(console=self.console) if midi_port else None
        self.world.midi_sinks.append(self._record_midi)
        self.world.din_sinks.append(lambda t_us, data: self.din.feed(t_us / 1000.0, data))
        self.serial = SerialPort(self.clock, self.world, serial)
        self.serial.on_interrupt = self._interrupt_from_serial
        self.world.serial = self.serial
        self._prepare_flash(profile)

    # -- public ---------------------------------------------------------------------------------

    @property
    def serial_path(self) -> str | None:
        return self.serial.path

    @property
    def serial_fds(self) -> tuple[int | None, int | None]:
        """(write here to type to the firmware, read here what it prints), in "pipe" mode."""
        return self.serial.host_write_fd, self.serial.host_read_fd

    @property
    def serial_log(self) -> bytes:
        return bytes(self.serial.log)

    @property
    def traces(self) -> dict[str, tuple[str, list[int]]]:
        """Each channel's raw input over the run (for plots)."""
        from simulator.world import UNITS

        n = int(self.duration_s * 1000)
        out = {}
        for name, inp in self.world.inputs.items():
            out[name] = (UNITS.get(inp.sensor, ""), [inp.at(ms) for ms in range(n)])
        return out

    def run(self) -> list[Event]:
        """Run to the end (or until interrupted); returns the MIDI events sent over USB."""
        self.world.schedule(self.faults)
        end_us = int(self.duration_s * 1_000_000)
        self.clock.call_at(end_us, self._end)
        if self.sample_ms:
            self.clock.call_at(0, self._sample)
        t0 = real_perf_counter()
        try:
            with self.installed(), _interruptible():
                self._boot_loop()
        finally:
            self.wall_s = real_perf_counter() - t0
        return self.events

    def request_stop(self) -> None:
        """End the run soon (safe from another thread; in real-time runs)."""
        self.clock.stop_requested = True
        if not self.realtime:
            _thread.interrupt_main()

    def close(self) -> None:
        self.serial.close()
        if self._port_out is not None:
            self._port_out.close()
        if self._own_flash:
            shutil.rmtree(self.flash_dir, ignore_errors=True)

    def __enter__(self) -> Simulation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- setting up ---------------------------------------------------------------------------

    def _prepare_flash(self, profile: str | Path | dict[str, Any] | None) -> None:
        self.flash_dir.mkdir(parents=True, exist_ok=True)
        board_json = {"board": self.board, "instrument": self.instrument}
        (self.flash_dir / "board.json").write_text(json.dumps(board_json, indent=1))
        if profile is not None:
            if not isinstance(profile, dict):
                profile = json.loads(Path(profile).read_text())
            with self.installed():
                install_profile(self.flash_dir, profile)  # pyright: ignore[reportArgumentType]

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """The firmware's environment: fakes and firmware on sys.path, the flash folder as the
        working directory, the serial port as stdin/stdout, virtual time on `time`."""
        shadow = (
            _top_level_names(FAKES_DIR)
            | _top_level_names(self.firmware_dir)
            | set(_SHADOWED_STDLIB)
        )
        saved_modules = {k: v for k, v in sys.modules.items() if k.split(".", 1)[0] in shadow}
        saved = (
            list(sys.path),
            os.getcwd(),
            sys.stdin,
            sys.stdout,
            getattr(sys, "print_exception", None),
        )
        self._shadow = shadow
        context.clock, context.world = self.clock, self.world
        self.clock.install()
        sys.path[:0] = [str(FAKES_DIR), str(self.firmware_dir)]
        finder = _CachedFinder((FAKES_DIR, self.firmware_dir))
        at = next(
            (i for i, f in enumerate(sys.meta_path) if f is importlib.machinery.PathFinder),
            len(sys.meta_path),
        )
        sys.meta_path.insert(at, finder)  # type: ignore[arg-type]  # (builtins still first)
        missing = _MissingModules(self.world)
        sys.meta_path.insert(0, missing)  # type: ignore[arg-type]
        os.chdir(self.flash_dir)
        sys.stdin = self.serial.stdin  # type: ignore[assignment]
        sys.stdout = self.serial.stdout  # type: ignore[assignment]
        sys.print_exception = _print_exception  # type: ignore[attr-defined]
        try:
            self._fresh_modules()
            yield
        finally:
            self.serial.firmware_running = False
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(finder)  # type: ignore[arg-type]
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(missing)  # type: ignore[arg-type]
            sys.path[:], cwd, sys.stdin, sys.stdout, print_exc = saved  # type: ignore[misc]
            os.chdir(cwd)
            if print_exc is None:
                with contextlib.suppress(AttributeError):
                    del sys.print_exception  # type: ignore[attr-defined]
            self._drop_modules()
            sys.modules.update(saved_modules)
            self.clock.uninstall()
            context.clock = context.world = None

    def _drop_modules(self) -> None:
        for name in list(sys.modules):
            if name.split(".", 1)[0] in self._shadow:
                del sys.modules[name]

    def _fresh_modules(self) -> None:
        """Forget every firmware and fake module (a reset starts from nothing), then load the
        fakes of CPython's own `gc` and `select` (a built-in module is found before sys.path
        is searched, so they must be put in place by hand)."""
        self._drop_modules()
        for name in _SHADOWED_STDLIB:
            path = str(FAKES_DIR / f"{name}.py")
            spec = importlib.util.spec_from_file_location(
                name, path, loader=_CachedSourceLoader(name, path)
            )
            module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
            sys.modules[name] = module
            spec.loader.exec_module(module)  # type: ignore[union-attr]

    # -- running ------------------------------------------------------------------------------

    def _boot_loop(self) -> None:
        state = "boot"
        while True:
            try:
                if state == "boot":
                    self._boot()
                    state = "repl"  # main.py returned: the Pico sits at its REPL
                    self.serial.write(b"\r\n" + _BANNER)
                else:
                    self._repl()
                    state = "boot"
            except SimulationEnd:
                return
            except SimulatedReset as reset:
                try:
                    self._after_reset(reset)  # the board may stay off past the end of the run
                except SimulationEnd:
                    return
                state = "boot"
            except KeyboardInterrupt:
                self.serial.firmware_running = False
                if not self._serial_interrupt:  # Ctrl-C in the simulator's own terminal
                    self.stopped_by_user = True
                    return
                self._serial_interrupt = False
                self.serial.write(
                    b"Traceback (most recent call last):\r\nKeyboardInterrupt: \r\n" + _BANNER
                )
                state = "repl"
            except SystemExit:
                self.serial.write(b"\r\n" + _BANNER)
                state = "repl"
            except Exception as exc:
                text = "".join(traceback.format_exception(exc))
                self.crashes.append(text)
                self.serial.write(text.replace("\n", "\r\n").encode() + _BANNER)
                if self.strict:
                    raise FirmwareCrash(
                        f"The firmware stopped at {self.clock.now_ms:.1f} ms "
                        f"with {type(exc).__name__}: {exc}"
                    ) from exc
                print(
                    f"simulator: firmware crashed at {self.clock.now_ms:.1f} ms:\n{text}",
                    file=self.console,
                )
                state = "repl"
            finally:
                self.serial.firmware_running = False

    def _boot(self) -> None:
        self.world.boots += 1
        self.clock.new_boot()
        self.world.usb_interfaces = []
        self.world.kbd_intr_char = 3
        self._fresh_modules()
        self.serial.firmware_running = True
        namespace: dict[str, Any] | None = None
        boot_py = self.firmware_dir / "boot.py"
        if boot_py.exists():
            namespace = runpy.run_path(str(boot_py), run_name="__main__")
            namespace = {k: v for k, v in namespace.items() if not k.startswith("__")}
        runpy.run_path(
            str(self.firmware_dir / "main.py"), init_globals=namespace, run_name="__main__"
        )

    def _after_reset(self, reset: SimulatedReset) -> None:
        self.serial.firmware_running = False
        self.resets.append({"t_ms": round(self.clock.now_ms, 3), "cause": reset.cause})
        self.clock.clear_halt()
        self.clock.new_boot()  # the old boot's timers and USB transfers die with it
        if reset.soft:
            self.serial.write(b"MPY: soft reboot\r\n")
        else:
            self.world.wdt = None  # a hard reset stops the watchdog; a soft one does not
        if reset.cause == "power cut":
            self.world.reset_cause = PWRON_RESET
        if reset.off_us:
            self.clock.advance(reset.off_us)

    def _repl(self) -> None:
        """The board at its REPL: nothing runs; Ctrl-D soft-reboots into main.py again;
        Ctrl-A enters the raw REPL (what mpremote and `attune doctor` use)."""
        raw: bytearray | None = None  # the code typed so far, in the raw REPL
        while True:
            self.clock.advance(1000)
            data = self.serial.read_available()
            for b in data:
                if raw is None:
                    if b == 4:
                        self.serial.write(b"\r\nMPY: soft reboot\r\n")
                        return
                    if b == 1:
                        raw = bytearray()
                        self.serial.write(b"\r\nraw REPL; CTRL-B to exit\r\n>")
                    elif b == 13:
                        self.serial.write(b"\r\n>>> ")  # Enter: a fresh prompt
                elif b == 2:
                    raw = None
                    self.serial.write(b"\r\n" + _BANNER)
                elif b == 3:
                    raw.clear()
                elif b == 5:
                    self.serial.write(b"R\x00")  # raw-paste mode: not offered
                elif b == 4:
                    if not raw:
                        self.serial.write(b"OK\r\nMPY: soft reboot\r\n")
                        return
                    code, raw = bytes(raw), bytearray()
                    self._raw_exec(code)
                else:
                    raw.append(b)

    def _raw_exec(self, code: bytes) -> None:
        """Run one raw-REPL program: `OK`, its output, Ctrl-D, any traceback, Ctrl-D, `>`.
        A reset or the end of the run it causes goes on up like any other."""
        self.serial.write(b"OK")
        error = b""
        try:
            exec(compile(code.decode(), "<stdin>", "exec"), {"__name__": "__main__"})
        except Exception as exc:  # noqa: BLE001 (the program's own error, shown to the host)
            error = "".join(traceback.format_exception(exc)).replace("\n", "\r\n").encode()
        self.serial.write(b"\x04" + error + b"\x04>")

    def _end(self) -> None:
        self.clock.stop(SimulationEnd())

    def _interrupt_from_serial(self, from_thread: bool) -> None:
        self._serial_interrupt = True
        if from_thread:
            _thread.interrupt_main()
        else:
            raise KeyboardInterrupt

    def _record_midi(self, t_us: int, cin: int, b0: int, b1: int, b2: int) -> None:
        ev = midi_event(t_us / 1000.0, b0, b1, b2)
        if ev is not None:
            self.events.append(ev)
            if self._port_out is not None:
                self._port_out.send(ev)

    def _sample(self) -> None:
        """Record what the firmware's instrument shows (raw, level, threshold, pressed)."""
        assert self.sample_ms is not None  # only scheduled when sampling
        self.clock.call_at(self.clock.now + self.sample_ms * 1000, self._sample)
        runtime = sys.modules.get("runtime")
        inst = getattr(runtime, "INSTRUMENT", None) if runtime is not None else None
        if inst is not None:
            self.samples["t_ms"].append(self.clock.now / 1000.0)
            chans = self.samples["channels"]
            for ch in getattr(inst, "channels", ()):
                rec = chans.get(ch.name)
                if rec is None:
                    rec = chans[ch.name] = {
                        k: [None] * (len(self.samples["t_ms"]) - 1)
                        for k in (
                            "raw",
                            "level",
                            "trigger_level",
                            "baseline",
                            "trigger_raw",
                            "pressed",
                        )
                    }
                for key in rec:
                    rec[key].append(getattr(ch, key, None))


def _print_exception(exc: BaseException, file: Any = None) -> None:
    """MicroPython's `sys.print_exception`."""
    out = file if file is not None else sys.stdout
    out.write("".join(traceback.format_exception(exc)))


def measure_speed(
    instrument: str | dict[str, Any] = "combo",
    seconds: float = 20.0,
    trace: Any = None,
    firmware_dir: str | Path = FIRMWARE_DIR,
    boards_dir: str | Path = BOARDS_DIR,
    runs: int = 1,
) -> dict[str, Any]:
    """For `make bench`: how many times faster than real time the firmware runs headless,
    on the demo's movements (presses, tremor, noise on every channel) unless given a trace.
    The steady speed: a short run first compiles the firmware (once per process, ~40 ms).
    With `runs` > 1, the best run counts (as with timeit: other work on a shared machine only
    ever slows a run down) and every run's figure is listed."""
    from simulator.cli import demo_trace

    inst = find_instrument(instrument, Path(boards_dir))
    if trace is None:
        trace = demo_trace(inst, seconds=int(seconds))
    flash = tempfile.mkdtemp(prefix="attune-bench-")
    speeds: list[float] = []
    notes = 0
    try:
        with open(os.devnull, "w") as quiet:
            with Simulation(
                inst,
                Path(flash) / "warm-up",
                duration_s=0.5,
                firmware_dir=firmware_dir,
                boards_dir=boards_dir,
                console=quiet,
            ) as warm_up:
                warm_up.run()
            for k in range(max(1, runs)):
                with Simulation(
                    inst,
                    Path(flash) / f"run{k}",
                    trace=trace,
                    duration_s=seconds,
                    firmware_dir=firmware_dir,
                    boards_dir=boards_dir,
                    console=quiet,
                ) as sim:
                    t0 = time.perf_counter()
                    sim.run()
                    speeds.append(round(seconds / (time.perf_counter() - t0), 1))
                notes = sum(e["type"] == "note_on" for e in sim.events)
        out: dict[str, Any] = {
            "sim_speed_x_realtime": max(speeds),
            "sim_virtual_s": seconds,
            "sim_wall_s": round(seconds / max(speeds), 3),
            "sim_notes": notes,
        }
        if runs > 1:
            out["sim_speed_runs"] = speeds
        return out
    finally:
        shutil.rmtree(flash, ignore_errors=True)


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """For a run: SIGINT raises KeyboardInterrupt even if this process inherited it ignored.
    A host's Ctrl-C reaches the firmware through _thread.interrupt_main (the serial port's
    thread), which does nothing while SIGINT is ignored, as in a process a script starts in the
    background (no job control): `attune doctor --sim-firmware` then never got its prompt."""
    main = threading.current_thread() is threading.main_thread()
    old = signal.getsignal(signal.SIGINT) if main else None
    if old not in (signal.SIG_IGN, signal.SIG_DFL):
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
