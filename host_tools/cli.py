"""`attune`: look at and re-tune an Attune instrument over its USB serial port.

Usage: attune status | attune set pad.sensitivity 80 | attune monitor | attune profile save anna
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import serial
from rich.console import Console
from rich.errors import MarkupError
from rich.markup import escape
from rich.table import Table

from host_tools import device, errors
from host_tools.client import Client, ImportResult, expand_params
from host_tools.errors import AttuneError, Refused
from host_tools.firmware import INSTALLED, REPO_DIR, version

VERSION = version()  # firmware/version.py: one version for the firmware and the tools
DEFAULT_TIMEOUT_S = 5.0  # a Pico writes ~1.2 KB/s of serial between ticks: a page takes ~1.5 s
PROBE_TIMEOUT_S = 1.0
# What reading a reply of an unexpected shape raises; with an instrument connected, main()
# reports it as BadReply in plain words, never as a traceback
_REPLY_ERRORS = (TypeError, AttributeError, KeyError, ValueError, IndexError, MarkupError)
_CLIENTS: list[Client] = []  # the instruments this run talked to (their last replies)

DESCRIPTION = (
    "Look at and re-tune an Attune instrument while it is played: its settings, a live meter, "
    "calibration and the client's profiles. With one instrument plugged in, no options are "
    "needed; with several, choose one with --port PATH or --device NAME."
)


def _epilog() -> str:
    lines = ["exit status:"]
    for code, meaning in errors.EXIT_CODES:
        lines.append(f"  {code:<4} {meaning}")
    lines.append("")
    lines.append("examples:  attune status   attune set pad.sensitivity 80   attune monitor")
    lines.append("guide:     docs/host-tool.md")
    return "\n".join(lines)


class Ctx:
    """Where a command writes: `out` (results), `err` (messages), and how it asks questions."""

    def __init__(self, as_json: bool = False) -> None:
        self.out = Console(highlight=False)
        self.err = Console(stderr=True, highlight=False)
        self.as_json = as_json
        self.ask: Callable[[str], str] = self.err.input

    def say(self, text: str, style: str | None = None) -> None:
        """A plain message for people; nothing in --json mode."""
        if not self.as_json:
            self.out.print(text, style=style, markup=False, soft_wrap=True)

    def emit(self, obj: Any) -> None:
        sys.stdout.write(json.dumps(obj, indent=2) + "\n")
        sys.stdout.flush()

    def result(self, obj: Any, text: str) -> None:
        """A command's outcome: `obj` as JSON in --json mode, else `text` for people.
        Usage: `ctx.result(reply, "All notes are off.")`."""
        if self.as_json:
            self.emit(obj)
        else:
            self.say(text)


@contextmanager
def session(args: argparse.Namespace) -> Iterator[Client]:
    """The chosen instrument, handshake done; its port is closed afterwards."""
    client = device.connect(args.port, args.device, args.timeout)
    _CLIENTS.append(client)
    try:
        yield client
    finally:
        close = getattr(client.port, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # a vanished port: the command's own result matters more
                pass


def _confirm(ctx: Ctx, args: argparse.Namespace, question: str) -> bool:
    if getattr(args, "yes", False):
        return True
    try:
        return ctx.ask(question + " [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


# -- commands -------------------------------------------------------------------------------


def cmd_ports(args: argparse.Namespace, ctx: Ctx) -> int:
    probes = device.probe_all(args.timeout)
    if ctx.as_json:
        ctx.emit([p.to_json() for p in probes])
    if not probes:
        raise errors.NoDevice(
            "No Pico found. Check that the instrument is plugged in with a data "
            "USB cable (some cables only charge)."
        )
    if not ctx.as_json:
        table = Table(show_edge=False)
        for col in ("port", "instrument", "firmware", "notes"):
            table.add_column(col)
        for p in probes:
            if p.info is not None:
                name = p.info.name + " (" + p.info.instrument + ")"
                note = "in use by Studio" if p.studio else ""
                table.add_row(escape(p.port.path), escape(name), escape(p.info.firmware), note)
            else:
                table.add_row(escape(p.port.path), "-", "-", escape(p.problem))
        ctx.out.print(table)
    return 0


def _fault_text(value: Any) -> str:
    if not value:
        return ""
    return value if isinstance(value, str) else "not answering"


def cmd_status(args: argparse.Namespace, ctx: Ctx) -> int:
    try:
        with session(args) as client:
            status = client.status()
            info = client.info
    except errors.NotAttune as e:
        raise errors.NotAttune(e.message + _why_not_playing(args), e.details) from None
    if ctx.as_json:
        ctx.emit({"device": info.to_json() if info else {}, **status})
        return 0
    assert info is not None
    ctx.out.print(
        f"[bold]{escape(info.name)}[/] ({escape(info.instrument)} on {escape(info.board)}, "
        f"firmware {escape(info.firmware)}) at {escape(info.port)}"
    )
    unsaved = " (changed since it was saved)" if status.get("unsaved") else ""
    ctx.out.print(
        f"State: {status.get('state', '?')}   Profile: "
        f"{status.get('profile') or '(none)'}{unsaved}",
        markup=False,
    )
    config = status.get("config")
    reason = status.get("config_reason")
    if reason and config in ("backup", "defaults"):  # the instrument's own words say why
        ctx.out.print(str(reason), style="yellow", markup=False, soft_wrap=True)
    elif config == "backup":
        ctx.out.print(
            "[yellow]The saved settings could not be read, so the instrument is "
            "using the backup copy. Save the profile again to repair it.[/]"
        )
    elif config == "defaults":
        ctx.out.print(
            "[yellow]No saved settings could be read, so the instrument is using its defaults.[/]"
        )
    ctx.out.print(
        f"Speed: {status.get('tick_hz', '?')} ticks a second "
        f"({status.get('late_ticks', 0)} late)   MIDI messages dropped: "
        f"{status.get('midi_dropped', 0)}   Errors: {status.get('errors', 0)}   "
        f"Free memory: {status.get('mem_free', '?')} bytes",
        markup=False,
        soft_wrap=True,
    )
    table = Table(show_edge=False)
    for col in ("sensor", "kind", "level", "pressed", "fault"):
        table.add_column(col)
    for ch in status.get("channels") or []:
        fault = _fault_text(ch.get("fault"))
        table.add_row(
            escape(str(ch.get("name", ""))),
            escape(str(ch.get("sensor", ""))),
            escape(str(ch.get("level", ""))),
            "yes" if ch.get("pressed") else "",
            f"[bold red]{escape(fault)}[/]" if fault else "",
        )
    ctx.out.print(table)
    return 0


def _why_not_playing(args: argparse.Namespace) -> str:
    """What doctor finds on a board that does not answer as Attune (a wiring mistake at
    start-up, a missing driver, ...), as a sentence to add; "" if nothing can be learnt."""
    from host_tools import doctor

    path = args.port
    if not path:
        ports = device.list_pico_ports()
        path = ports[0].path if len(ports) == 1 else None
    found = doctor.why_not_playing(path, args.timeout) if path else ""
    return ("\n" + found) if found else "\nRun attune doctor to find out why."


def _on(what: object, where: object) -> str:
    """`X on Y` for doctor's heading, `?` for what the board did not say."""
    return str(what or "?") + " on " + str(where or "?")


def cmd_doctor(args: argparse.Namespace, ctx: Ctx) -> int:
    from host_tools import doctor

    proc = None
    port = args.port
    if args.sim:
        proc, port, tmp = doctor.start_simulator(args.sim, args.fault, args.sim_firmware)
    elif args.fault:
        raise AttuneError("--fault only goes with --sim (a simulated instrument).")
    try:
        reports = doctor.examine(port, args.device, args.timeout)
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
            shutil.rmtree(tmp, ignore_errors=True)
    if ctx.as_json:
        ctx.emit({"devices": [r.to_json() for r in reports]})
    for r in reports:
        f = r.facts
        if not ctx.as_json:
            head = r.target or "(nothing connected)"
            if f.get("implementation", "micropython") != "micropython":
                head += ": simulated Pico"
            elif f.get("micropython"):
                head += ": MicroPython " + _on(f["micropython"], f.get("machine"))
            if f.get("micropython") and f.get("attune"):
                head += ", Attune " + str(f["attune"])
                head += " (" + _on(f.get("instrument"), f.get("board")) + ")"
            ctx.out.print(head, style="bold", markup=False, soft_wrap=True)
            marks = {
                "problem": ("PROBLEM", "bold red"),
                "info": ("note", "yellow"),
                "ok": ("OK", "green"),
            }
            for finding in r.findings:
                mark, style = marks.get(finding.level, ("", ""))
                ctx.out.print(
                    "  " + mark + ": " + finding.text, style=style, markup=False, soft_wrap=True
                )
                if finding.fix:
                    ctx.out.print("    What to do: " + finding.fix, markup=False, soft_wrap=True)
        if args.wiring and f.get("instrument") and f.get("board") and not ctx.as_json:
            for line in doctor.wiring_table(str(f["instrument"]), str(f["board"])):
                ctx.out.print(line, markup=False, soft_wrap=True)
    if any(r.state == "none" for r in reports):
        return errors.NO_DEVICE
    return errors.FAILED if any(r.problems for r in reports) else 0


def cmd_maintenance(args: argparse.Namespace, ctx: Ctx) -> int:
    from host_tools import rawrepl

    if args.leave:
        path = args.port or device.find_pico().path
        try:
            client = device.open_client(path, min(args.timeout, 1.5))
        except errors.NotAttune:
            rawrepl.reset(path)
            ctx.say("Restarted the Pico on " + path + ": it plays again in a few seconds.")
            return 0
        _close_client(client)
        ctx.say("The instrument on " + path + " is already playing.")
        return 0
    with session(args) as client:
        reply = client.maintenance()
        name = client.info.name if client.info else "The instrument"
    ctx.result(
        reply,
        name + " is restarting in maintenance mode (no play loop): mpremote and attune "
        "deploy can reach it now. 'attune maintenance --leave', or unplugging it and "
        "plugging it back in, starts it playing again.",
    )
    return 0


def _close_client(client: Client) -> None:
    try:
        client.port.close()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 (a vanished port)
        pass


def allowed_text(row: dict[str, Any]) -> str:
    """A schema row's allowed values in words: '1..100 %', 'note, chord, ...'."""
    kind = row.get("type")
    unit = (" " + str(row["unit"])) if row.get("unit") else ""
    if kind == "int":
        return f"{row.get('min')}..{row.get('max')}{unit}"
    if kind in ("choice", "onoff"):
        return ", ".join(str(c) for c in row.get("choices") or [])
    if kind == "notes":
        return f"{row.get('min', 1)} to {row.get('max')} notes"
    return ""


def cmd_params(args: argparse.Namespace, ctx: Ctx) -> int:
    with session(args) as client:
        rows = client.params()
        info = client.info
        channels = info.channels if info else []
        values: dict[str, str] = {}
        for scope in ["global", *channels]:
            try:
                values.update(client.values(scope))
            except Refused:
                pass  # values are a bonus here; the schema is what was asked for
    full = expand_params(rows, channels)
    for item in full:
        if item["key"] in values:
            item["value"] = values[item["key"]]
    if ctx.as_json:
        ctx.emit(full)
        return 0
    glob = Table(title="Whole instrument", show_edge=False, title_justify="left")
    for col in ("setting", "value", "allowed", "what it does"):
        glob.add_column(col)
    each = Table(
        title="Each sensor: use <sensor>.<setting>, e.g. "
        + (channels[0] if channels else "pad")
        + ".sensitivity",
        show_edge=False,
        title_justify="left",
    )
    each.add_column("setting")
    for c in channels:
        each.add_column(c)
    each.add_column("allowed")
    each.add_column("what it does")
    for row in rows:
        key = str(row.get("key"))
        if row.get("scope") == "channel":
            each.add_row(
                key,
                *[values.get(c + "." + key, "") for c in channels],
                allowed_text(row),
                str(row.get("help", "")),
            )
        else:
            glob.add_row(key, values.get(key, ""), allowed_text(row), str(row.get("help", "")))
    ctx.out.print(glob)
    ctx.out.print()
    ctx.out.print(each)
    return 0


def cmd_get(args: argparse.Namespace, ctx: Ctx) -> int:
    with session(args) as client:
        reply = client.request("get " + args.key)
    if ctx.as_json:
        ctx.emit(reply)
    elif "values" in reply:
        table = Table(show_edge=False)
        table.add_column("setting")
        table.add_column("value")
        for key, value in (reply.get("values") or {}).items():
            table.add_row(escape(str(key)), escape(str(value)))
        ctx.out.print(table)
    else:
        ctx.say(f"{reply.get('key', args.key)} = {reply.get('value', '')}")
    return 0


def cmd_set(args: argparse.Namespace, ctx: Ctx) -> int:
    value = " ".join(args.value)
    with session(args) as client:
        reply = client.set_reply(args.key, value)
    ctx.result(
        reply,
        f"{reply.get('key', args.key)} is now {reply.get('value', value)}. "
        "It plays that way from now on; 'attune profile save' keeps it.",
    )
    return 0


def cmd_reset(args: argparse.Namespace, ctx: Ctx) -> int:
    if not _confirm(ctx, args, "Put every setting back to its default?"):
        ctx.say("Nothing was changed.")
        return 0
    with session(args) as client:
        reply = client.reset()
    ctx.result(
        reply,
        "Every setting is back to its default (the saved profile is unchanged until you save).",
    )
    return 0


def cmd_panic(args: argparse.Namespace, ctx: Ctx) -> int:
    with session(args) as client:
        reply = client.panic()
    ctx.result(reply, "All notes are off.")
    return 0


def cmd_monitor(args: argparse.Namespace, ctx: Ctx) -> int:
    from host_tools.meter import run_monitor

    with session(args) as client:
        return run_monitor(client, ctx.out, args.rate, args.seconds, ctx.as_json)


def cmd_calibrate(args: argparse.Namespace, ctx: Ctx) -> int:
    from host_tools.wizard import run_calibration

    with session(args) as client:
        return run_calibration(
            client,
            args.sensor,
            ctx.out if not ctx.as_json else ctx.err,
            ctx.ask,
            args.yes,
            args.save,
            args.wait,
            ctx.as_json,
        )


def cmd_profile(args: argparse.Namespace, ctx: Ctx) -> int:
    action = args.action
    if action == "delete" and not _confirm(ctx, args, f"Delete the profile '{args.name}'?"):
        ctx.say("Nothing was deleted.")
        return 0
    with session(args) as client:
        if action == "list":
            reply = client.profile_list()
            if ctx.as_json:
                ctx.emit(reply)
                return 0
            names = [str(n) for n in reply.get("profiles") or []]
            active = reply.get("active")
            if not names:
                ctx.say("No profiles saved yet. 'attune profile save NAME' saves one.")
            for n in names:
                ctx.say(n + ("   (in use)" if n == active else ""))
            return 0
        if action == "save":
            saved = client.profile_save(args.name)
            reply = {"saved": saved}
            ctx.say(f"Saved as '{saved}'. It is kept through a power cut.")
        elif action == "load":
            reply = client.profile_load(args.name)
            ctx.say(f"Loaded '{reply.get('loaded', args.name)}'.")
            if reply.get("from") == "backup":
                ctx.say(
                    "The saved copy was damaged, so its backup was loaded. Save it again "
                    "to repair it.",
                    style="yellow",
                )
        elif action == "show":
            reply = client.profile_show(args.name)
            if not ctx.as_json:
                table = Table(
                    title=f"Profile '{reply.get('name', args.name)}'",
                    show_edge=False,
                    title_justify="left",
                )
                table.add_column("setting")
                table.add_column("value")
                for key, value in (reply.get("values") or {}).items():
                    table.add_row(escape(str(key)), escape(str(value)))
                ctx.out.print(table)
        elif action == "delete":
            reply = client.profile_delete(args.name)
            ctx.say(f"Deleted the profile '{args.name}'.")
        elif action == "rename":
            reply = client.profile_rename(args.old, args.new)
            ctx.say(f"Renamed '{args.old}' to '{args.new}'.")
        elif action == "export":
            reply = client.export_profile(args.name, Path(args.file), args.force)
            ctx.say(f"Exported '{args.name}' ({len(reply['values'])} settings) to {args.file}.")
        elif action == "import":
            result = _import(client, args, ctx)
            if result is None:
                ctx.say("Nothing was imported.")
                return 0
            reply = result.to_json()
            ctx.say(
                f"Imported {len(result.applied)} settings from {args.file} and saved them "
                f"as '{result.name}'" + (" (replacing the one there)." if result.replaced else ".")
            )
            if result.defaulted:
                ctx.say(
                    f"The file has no value for {len(result.defaulted)} settings; they take "
                    "the instrument's defaults: " + ", ".join(result.defaulted) + ".",
                    style="yellow",
                )
            if result.refused:
                ctx.say(
                    f"{len(result.refused)} settings were refused and take the instrument's "
                    "defaults:",
                    style="yellow",
                )
                for key, reason in result.refused:
                    ctx.say(f"  {key}: {reason}")
            if ctx.as_json:
                ctx.emit(reply)
            return errors.REFUSED if result.refused else 0
        else:  # argparse only lets known actions through
            raise AttuneError(f"Unknown profile action '{action}'.")
    if ctx.as_json:
        ctx.emit(reply)
    return 0


def _can_ask() -> bool:
    """Whether a person can answer a question (stdin is a terminal, not a script's pipe)."""
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _import(client: Client, args: argparse.Namespace, ctx: Ctx) -> ImportResult | None:
    """`profile import`: asks before replacing a profile of the same name (--force does not
    ask; with no one to ask, it refuses). None when the answer was no."""
    try:
        return client.import_profile(Path(args.file), args.name, replace=args.force)
    except errors.ProfileExists as e:
        if not _can_ask():
            raise errors.ProfileExists(
                e.message.replace(" (add --force)", "")
                + " No question can be asked here (no terminal): add --force to replace it."
            ) from None
        if not _confirm(ctx, args, e.message.split(";")[0] + ". Replace it with the file?"):
            return None
        return client.import_profile(Path(args.file), args.name, replace=True)


def cmd_deploy(args: argparse.Namespace, ctx: Ctx) -> int:
    from host_tools import deps
    from host_tools.deploy import deploy

    if args.fetch_deps:
        manifest = deps.fetch()
        if ctx.as_json:
            ctx.emit(manifest)
        else:
            ctx.say(
                "Downloaded "
                + deps.PACKAGE
                + " ("
                + ", ".join(k + " " + v for k, v in manifest["versions"].items())
                + ", "
                + str(len(manifest["files"]))
                + " files) into "
                + str(deps.package_dir())
                + ". 'attune deploy --offline' now needs no internet."
            )
        if not (args.board and args.instrument):
            return 0
    if not (args.board and args.instrument):
        raise errors.AttuneError(
            "attune deploy needs --board and --instrument, e.g. attune "
            "deploy --board pico --instrument combo."
        )
    return deploy(
        args.board,
        args.instrument,
        ctx.out,
        port=args.port,
        dry_run=args.dry_run,
        stage=Path(args.stage) if args.stage else None,
        mip=not args.no_mip,
        timeout=args.timeout,
        as_json=ctx.as_json,
        offline=args.offline,
    )


# -- commands owned elsewhere ---------------------------------------------------------------


def _has_simulator() -> bool:
    try:
        return importlib.util.find_spec("simulator.cli") is not None
    except ImportError:
        return False


def run_sim(rest: list[str]) -> int:
    """`attune sim ...`: simulator.cli registers its own subcommand; imported only when used."""
    if not _has_simulator():
        Console(stderr=True).print("The simulator is not in this checkout yet.", markup=False)
        return errors.FAILED
    sim = importlib.import_module("simulator.cli")
    parser = argparse.ArgumentParser(prog="attune")
    sub = parser.add_subparsers(dest="command", required=True)
    sim.register(sub)
    try:
        args = parser.parse_args(["sim", *rest])
    except SystemExit as e:  # --help or a mistyped option: argparse has said why
        return e.code if isinstance(e.code, int) else errors.USAGE
    func = getattr(args, "func", None)
    if func is None:
        parser.error("the simulator registered no handler for 'sim'")
    result = func(args)
    return int(result or 0)


def run_bench(rest: list[str]) -> int:
    """`attune bench ...`: `python -m benchmarks` in the repository."""
    if INSTALLED:  # they need the checkout's tests/ and the MicroPython VM from npm
        Console(stderr=True).print(
            "The benchmarks run in a checkout of Attune's source "
            "(make bench), not from an installed attune.",
            markup=False,
        )
        return errors.FAILED
    if not (REPO_DIR / "benchmarks" / "__main__.py").is_file():
        Console(stderr=True).print(
            "The benchmarks are not in this checkout yet (benchmarks/__main__.py).", markup=False
        )
        return errors.FAILED
    return subprocess.call([sys.executable, "-m", "benchmarks", *rest], cwd=REPO_DIR)


def run_studio(rest: list[str]) -> int:
    """`attune studio ...`: host_tools/hub/studio.py, imported only when used."""
    from host_tools.hub import studio

    return studio.main(rest)


PASS_THROUGH = {"sim": run_sim, "bench": run_bench, "studio": run_studio}


# -- the parser -----------------------------------------------------------------------------


def _device_options(json_help: str = "print JSON for scripts") -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    g = parent.add_argument_group("choosing the instrument")
    g.add_argument(
        "--port",
        metavar="PATH",
        help="serial port, e.g. /dev/ttyACM0, COM3 or the simulator's /dev/pts/N",
    )
    g.add_argument(
        "--device",
        metavar="NAME",
        help="the instrument's name, e.g. squeeze-pad (for group sessions)",
    )
    g.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long to wait for each answer (default {DEFAULT_TIMEOUT_S:g})",
    )
    g.add_argument("--json", action="store_true", help=json_help)
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attune",
        description=DESCRIPTION,
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version="attune " + VERSION)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    dev = _device_options()

    def add(
        name: str,
        func: Callable[..., int],
        text: str,
        parents: list[argparse.ArgumentParser] | None = None,
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name, help=text, description=text, parents=[dev] if parents is None else parents
        )
        p.set_defaults(func=func)
        return p

    ports = sub.add_parser("ports", help="list the Picos plugged in and which are Attune")
    ports.add_argument("--timeout", type=float, default=PROBE_TIMEOUT_S, metavar="SECONDS")
    ports.add_argument("--json", action="store_true", help="print JSON for scripts")
    ports.set_defaults(func=cmd_ports, port=None, device=None)

    add("status", cmd_status, "what the instrument is doing: profile, sensors, faults")
    add("params", cmd_params, "every setting with its value, allowed range and meaning")
    p = add("get", cmd_get, "show one setting (pad.sensitivity), a sensor's or 'global'")
    p.add_argument("key", metavar="KEY")
    p = add("set", cmd_set, "change a setting now, while the client plays")
    p.add_argument("key", metavar="KEY")
    p.add_argument(
        "value",
        metavar="VALUE",
        nargs="+",
        help="the new value; melodies take several notes: C4 D4 E4",
    )
    p = add("reset", cmd_reset, "put every setting back to its default")
    p.add_argument("--yes", action="store_true", help="do not ask first")
    p = add(
        "monitor",
        cmd_monitor,
        "a live meter of every sensor (Ctrl-C stops it)",
        [_device_options("print each line from the instrument as JSON")],
    )
    p.add_argument(
        "--rate", type=int, default=20, metavar="HZ", help="updates a second (default 20)"
    )
    p.add_argument("--seconds", type=float, default=None, help="stop after this long")
    p = add("calibrate", cmd_calibrate, "learn a sensor's rest and range, step by step")
    p.add_argument("sensor", metavar="SENSOR")
    p.add_argument("--yes", action="store_true", help="use the result without asking")
    p.add_argument(
        "--save",
        nargs="?",
        const="",
        default=None,
        metavar="NAME",
        help="then save the profile (the one in use, or NAME)",
    )
    p.add_argument(
        "--wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="longest the whole calibration may take (default 60)",
    )
    add("panic", cmd_panic, "stop every sounding note now")

    prof = sub.add_parser(
        "profile",
        help="the client's saved settings: list, save, load, ...",
        description="Profiles keep a client's settings on the instrument; "
        "export and import move them through a file on this computer.",
    )
    acts = prof.add_subparsers(dest="action", metavar="ACTION", required=True)
    prof.set_defaults(func=cmd_profile)

    def act(name: str, text: str) -> argparse.ArgumentParser:
        return acts.add_parser(name, help=text, description=text, parents=[dev])

    act("list", "the saved profiles and the one in use")
    act("save", "save the settings in use (as NAME, or the profile in use)").add_argument(
        "name", metavar="NAME", nargs="?"
    )
    act("load", "play with a saved profile").add_argument("name", metavar="NAME")
    act("show", "the settings a profile holds").add_argument("name", metavar="NAME")
    p = act("delete", "delete a saved profile")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--yes", action="store_true", help="do not ask first")
    p = act("rename", "give a profile a new name")
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    p = act("export", "copy a profile into a JSON file on this computer")
    p.add_argument("name", metavar="NAME")
    p.add_argument("file", metavar="FILE.json")
    p.add_argument("--force", action="store_true", help="replace the file if it exists")
    p = act("import", "set and save the settings from a profile file")
    p.add_argument("file", metavar="FILE.json")
    p.add_argument(
        "name",
        metavar="NAME",
        nargs="?",
        help="save under this name (default: the name in the file)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace a profile of the same name without asking (for scripts)",
    )

    p = sub.add_parser(
        "deploy",
        help="install the firmware on a Pico (for makers)",
        description="Compile firmware/ and copy it with a board and instrument "
        "definition to a Pico, then restart it.",
    )
    p.add_argument("--board", help="pico, pico_w or pico2")
    p.add_argument("--instrument", help="e.g. big-switch, squeeze-pad, combo")
    p.add_argument("--port", metavar="PATH", help="the Pico's serial port")
    p.add_argument("--dry-run", action="store_true", help="print the exact steps, do nothing")
    p.add_argument(
        "--stage", metavar="DIR", help="only write the files that would go on the board into DIR"
    )
    p.add_argument(
        "--no-mip", action="store_true", help="skip installing usb-device-midi (already there)"
    )
    p.add_argument(
        "--offline",
        action="store_true",
        help="install usb-device-midi from the local copy (see --fetch-deps), no internet needed",
    )
    p.add_argument(
        "--fetch-deps",
        action="store_true",
        help="download usb-device-midi once into this computer's cache (needs "
        "internet), for later --offline deploys",
    )
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=cmd_deploy)

    p = add(
        "doctor",
        cmd_doctor,
        "find the Pico and say what is wrong and what to do (read-only)",
        [_device_options("print the findings as JSON")],
    )
    p.add_argument(
        "--sim", metavar="INSTRUMENT", help="examine a simulated instrument instead (e.g. combo)"
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="with --sim: a simulator fault, e.g. unplug:hand@0, sda-short:0@0, "
        "address:hand=0x30@0, missing-lib:usb-device-midi@0",
    )
    p.add_argument("--sim-firmware", metavar="DIR", help=argparse.SUPPRESS)
    p.add_argument("--wiring", action="store_true", help="also show which wire goes to which pin")
    p = add(
        "maintenance",
        cmd_maintenance,
        "restart the instrument without its play loop so "
        "mpremote or deploy can reach it; --leave plays again",
    )
    p.add_argument(
        "--leave", action="store_true", help="restart the board into play (after maintenance)"
    )

    from host_tools.journal import report_cli
    from host_tools.journal.cli import add_commands as add_journal_commands

    add_journal_commands(sub, dev, add)  # record, cue, clients, journal (issue 15)
    report_cli.register(sub)  # report (issue 15)

    if _has_simulator():
        sub.add_parser(
            "sim", help="run the simulated instrument (attune sim --help)", add_help=False
        )
    sub.add_parser("bench", help="run the benchmarks (python -m benchmarks)", add_help=False)
    sub.add_parser(
        "studio", help="Attune Studio in the browser (attune studio --help)", add_help=False
    )
    return parser


def report(exc: AttuneError, ctx: Ctx) -> None:
    ctx.err.print(exc.message, style="bold red", markup=False, soft_wrap=True)
    if ctx.as_json:
        ctx.emit(exc.to_json())


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so Python's exit flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (e.g. under a test's capture): nothing to silence


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in PASS_THROUGH:
        return PASS_THROUGH[args_list[0]](args_list[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as e:  # --help, --version or a mistyped command: argparse has said why
        return e.code if isinstance(e.code, int) else errors.USAGE
    ctx = Ctx(as_json=getattr(args, "json", False))
    _CLIENTS.clear()
    try:
        return int(args.func(args, ctx))
    except AttuneError as e:
        report(e, ctx)
        return e.exit_code
    except _REPLY_ERRORS as e:
        if not _CLIENTS:
            raise  # no instrument was asked: a bug in this tool, not a reply
        last = _CLIENTS[-1].last_reply
        bad = errors.BadReply(
            "The instrument sent a reply this attune tool cannot read ("
            + type(e).__name__
            + ": "
            + str(e)
            + "). The tool and the instrument's firmware may be of different versions: "
            "update both ('attune deploy' installs the firmware). If it keeps happening, "
            "report it with this message.",
            details=[last] if last else [],
        )
        report(bad, ctx)
        return bad.exit_code
    except KeyboardInterrupt:
        ctx.err.print("Stopped.", markup=False)
        return errors.INTERRUPTED
    except BrokenPipeError:  # the reader left (`attune monitor --json | head`): stop quietly
        _silence_stdout()
        return 0
    except serial.SerialException as e:  # the cable came out, or the port vanished
        lost = errors.DeviceTimeout(
            "The connection to the instrument was lost (" + str(e) + "). Is it still plugged in?"
        )
        report(lost, ctx)
        return lost.exit_code


if __name__ == "__main__":
    sys.exit(main())
