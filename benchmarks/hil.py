"""Tick rate and switch latency on the emulated Pico (the real MicroPython firmware in rp2040js,
/work/shared/hil/README.md), for instruments of 1 to 12 channels and the combo instrument.

Usage: [ATTUNE_HIL_LIB=DIR] python -m benchmarks.hil [combo ch1 ch3 ch6 ch11 ch12] [agree] [held]

The firmware is compiled with mpy-cross first, as `attune deploy` installs it. A local check,
not part of `make test` or `make bench`: the emulator and its firmware image live
in a cache outside the repository (HIL_CACHE, default ~/.cache/attune-hil); without it this
prints why and exits 0. Each instrument boots, then for 4 emulated seconds its switches are
pressed in turn (every 200 ms, at varying phases of the 1 ms tick) while its pads, noisy at
rest, are squeezed in turn; `status` is asked at the start and at the end of that window.

Figures per instrument: `ticks_per_s` (`status`'s tick_hz, the last reply), `late_ticks` (during
the window), `switch_ms_mean`/`_max` (an edge on the pin to its note-on at the USB host),
`status_reply_ms` (the request's last byte to its reply's last byte, the last reply).
Figures of one run (docs/benchmarks.md, "Channels on the emulated Pico").
The instruments are in benchmarks/channels/ (`pico_bench.json` adds GP29 as a fourth ADC
input, which exists only in emulation); combo is boards/instruments/combo.json.

`held` (or `held:ch12`) runs 30 emulated seconds with a note held and `status` asked once a
second: the tick rate each second, and the loop's garbage collections (see held()).

`agree` plays one trace (combo's switch and pad) in the simulator and on the emulated Pico and
reports how far apart their note-ons came (`switch_ms_mean`, `pad_ms_max_abs`, ...: emulated
minus simulated, ms).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = Path(__file__).resolve().parent / "channels"
RUN_SH = Path(os.environ.get("HIL_RUN", "/work/shared/hil/run.sh"))
CACHE = Path(os.environ.get("HIL_CACHE", Path.home() / ".cache" / "attune-hil"))
CONFIGS = ("combo", "ch1", "ch3", "ch6", "ch11", "ch12")

START_MS = 6000  # the loop runs by then (boot, compiling the firmware, takes ~4.5 s)
WINDOW_MS = 4000
PRESS_EVERY_MS = 200
PRESS_MS = 80
PAD_REST = 3000  # read_u16 at rest (the emulated ADC keeps 12 bits of it)
PAD_NOISE = 40  # standard deviation, read_u16
PAD_PRESS = 20000
SWITCH_NOTE_MAX = 71  # the bench instruments' switches play degree 1, their pads degree 8 up


def missing() -> str | None:
    """Why the emulated Pico cannot run here, or None."""
    if not RUN_SH.exists():
        return f"no HIL runner at {RUN_SH}"
    if not (CACHE / "hil.mjs").exists():
        return f"no prepared HIL cache at {CACHE} (see /work/shared/hil/README.md)"
    return None


def instrument(name: str) -> tuple[dict, dict]:
    if name == "combo":
        board = json.loads((ROOT / "boards" / "pico.json").read_text())
        inst = json.loads((ROOT / "boards" / "instruments" / "combo.json").read_text())
    else:
        board = json.loads((CHANNELS / "pico_bench.json").read_text())
        inst = json.loads((CHANNELS / f"{name}.json").read_text())
    return board, inst


def scenario(inst: dict, folder: Path, seed: int = 1) -> dict:
    """Switch presses in turn, noisy pads squeezed in turn, `status` at both ends."""
    rnd = random.Random(seed)
    switches = [c["pin"] for c in inst["channels"] if c["sensor"] == "switch"]
    pads = [c["pin"] - 26 for c in inst["channels"] if c["sensor"] == "fsr"]
    # released at power-up (the emulator models no pull-ups: an input reads 0 until driven)
    actions = [{"t_ms": 0, "gpio": pin, "value": 1} for pin in switches]
    actions.append({"t_ms": START_MS - 50, "serial": "status\r\n"})
    t = START_MS + 100
    k = 0
    while t + PRESS_EVERY_MS < START_MS + WINDOW_MS:
        at = round(t + rnd.random(), 3)
        pin = switches[k % len(switches)]
        actions.append({"t_ms": at, "gpio": pin, "value": 0})
        actions.append({"t_ms": at + PRESS_MS, "gpio": pin, "value": 1})
        t += PRESS_EVERY_MS
        k += 1
    end = START_MS + WINDOW_MS
    actions.append({"t_ms": end, "serial": "status\r\n"})
    traces = []
    if pads and inst["name"] != "combo":
        rows = []
        for ms in range(end + 1000):
            row = [ms]
            for i in range(len(pads)):
                # each pad squeezed for 300 ms in turn, a ramp of 30 ms each way
                phase = (ms - START_MS - 150 - i * 1000 // len(pads)) % 1000
                if ms < START_MS or phase >= 360:
                    level = 0.0
                else:
                    level = min(1.0, phase / 30, (360 - phase) / 30)
                v = PAD_REST + level * (PAD_PRESS - PAD_REST) + rnd.gauss(0, PAD_NOISE)
                row.append(max(0, min(65535, int(v))))
            rows.append(row)
        head = "time_ms," + ",".join(f"p{i}" for i in range(len(pads)))
        csv = folder / "pads.csv"
        csv.write_text(head + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
        for i, adc in enumerate(pads):
            traces.append({"adc": adc, "csv": str(csv), "column": f"p{i}"})
    return {"duration_ms": end + 2500, "actions": actions, "traces": traces}


def figures(lines: list[dict], combo: bool) -> dict:
    """The figures of one run's output lines."""
    statuses = []  # (sent at, replied at, payload)
    asked = []
    notes = []  # (t_ms, note)
    edges = []  # t_ms of switch presses (a pulled-up pin going to 0)
    for e in lines:
        a = e.get("action")
        if a is not None:
            if "serial" in a:
                asked.append(e["t_ms"])
            elif "gpio" in a and a["value"] == 0:
                edges.append(e["t_ms"])
        m = e.get("midi")
        if m and (m[1] & 0xF0) == 0x90 and m[3]:
            notes.append((e["t_ms"], m[2]))
        s = e.get("serial", "")
        if s.startswith("OK {") and '"tick_hz"' in s and asked:
            try:
                statuses.append((asked[len(statuses)], e["t_ms"], json.loads(s[3:])))
            except (ValueError, IndexError):
                pass
    lat = []
    for t in edges:
        after = [n for n in notes if n[0] >= t and (combo or n[1] <= SWITCH_NOTE_MAX)]
        if after and after[0][0] - t < 50:
            lat.append(after[0][0] - t)
    out: dict = {"presses": len(edges), "switch_notes": len(lat)}
    if lat:
        out["switch_ms_mean"] = round(sum(lat) / len(lat), 2)
        out["switch_ms_max"] = round(max(lat), 2)
    if statuses:
        out["ticks_per_s"] = statuses[-1][2]["tick_hz"]
        out["status_reply_ms"] = round(statuses[-1][1] - statuses[-1][0], 1)
    if len(statuses) == 2:
        out["late_ticks"] = statuses[1][2]["late_ticks"] - statuses[0][2]["late_ticks"]
    else:
        out["error"] = f"{len(statuses)} status replies of 2"
    return out


def staged(
    board: dict, inst: dict, folder: Path, firmware: Path = ROOT / "firmware", native: bool = True
) -> Path:
    """folder/stage: the files `attune deploy` puts on a Pico for this board and instrument
    (host_tools.deploy: mpy-cross, the per-tick modules native, main.py and boot.py as source,
    board.json). `native=False` (ATTUNE_HIL_BYTECODE=1): all bytecode."""
    from host_tools import deploy

    boards = folder / "boards"
    shutil.copytree(ROOT / "boards", boards)
    (boards / "pico.json").write_text(json.dumps(board))
    (boards / "instruments" / (inst["name"] + ".json")).write_text(json.dumps(inst))
    plan = deploy.make_plan("pico", inst["name"], folder / "stage", firmware, boards)
    if not native:
        for f in plan.files:
            f.native = False
    deploy.build_stage(plan)
    return folder / "stage"


def as_installed(folder: Path, cache_dir: Path = CACHE) -> tuple[Path, list[str]]:
    """The HIL cache with its USB libraries compiled by mpy-cross, as `mpremote mip install`
    puts them on a Pico, and ATTUNE_HIL_LIB's likewise (compiling their source on the Pico
    takes RAM a deployed one never spends, and leaves its heap in other shape): (the cache to
    run with, extra folders for the filesystem)."""
    from host_tools.deploy import mpy_cross_command

    def compile_tree(src: Path, out: Path) -> None:
        for py in src.rglob("*.py"):
            rel = py.relative_to(src)
            (out / rel.parent).mkdir(parents=True, exist_ok=True)
            cmd = [*mpy_cross_command(), "-march=armv6m", "-o", str(out / rel.with_suffix(".mpy"))]
            subprocess.run([*cmd, "-s", rel.name, str(py)], check=True)

    cache = folder / "cache"
    cache.mkdir()
    for entry in cache_dir.iterdir():
        if entry.name != "usblib":
            (cache / entry.name).symlink_to(entry)
    compile_tree(cache_dir / "usblib", cache / "usblib")
    extra = []
    if os.environ.get("ATTUNE_HIL_LIB"):
        compile_tree(Path(os.environ["ATTUNE_HIL_LIB"]), folder / "lib")
        extra.append(str(folder / "lib"))
    return cache, extra


def emulate(name: str, scenario_of) -> subprocess.CompletedProcess:
    """Boot instrument `name` on the emulated Pico, its firmware staged as deployed, and play
    the scenario `scenario_of(inst, folder)` returns (folder: a scratch folder for its traces).
    micropython-lib's usb-device-cdc is not in the HIL cache: ATTUNE_HIL_LIB, a folder holding
    lib/usb/device/cdc.py (as benchmarks/hil_serial.py), else the built-in serial port."""
    board, inst = instrument(name)
    with tempfile.TemporaryDirectory(prefix="attune-hil-") as tmp:
        folder = Path(tmp)
        stage = staged(board, inst, folder, native=not os.environ.get("ATTUNE_HIL_BYTECODE"))
        scen = folder / "scenario.json"
        scen.write_text(json.dumps(scenario_of(inst, folder)))
        cache, lib = as_installed(folder)
        return subprocess.run(
            ["bash", str(RUN_SH), str(scen), str(stage), *lib],
            capture_output=True,
            text=True,
            env={**os.environ, "HIL_CACHE": str(cache)},
        )


def run(name: str) -> dict:
    proc = emulate(name, scenario)
    if os.environ.get("HIL_KEEP"):  # a folder for the raw output, to look at by hand
        Path(os.environ["HIL_KEEP"], name + ".jsonl").write_text(proc.stdout)
    lines = []
    for line in proc.stdout.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            pass
    if not any(e.get("done") for e in lines):
        return {"error": "the emulator stopped early: " + proc.stderr[-300:]}
    return figures(lines, name == "combo")


AGREE_START_MS = 7000  # both at rest until then (the emulated Pico plays from ~4.5 s)
AGREE_MS = 6000


def agree_trace(seed: int = 2) -> list[tuple[int, int, int]]:
    """(time_ms, switch pressed 0/1, pad read_u16) every ms: combo's switch pressed every 300 ms
    at varying phases, its pad squeezed (ramps of 20-80 ms) every 500 ms, noisy at rest."""
    rnd = random.Random(seed)
    end = AGREE_START_MS + AGREE_MS
    switch = [0] * (end + 500)
    pad = [0.0] * (end + 500)
    t = AGREE_START_MS + 50
    while t < end:
        for ms in range(t, t + PRESS_MS):
            switch[ms] = 1
        t += 300 + rnd.randrange(0, 40)
    t = AGREE_START_MS + 200
    while t < end:
        rise = rnd.randrange(20, 80)
        size = rnd.uniform(0.3, 1.0)
        for k in range(300):
            level = min(1.0, k / rise, (300 - k) / rise)
            pad[t + k] = size * level
        t += 500 + rnd.randrange(0, 60)
    rows = []
    for ms in range(end + 500):
        v = PAD_REST + pad[ms] * (PAD_PRESS - PAD_REST) + rnd.gauss(0, PAD_NOISE)
        rows.append((ms, switch[ms], max(0, min(65535, int(v)))))
    return rows


def agree() -> dict:
    """The simulator and the emulated Pico on the same trace (combo: its switch and its pad):
    each note-on paired in order, and how far apart in time they came (emulated ms)."""
    from simulator.run import Simulation

    rows = agree_trace()
    with tempfile.TemporaryDirectory(prefix="attune-agree-") as tmp:
        folder = Path(tmp)
        sim_csv = folder / "sim.csv"
        sim_csv.write_text("time_ms,switch,pad\n" + "".join(f"{t},{s},{p}\n" for t, s, p in rows))
        with (
            open(os.devnull, "w") as quiet,
            Simulation(
                "combo",
                folder / "simflash",
                trace=sim_csv,
                duration_s=len(rows) / 1000,
                console=quiet,
            ) as sim,
        ):
            events = sim.run()
        sim_notes = [
            (e["t_ms"], e["note"])
            for e in events
            if e["type"] == "note_on" and e["velocity"] and e["t_ms"] >= AGREE_START_MS
        ]
    # the emulated Pico: the switch's pin is pulled up (pressed = 0), the ADC keeps 12 bits

    def played(inst: dict, folder: Path) -> dict:
        hil_csv = folder / "hil.csv"
        hil_csv.write_text("time_ms,pin,pad\n" + "".join(f"{t},{1 - s},{p}\n" for t, s, p in rows))
        traces = [
            {"gpio": 15, "csv": str(hil_csv), "column": "pin"},
            {"adc": 0, "csv": str(hil_csv), "column": "pad"},
        ]
        return {"duration_ms": len(rows), "actions": [], "traces": traces}

    proc = emulate("combo", played)
    hil_notes = []
    for line in proc.stdout.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        m = e.get("midi")
        if m and (m[1] & 0xF0) == 0x90 and m[3] and e["t_ms"] >= AGREE_START_MS:
            hil_notes.append((e["t_ms"], m[2]))
    out: dict = {"notes_simulator": len(sim_notes), "notes_emulated": len(hil_notes)}
    # pair each note of one with the same note of the other within 50 ms
    diffs = {"switch": [], "pad": []}
    used = set()
    switch_notes = {72, 74, 76, 79, 81}  # combo's melody, C5 D5 E5 G5 A5
    for t, note in sim_notes:
        best = None
        for k, (u, n2) in enumerate(hil_notes):
            if k not in used and n2 == note and abs(u - t) < 50:
                if best is None or abs(u - t) < abs(hil_notes[best][0] - t):
                    best = k
        if best is not None:
            used.add(best)
            kind = "switch" if note in switch_notes else "pad"
            diffs[kind].append(hil_notes[best][0] - t)
    out["paired"] = sum(len(d) for d in diffs.values())
    for kind, d in diffs.items():
        if d:
            out[kind + "_ms_mean"] = round(sum(d) / len(d), 2)
            out[kind + "_ms_max_abs"] = round(max(abs(x) for x in d), 2)
    return out


HELD_S = 30  # the `held` run: emulated seconds


def held(name: str = "combo") -> dict:
    """The loop over HELD_S emulated seconds with a note held all along (the emulated Pico has
    no pull-ups: a switch no scenario drives reads pressed) and `status` asked once a second
    from 5 s, the garbage a host's polling leaves: the tick rate each second, late ticks, and
    how long the loop's garbage collections took (`gc_us`) and how many it made."""
    asks = [{"t_ms": t, "serial": "status\r\n"} for t in range(5000, HELD_S * 1000, 1000)]
    proc = emulate(name, lambda inst, folder: {"duration_ms": HELD_S * 1000, "actions": asks})
    rows = []
    for line in proc.stdout.splitlines():
        try:
            text = json.loads(line).get("serial", "")
        except ValueError:
            continue
        if text.startswith("OK {") and '"tick_hz"' in text:
            rows.append(json.loads(text[3:]))
    if not rows:
        return {"error": "no status reply: " + proc.stdout[-300:] + proc.stderr[-300:]}
    return {
        "tick_hz": [r["tick_hz"] for r in rows],
        "late_ticks": rows[-1]["late_ticks"] - rows[0]["late_ticks"],
        "seconds": len(rows) - 1,
        "collections": rows[-1].get("collections", 0) - rows[0].get("collections", 0),
        "gc_us": max(r.get("gc_us", 0) for r in rows),
        "notes_held": rows[-1]["channels"][0]["pressed"],
    }


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(CONFIGS)
    why = missing()
    if why:
        print(json.dumps({"skipped": why}))
        return 0
    results = {}
    for name in names:
        if name == "agree":
            results[name] = agree()
        elif name.startswith("held"):  # held (combo) or held:ch12
            results[name] = held(name.partition(":")[2] or "combo")
        else:
            results[name] = run(name)
        print(name, json.dumps(results[name]), file=sys.stderr, flush=True)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
