"""`attune doctor`: find the Pico (also as a BOOTSEL drive), read what is on it and say in plain
words what to do next for each problem. Read-only: it changes nothing on the board.

Usage: reports = examine(port=None); for r in reports: print(r.findings)

A playing instrument answers the `diagnose` command (firmware/diagnosis.py); a board where
Attune is not answering is read through MicroPython's raw REPL with the same module, or with a
few lines of plain MicroPython when Attune is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from host_tools import device, rawrepl
from host_tools.errors import AttuneError, NoDevice, NotAttune, Refused
from host_tools.firmware import BOARDS_DIR, REPO_DIR

MICROPYTHON_MIN = (1, 23)
# Which MicroPython download each board needs (micropython.org/download/<ID>).
UF2_NAMES = {"pico": "RPI_PICO", "pico_w": "RPI_PICO_W", "pico2": "RPI_PICO2 (the ARM build)"}
_FACTS_SCRIPT = """import sys, os, json
try:
    import diagnosis
    d = diagnosis.facts()
except ImportError:
    v = sys.implementation.version
    d = {"micropython": "%d.%d.%d" % (v[0], v[1], v[2]), "implementation":
         sys.implementation.name, "machine": os.uname().machine if hasattr(os, "uname") else "",
         "attune": "", "files": sorted(os.listdir())}
    try:
        import usb.device.midi
        d["usb_midi_error"] = ""
    except ImportError as e:
        d["usb_midi_error"] = str(e) or "not installed"
print(json.dumps(d))
"""


@dataclass
class Finding:
    """One thing doctor found: `level` "problem", "info" or "ok"; `cause` a short code (the
    docs' troubleshooting page lists them); `text` what is wrong; `fix` what to do next."""

    level: str
    cause: str
    text: str
    fix: str = ""


@dataclass
class Report:
    """What doctor found on one port or drive. `state`: "playing" (Attune answers), "repl"
    (a MicroPython prompt, Attune not playing), "no-repl", "busy", "bootsel" or "none"."""

    target: str
    state: str
    facts: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def add(self, level: str, cause: str, text: str, fix: str = "") -> None:
        self.findings.append(Finding(level, cause, text, fix))

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "problem"]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# -- finding the board ----------------------------------------------------------------------


def mount_roots() -> list[Path]:
    """Folders under which a Pico in BOOTSEL mode shows up as a drive ($ATTUNE_MOUNT_ROOTS, a
    path list, replaces them: for tests and unusual set-ups)."""
    override = os.environ.get("ATTUNE_MOUNT_ROOTS")
    if override is not None:
        return [Path(p) for p in override.split(os.pathsep) if p]
    if sys.platform == "win32":
        return [Path(c + ":\\") for c in "DEFGHIJKLMNOPQRSTUVWXYZ"]
    if sys.platform == "darwin":
        return [Path("/Volumes")]
    user = os.environ.get("USER", "")
    return [Path("/media") / user, Path("/run/media") / user, Path("/media"), Path("/mnt")]


def find_bootsel_drives(roots: list[Path] | None = None) -> list[tuple[Path, dict[str, str]]]:
    """Mounted drives holding INFO_UF2.TXT (a Pico or Pico 2 in BOOTSEL mode), with its
    fields ("Model", "Board-ID", ...)."""
    found = []
    for root in roots if roots is not None else mount_roots():
        candidates = [root] if (root / "INFO_UF2.TXT").is_file() else []
        try:
            if root.is_dir() and not candidates:
                candidates = sorted(p for p in root.iterdir() if (p / "INFO_UF2.TXT").is_file())
        except OSError:  # an unreadable or vanished mount: look elsewhere
            continue
        for drive in candidates:
            info = {}
            try:
                for line in (drive / "INFO_UF2.TXT").read_text(errors="replace").splitlines():
                    key, sep, value = line.partition(":")
                    if sep:
                        info[key.strip()] = value.strip()
            except OSError:
                continue
            if drive not in [d for d, _ in found]:
                found.append((drive, info))
    return found


def bootsel_report(drive: Path, info: dict[str, str]) -> Report:
    board_id = info.get("Board-ID", "")
    model = info.get("Model", "a Pico")
    r = Report(str(drive), "bootsel", {"drive": str(drive), **info})
    pico2 = "RP2350" in board_id or "RP2350" in model
    which = (
        "RPI_PICO2 (the ARM build, not RISC-V)"
        if pico2
        else "RPI_PICO (or RPI_PICO_W for a Pico W)"
    )
    r.add(
        "problem",
        "bootsel",
        f"{model} is in BOOTSEL mode (the drive {drive}, {board_id or 'no board id'}): it "
        "waits for firmware and runs nothing.",
        f"Copy MicroPython {MICROPYTHON_MIN[0]}.{MICROPYTHON_MIN[1]} or later for {which} "
        "from micropython.org/download onto this drive. The drive disappears and the Pico "
        "restarts with MicroPython; then run attune deploy.",
    )
    return r


# -- reading a board ------------------------------------------------------------------------


def read_facts(path: str, timeout: float) -> dict[str, Any]:
    """Facts from a board at its MicroPython prompt, through the raw REPL (read-only)."""
    out, err = rawrepl.run_code(path, _FACTS_SCRIPT, timeout=max(timeout, 4.0))
    if err.strip():
        raise rawrepl.NoRepl("The facts script failed on the board: " + err.strip()[-300:])
    for line in reversed(out.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise rawrepl.NoRepl("The board printed no facts: " + out[-200:])


def examine_port(path: str, timeout: float) -> Report:
    """Everything doctor can learn from one serial port, with its findings."""
    try:  # a Pico answers hello at once; a board at its prompt never does: wait less
        client = device.open_client(path, min(timeout, 2.0))
        client.timeout = timeout
    except NotAttune:
        client = None
    except AttuneError as e:
        r = Report(path, "busy")
        r.add(
            "problem",
            "port_busy",
            e.message,
            "Close the other program (a serial terminal, Thonny, mpremote, a DAW plug-in) "
            "and run attune doctor again.",
        )
        return r
    if client is None:
        try:
            facts = read_facts(path, timeout)
        except rawrepl.NoRepl as e:
            r = Report(path, "no-repl", {"why": e.message})
            r.add(
                "problem",
                "no_micropython",
                "The Pico on " + path + " answers neither as Attune nor with a MicroPython "
                "prompt: it runs other firmware (CircuitPython, an Arduino sketch, ...) or a "
                "program that ignores Ctrl-C.",
                "Put MicroPython on it: unplug it, hold BOOTSEL while plugging it back in, and "
                "copy the MicroPython .uf2 file onto the drive that appears (attune doctor "
                "then says which one). Then run attune deploy.",
            )
            return r
        except AttuneError as e:
            r = Report(path, "busy")
            r.add("problem", "port_busy", e.message, "Close the other program and try again.")
            return r
        r = Report(path, "repl", facts)
    else:
        try:
            return examine_client(client, path, timeout)
        finally:
            _close(client)
    analyse(r)
    return r


def examine_client(client: Any, target: str, timeout: float) -> Report:
    """The report on a playing instrument reached through `client` (a port of its own, or
    Attune Studio's hub: host_tools/hub/remote.py)."""
    try:
        facts = client.request("diagnose", timeout=max(timeout, 4.0))
    except Refused:  # firmware from before `diagnose`: what status says
        facts = facts_from_status(client.status(), client.info)
    return playing_report(target, facts, client.info)


def playing_report(target: str, facts: dict[str, Any], info: Any = None) -> Report:
    """Findings from a playing instrument's `diagnose` facts (also Studio's doctor panel)."""
    if info is not None:
        facts.setdefault("title", info.title)
    r = Report(target, "playing", facts)
    analyse(r)
    return r


def facts_from_status(status: dict[str, Any], info: Any) -> dict[str, Any]:
    """What `status` tells on firmware from before `diagnose`, as its facts."""
    return {
        "attune": info.firmware if info else "?",
        "board": info.board if info else "",
        "instrument": info.instrument if info else "",
        "usb_midi_error": "",
        "channels": [
            [c.get("name"), c.get("sensor"), c.get("fault") or ""]
            for c in status.get("channels") or []
        ],
        "restarts": status.get("restarts", 0),
        "scan": [],
        "wiring": "",
        "crash_log": "",
        "old_firmware": True,
    }


def _close(client: Any) -> None:
    try:
        client.port.close()
    except Exception:  # noqa: BLE001 (a vanished port: the report matters more)
        pass


# -- what it means ----------------------------------------------------------------------------


def _version(text: str) -> tuple[int, ...]:
    out = []
    for part in str(text).split(".")[:3]:
        digits = "".join(c for c in part if c.isdigit())
        out.append(int(digits or 0))
    return tuple(out)


def _guess_board(machine: str) -> str:
    """The deploy --board name for MicroPython's own board name (os.uname().machine)."""
    if "RP2350" in machine or "Pico 2" in machine:
        return "pico2"
    if "Pico W" in machine:
        return "pico_w"
    return "pico"


def _deploy_line(facts: dict[str, Any]) -> str:
    board = facts.get("board") or _guess_board(str(facts.get("machine", "")))
    inst = facts.get("instrument") or "INSTRUMENT"
    return "attune deploy --board " + board + " --instrument " + inst


def analyse(r: Report) -> None:
    """Turn a board's facts into findings, most basic first (nothing above works without
    what is below it)."""
    f = r.facts
    impl = f.get("implementation", "micropython")
    mp = f.get("micropython", "")
    deploy = _deploy_line(f)
    if impl == "micropython" and mp and _version(mp) < MICROPYTHON_MIN:
        r.add(
            "problem",
            "micropython_old",
            f"MicroPython {mp} is too old for Attune (it needs "
            f"{MICROPYTHON_MIN[0]}.{MICROPYTHON_MIN[1]} or later).",
            "Flash a newer MicroPython: hold BOOTSEL while plugging the Pico in and copy the "
            f"new .uf2 onto the drive. Then run {deploy}.",
        )
    if f.get("usb_midi_error"):
        r.add(
            "problem",
            "usb_midi_missing",
            f"The USB MIDI driver (usb-device-midi) is not installed ({f['usb_midi_error']}), "
            "so the Pico shows up only as a serial port, not as a MIDI instrument.",
            f"Run {deploy} (it installs the driver; needs internet), or on a computer without "
            f"internet: attune deploy --fetch-deps once while online, then {deploy} --offline.",
        )
    if not f.get("attune"):
        others = ", with other files: " + ", ".join(f["files"][:8]) if f.get("files") else ""
        r.add(
            "problem",
            "attune_missing",
            f"Attune is not installed on this Pico (MicroPython {mp or '?'} is there{others}).",
            f"Install it with {deploy}, choosing your board (pico, pico_w or pico2) and "
            "instrument (attune deploy --help).",
        )
        return
    if f.get("board_file"):
        r.add(
            "problem",
            "board_file",
            f"The instrument's description (board.json) on the Pico is {f['board_file']}.",
            f"Run {deploy} again: it writes board.json afresh.",
        )
    if f.get("wiring"):
        r.add(
            "problem",
            "wiring",
            "The wiring in the instrument file is wrong, so the instrument cannot start: "
            f"{f['wiring']}",
            f"Correct boards/instruments/{f.get('instrument') or 'INSTRUMENT'}.json (or the "
            f"wiring) and run {deploy} again; deploy checks the wiring before it copies anything.",
        )
    sensor_causes = _scan_findings(r)
    for name, kind, fault in f.get("channels") or []:
        if fault and name not in sensor_causes and "end of its range" in fault:
            r.add(
                "problem",
                "sensor_rail",
                f"The sensor '{name}' ({kind}) reads the very end of its range all the time: "
                "a wire is off, the sensor is on another pin than the instrument file says, "
                "or its resistor is wrong.",
                "Check its three wires (3V3, GND and the signal pin in the instrument file) "
                "and the resistor value in docs/hardware.md. attune monitor shows its reading "
                "live; it should move when pressed and rest well inside the range.",
            )
        elif fault and name not in sensor_causes:
            r.add(
                "problem",
                "sensor_fault",
                f"The sensor '{name}' ({kind}) reports: {fault}.",
                "Check its cable and plug; for a pad or distance sensor also check that it "
                "is wired to the pin the instrument file names. attune monitor shows its "
                "reading live.",
            )
    if r.state == "repl" and not r.problems:
        why = _last_crash(f.get("crash_log", ""))
        r.add(
            "problem",
            "not_started",
            "Attune is installed but not playing"
            + (": " + why if why else " (it may be in maintenance mode)."),
            "Unplug the Pico and plug it back in (or run attune maintenance --leave). If it "
            "still does not play, run attune doctor again and keep its output "
            "(attune doctor --json) for whoever helps you.",
        )
    if f.get("crash_log"):
        r.add(
            "info",
            "crash_log",
            "The crash log (errors.log) on the Pico ends with: " + _last_crash(f["crash_log"]),
            "Nothing to do if the instrument plays; the log is kept small. Keep it for a "
            "bug report if a crash repeats."
            if r.state == "playing"
            else "This is why it stopped; the problem above says what to do.",
        )
    if f.get("restarts"):
        r.add(
            "info",
            "restarts",
            f"The play loop has restarted {f['restarts']} times since power-up after an "
            "error (each in errors.log).",
            "If notes stop or stick, report the crash log.",
        )
    if f.get("old_firmware"):
        r.add(
            "info",
            "old_firmware",
            "This Attune firmware is older than the 'diagnose' command, so the I2C scan and "
            "crash log could not be read.",
            f"Run {deploy} to update it.",
        )
    if not r.problems and r.state == "playing":
        title = f.get("title") or f.get("instrument") or "instrument"
        if impl == "micropython":
            runs = f"firmware {f.get('attune', '?')}, MicroPython {mp or '?'}"
        else:  # the simulator: its "MicroPython" version would be this computer's Python's
            runs = f"simulated instrument: firmware {f.get('attune', '?')} runs on this computer"
        r.add(
            "ok",
            "playing",
            f"Attune {title} on {_board_name(f.get('board', ''))} is playing ({runs}).",
            f"To hear it, choose 'Attune {title}' as the MIDI input of a synth or DAW.",
        )


def _board_name(board_id: str) -> str:
    """A board as people know it ("a Raspberry Pi Pico"), from boards/<id>.json; "board <id>"
    for one this computer does not know."""
    try:
        doc = json.loads((BOARDS_DIR / (str(board_id) + ".json")).read_text())
    except (OSError, ValueError):
        return "board " + str(board_id) if board_id else "an unknown board"
    name = doc.get("name") if isinstance(doc, dict) else None
    return "a " + name if isinstance(name, str) and name else "board " + str(board_id)


def _last_crash(log: str) -> str:
    lines = [ln.strip() for ln in str(log).splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _scan_findings(r: Report) -> set[str]:
    """Findings from the I2C scan; returns the channel names they explain."""
    explained: set[str] = set()
    for bus in r.facts.get("scan") or []:
        pins = f"I2C{bus['bus']} (SDA GP{bus['sda']}, SCL GP{bus['scl']})"
        names = [name for _, name in bus.get("expected", [])]
        if bus.get("error"):
            sda, scl = bus.get("sda_level"), bus.get("scl_level")
            if sda == 0 and scl == 0 or scl == 0:
                what = (
                    "both lines are held low: no pull-up resistors (is the sensor board "
                    "powered from 3V3 and GND?) or a short to ground"
                )
            elif sda == 0:
                what = (
                    "SDA is held low: a sensor stuck in the middle of a transfer, or SDA "
                    "shorted to ground"
                )
            else:
                what = "the scan failed (" + str(bus["error"]) + ")"
            r.add(
                "problem",
                "bus_stuck",
                f"The I2C bus {pins} is stuck: {what}.",
                "Unplug the Pico, check the sensor's four wires (3V3, GND, SDA, SCL) for a "
                "loose strand touching another, and plug it back in: a power cycle frees a "
                "stuck sensor. If it stays stuck, try the sensor on its own.",
            )
            explained.update(names)
            continue
        found = list(bus.get("found") or [])
        for address, name in bus.get("expected", []):
            if address in found:
                continue
            others = [a for a in found if a not in [e for e, _ in bus["expected"]]]
            if others:
                r.add(
                    "problem",
                    "wrong_address",
                    f"The sensor '{name}' should answer at {address:#04x} on {pins}, but the "
                    f"chip there answers at {', '.join(f'{a:#04x}' for a in others)}.",
                    f'If that chip is the sensor, set "address": {others[0]} '
                    f"({others[0]:#04x} written in decimal, as JSON wants) for '{name}' "
                    f"in boards/instruments/{r.facts.get('instrument') or 'INSTRUMENT'}.json "
                    "and deploy again; or wire its address pin (ADDR/SDO) for "
                    f"{address:#04x}.",
                )
            else:
                r.add(
                    "problem",
                    "sensor_missing",
                    f"No chip answers on {pins}: the sensor '{name}' (expected at "
                    f"{address:#04x}) is not connected.",
                    f"Check its four wires: 3V3 and GND, SDA to GP{bus['sda']}, SCL to "
                    f"GP{bus['scl']} (not swapped), and that the plug is pushed fully in. "
                    "A bare chip without a breakout board also needs pull-up resistors.",
                )
            explained.add(name)
    return explained


# -- the command ----------------------------------------------------------------------------


def examine(
    port: str | None = None, device_name: str | None = None, timeout: float = 2.0
) -> list[Report]:
    """Reports for the chosen Pico, or every Pico and BOOTSEL drive found. While Attune Studio
    runs, the instruments it holds are examined through it (it keeps their ports open)."""
    from host_tools.hub import remote

    held = remote.held_instruments()  # {} when Studio is not running
    if port:
        if port in held:
            return [examine_in_studio(held[port], timeout)]
        return [examine_port(port, timeout)]
    ports = device.list_pico_ports()
    reports = []
    if device_name and held:
        hits = [i for i in held.values() if remote.names(i, device_name)]
        if len(hits) == 1:
            return [examine_in_studio(hits[0], timeout)]
    if device_name:
        for p in ports:
            if p.path in held:
                continue
            probe = device.probe(p, timeout)
            if probe.info is not None and probe.info.matches(device_name):
                return [examine_port(p.path, timeout)]
        raise NoDevice(
            "No instrument called '" + device_name + "' found. Run attune doctor "
            "without --device to look at every Pico."
        )
    for p in ports:
        if p.path in held:
            reports.append(examine_in_studio(held[p.path], timeout))
        else:
            reports.append(examine_port(p.path, timeout))
    for inst in held.values():
        if inst.get("simulated"):
            reports.append(examine_in_studio(inst, timeout))
    for drive, info in find_bootsel_drives():
        reports.append(bootsel_report(drive, info))
    if not reports:
        r = Report("", "none")
        r.add(
            "problem",
            "no_pico",
            "No Pico found: no serial port with the Raspberry Pi USB id and no BOOTSEL drive.",
            "Plug the Pico in with a data USB cable (many cables only charge). A brand-new "
            "Pico has no MicroPython yet: hold BOOTSEL while plugging it in and run attune "
            "doctor again.",
        )
        reports.append(r)
    return reports


def examine_in_studio(inst: dict[str, Any], timeout: float) -> Report:
    """The report on an instrument Attune Studio holds open (`inst`: its Instrument JSON),
    through Studio; a plain-words problem when Studio cannot reach it."""
    from host_tools.hub import remote

    ident = str(inst.get("id"))
    target = ident + (" (simulated, in Attune Studio)" if inst.get("simulated") else "")
    target += "" if inst.get("simulated") else " (through Attune Studio)"
    try:
        client = remote.connect(ident, timeout)
        if client is None:
            raise AttuneError("Attune Studio stopped while doctor was looking.")
        try:
            return examine_client(client, target, timeout)
        finally:
            _close(client)
    except AttuneError as e:
        r = Report(target, "busy")
        r.add(
            "problem",
            "studio_unreachable",
            "Attune Studio holds this instrument's port but could not reach it: " + e.message,
            "Look at the instrument's card in Studio (unplug it and plug it back in if it says "
            "it is not connected), or stop Studio and run attune doctor again.",
        )
        return r


def why_not_playing(path: str, timeout: float) -> str:
    """For `attune status` when the board does not answer as Attune: if it sits at its prompt
    (Attune stopped or never started), the first problem doctor finds and its fix; else ""."""
    try:
        if not rawrepl.at_prompt(path):
            return ""
        r = Report(path, "repl", read_facts(path, timeout))
    except AttuneError:
        return ""
    analyse(r)
    if not r.problems:
        return ""
    first = r.problems[0]
    return first.text + " " + first.fix


def wiring_table(instrument: str, board: str) -> list[str]:
    """`--wiring`: which wire goes to which pin, from the instrument and board files (the
    same files deploy copies), and the diagram files that show it, where the docs have one."""
    path = BOARDS_DIR / "instruments" / (instrument + ".json")
    try:
        inst = json.loads(path.read_text(encoding="utf-8"))
        board_def = json.loads((BOARDS_DIR / (board + ".json")).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [
            "(no wiring to show: " + str(path) + " or boards/" + board + ".json is not "
            "in this checkout)"
        ]
    lines = [f"Wiring of {inst.get('title', instrument)} on the {board_def.get('name', board)}:"]
    for ch in inst.get("channels", []):
        kind = ch.get("sensor")
        if kind == "switch":
            pull = ch.get("pull", "up")
            to = "GND" if pull != "down" else "3V3"
            where = f"GP{ch['pin']} and {to} (switch COM and NO)"
        elif kind == "fsr":
            where = f"3V3(OUT) -> FSR -> GP{ch['pin']} (ADC), and GP{ch['pin']} -> 10 kOhm -> AGND"
        elif kind == "ir_distance":
            where = f"Vo to GP{ch['pin']} (ADC), Vcc to VBUS (5 V), GND to AGND"
        else:
            addr = ch.get("address", 0x29 if kind == "vl6180x" else 0x5D)
            where = (
                f"SDA GP{ch.get('sda')}, SCL GP{ch.get('scl')}, 3V3, GND "
                f"(I2C{ch.get('bus', 0)}, address {addr:#04x})"
            )
        lines.append(f"  {ch.get('name')}: {kind} -> {where}")
    pictures = sorted(
        p
        for p in (REPO_DIR / "docs").rglob("*")
        if p.is_file() and instrument in p.stem and p.suffix in (".svg", ".png")
    )
    for p in pictures:
        lines.append("  diagram: " + str(p))
    return lines


def start_simulator(
    instrument: str, faults: list[str], firmware: str | None = None, seconds: int = 300
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`attune sim --serial` in a child process (real time); returns it, its port and log."""
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="attune-doctor-"))
    args = ["--instrument", instrument]
    for spec in faults:
        args += ["--fault", spec]
    if firmware:
        args += ["--firmware", firmware]
    proc, port = serial_simulator(tmp, args, seconds)
    time.sleep(1.0)  # let it boot (and a failing start-up reach its prompt)
    return proc, port, tmp


def serial_simulator(
    tmp: Path, args: list[str], seconds: int
) -> tuple[subprocess.Popen[bytes], str]:
    """`attune sim --serial --no-port` with these arguments in a child process (real time),
    its flash folder tmp/flash (kept across runs) and its output in tmp/sim.log; returns it and
    its serial port once it prints one (AttuneError if it does not start).

    Usage: proc, port = serial_simulator(tmp, ["--instrument", "combo"], seconds=60)
    """
    cmd = [sys.executable, "-m", "host_tools.cli", "sim", "--serial", "--no-port"]
    cmd += ["--flash", str(tmp / "flash"), "--duration", str(seconds), *args]
    log = tmp / "sim.log"
    with open(log, "wb") as out:  # a file, not a pipe: the simulator never blocks on it
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_DIR)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("serial: "):
                return proc, line.split(": ", 1)[1].strip()
        time.sleep(0.05)
    proc.kill()
    raise AttuneError("The simulator did not start:\n" + log.read_text(errors="replace")[-800:])
