"""The serial link's speed on the emulated Pico (the HIL: ../shared/hil/README.md): how soon a
short request is answered, how fast a long line is read and replies are written, and a 4-sensor
monitor at 30 Hz (`* levels` frames a second it reached, replies meanwhile, late ticks). Prints
JSON:
`serial_reply_ms` (median; `_p95`; `_whole_packet`: a reply of exactly 64 bytes),
`serial_in_kbps`, `serial_out_kbps`, and the late ticks
during each part (`late_ticks_replies`, `late_ticks_input`, `late_ticks_output`).

Usage: ATTUNE_HIL_LIB=DIR python -m benchmarks.hil_serial [--firmware DIR] [--spread 1.5]
       python -m benchmarks.hil_serial --from-raw RUN.jsonl   (a run kept with ATTUNE_HIL_RAW)
(~3 min of CPU; not part of `make test`). DIR holds lib/usb/device/cdc.py (micropython-lib's
usb-device-cdc, which the HIL cache lacks); without it the firmware uses the built-in port. The
monitor asks for 30 Hz and gets what the cap allows (docs/protocol.md, Monitor cap).

It needs the HIL's prepared cache ($HIL_CACHE, default ~/.cache/attune-hil) and node; without
them it prints {"skipped": "..."} and exits 0. Times are emulated (CPU cycles at 125 MHz), so the
figures repeat run to run whatever else the machine is doing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import hil
from benchmarks.hil import as_installed

ROOT = Path(__file__).resolve().parent.parent
# ../shared/hil beside the project (a worktree one level deeper finds it one level up)
HIL = next(
    (
        p
        for p in (ROOT.parent / "shared" / "hil", ROOT.parent.parent / "shared" / "hil")
        if (p / "run.sh").is_file()
    ),
    ROOT.parent / "shared" / "hil",
)
BOOT_MS = 5500  # the emulated Pico compiles the .py files at boot: playing by ~4.5 s
SENSORS = [  # four sensors the emulator can drive: two switches, two pads
    {"name": "sw1", "sensor": "switch", "pin": 15, "pull": "up", "active_low": True},
    {"name": "sw2", "sensor": "switch", "pin": 14, "pull": "up", "active_low": True},
    {"name": "pad1", "sensor": "fsr", "pin": 26},
    {"name": "pad2", "sensor": "fsr", "pin": 27},
]
LONG_LINE = 5000  # bytes of the line whose reading is timed (the figure)


def hil_paths() -> tuple[Path, Path] | str:
    """(cache, run.sh), or why the HIL cannot run here."""
    cache = Path(os.environ.get("HIL_CACHE", Path.home() / ".cache" / "attune-hil"))
    hil = Path(os.environ.get("ATTUNE_HIL", HIL))
    if not (cache / "hil.mjs").is_file() or not (cache / "micropython.uf2").is_file():
        return "no prepared HIL cache at " + str(cache) + " (see ../shared/hil/README.md)"
    if not (hil / "run.sh").is_file():
        return "no HIL scripts at " + str(hil)
    if shutil.which("node") is None:
        return "node is not installed"
    return cache, hil / "run.sh"


def scenario(spread: float = 1.0) -> tuple[dict, dict]:
    """The scenario and the times (ms) of what it sends; `spread` stretches the waits between
    the parts (a slow link needs more time for each)."""
    t = BOOT_MS
    acts: list[dict] = [{"t_ms": 0, "gpio": 15, "value": 1}, {"t_ms": 0, "gpio": 14, "value": 1}]
    marks: dict = {"reply": [], "monitor_reply": []}

    def send(at: float, text: str) -> None:
        acts.append({"t_ms": at, "serial": text})

    send(t, "status\r\n")
    marks["status0"] = t
    t += 1500 * spread
    for _ in range(5):  # a short request, answered alone
        send(t, "zzz\r\n")
        marks["reply"].append(t)
        t += 200 * spread
    # a reply that fills one packet exactly (64 bytes with its newline): a host's driver hands
    # it on only once a shorter packet follows (usbserial sends a zero-length one)
    send(t - 160 * spread, "zzzzz\r\n")
    marks["whole"] = t - 160 * spread
    # (late ticks per part: a `status` between the parts, in gaps that leave the other
    # requests' times as they were, so runs saved before these were added still measure)
    send(t - 100 * spread, "status\r\n")
    marks["status_replies"] = t - 100 * spread
    send(t, "x" * LONG_LINE + "\r\n")  # reading speed
    marks["long"] = t
    t += 7000 * spread
    send(t - 1000 * spread, "status\r\n")
    marks["status_long"] = t - 1000 * spread
    send(t, "".join("params " + str(o) + "\r\n" for o in range(0, 32, 8)))  # writing speed
    marks["params"] = t
    t += 4000 * spread
    send(t, "status\r\n")
    marks["status_mid"] = t
    t += 1500 * spread
    send(t, "monitor 30\r\n")
    marks["monitor"] = t
    for k in range(5):
        at = t + 500 + k * 400
        send(at, "zzz\r\n")
        marks["monitor_reply"].append(at)
    send(t + 3000, "status\r\n")
    marks["status1"] = t + 3000
    send(t + 3400, "monitor off\r\n")
    t += 4500
    return {"duration_ms": t, "actions": acts}, marks


def staged(firmware: Path, tmp: Path) -> Path:
    """The files `attune deploy` would put on the board (mpy-cross, native hot modules), for
    the 4-sensor instrument: the emulated Pico runs out of memory compiling all the .py."""
    inst = {
        "name": "four",
        "title": "Four",
        "description": "Two switches and two pads (the serial benchmark).",
        "channels": SENSORS,
        "profile": {},
    }
    board = json.loads((ROOT / "boards" / "pico.json").read_text())
    return hil.staged(board, inst, tmp, firmware)


def run(firmware: Path, spread: float = 1.0) -> dict:
    found = hil_paths()
    if isinstance(found, str):
        return {"skipped": found}
    cache, run_sh = found
    sc, marks = scenario(spread)
    with tempfile.TemporaryDirectory() as tmp:
        stage = staged(firmware, Path(tmp))
        sc_file = Path(tmp) / "scenario.json"
        sc_file.write_text(json.dumps(sc))
        # micropython-lib's usb-device-cdc is not in the HIL cache (prepare.sh copies only
        # usb-device and usb-device-midi): a folder holding lib/usb/device/cdc.py, if given;
        # all of them compiled, as mip installs them
        installed, lib = as_installed(Path(tmp), cache)
        env = dict(os.environ, HIL_CACHE=str(installed))
        dirs = [str(stage), *lib]
        out = subprocess.run(
            [str(run_sh), str(sc_file), *dirs],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        ).stdout
    raw = os.environ.get("ATTUNE_HIL_RAW")  # keep the emulator's event lines there
    if raw:
        Path(raw).write_text(out)
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return measure(events, marks)


def _after(lines: list[tuple[float, str]], t: float, test) -> tuple[float, str] | None:
    for at, text in lines:
        if at >= t and test(text):
            return at, text
    return None


def _status(lines: list[tuple[float, str]], t: float, within: float = 0) -> dict | None:
    got = _after(lines, t, lambda s: s.startswith('OK {"state"') or '"late_ticks"' in s)
    if got and within and got[0] - t > within:
        return None  # (a run saved before this probe was sent: the reply is a later one's)
    try:
        return json.loads(got[1][3:]) if got else None
    except ValueError:  # garbled
        return None


def _p95(xs: list[float]) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]


def measure(events: list[dict], marks: dict) -> dict:
    lines = [(e["t_ms"], e["serial"]) for e in events if "serial" in e]
    res: dict = {"hil_lines": len(lines)}

    def unknown(s: str) -> bool:
        return s.startswith("ERR unknown")

    def replies(ts: list[float]) -> list[float]:
        got = []
        for t in ts:
            r = _after(lines, t, unknown)
            if r:
                got.append(round(r[0] - t, 1))
        return got

    r = replies(marks["reply"])
    res["serial_reply_ms"] = statistics.median(r) if r else None
    if "whole" in marks:
        w = replies([marks["whole"]])
        res["serial_reply_ms_whole_packet"] = w[0] if w else None
    res["serial_reply_ms_p95"] = _p95(r)
    res["serial_reply_ms_all"] = r
    long = _after(lines, marks["long"], lambda s: s.startswith("ERR toolong"))
    if long:
        res["serial_in_kbps"] = round((LONG_LINE + 2) / (long[0] - marks["long"]), 2)
    pages = [
        (at, s)
        for at, s in lines
        if at >= marks["params"] and s.startswith("OK {") and '"params":[' in s.replace(": ", ":")
    ][:4]
    if len(pages) >= 2:  # (the pages' bytes after the first, over the time they took)
        nbytes = sum(len(s) + 1 for _, s in pages[1:])
        res["serial_out_kbps_pages"] = round(nbytes / (pages[-1][0] - pages[0][0]), 2)
    # the first `status` reply (~1.7 KB), from the request to its last byte at the host: a lower
    # bound (it includes reading the request and making the reply)
    got = _after(lines, marks["status0"], lambda s: s.startswith("OK {") and "late_ticks" in s)
    if got:
        res["serial_out_kbps"] = round((len(got[1]) + 1) / (got[0] - marks["status0"]), 2)
    frames = [
        (at, s)
        for at, s in lines
        if s.startswith("* levels") and marks["monitor"] + 1000 <= at < marks["monitor"] + 3000
    ]
    res["monitor_frames_s"] = round(len(frames) / 2.0, 1)  # (every sensor in each)
    cap = _after(lines, marks["monitor"], lambda s: s.startswith("OK {") and '"monitor":' in s)
    res["monitor_reply"] = json.loads(cap[1][3:]) if cap else None
    mr = replies(marks["monitor_reply"])
    res["serial_reply_ms_monitoring"] = max(mr) if mr else None
    res["serial_reply_ms_monitoring_all"] = mr
    s0 = _status(lines, marks["status0"])
    s1 = _status(lines, marks["status_mid"])
    s2 = _status(lines, marks["status1"])
    if s0 and s1:
        res["late_ticks_requests"] = s1["late_ticks"] - s0["late_ticks"]
    # the same span in parts: short requests, the long line, the `params` pages (each part's
    # count includes its closing `status` reply)
    parts = [s0]
    for key in ("status_replies", "status_long"):
        parts.append(_status(lines, marks[key], 1000) if key in marks else None)
    parts.append(s1)
    for name, a, b in zip(("replies", "input", "output"), parts[:-1], parts[1:], strict=True):
        if a and b:
            res["late_ticks_" + name] = b["late_ticks"] - a["late_ticks"]
    if s1 and s2:
        res["late_ticks_monitoring"] = s2["late_ticks"] - s1["late_ticks"]
        res["tick_hz_monitoring"] = s2["tick_hz"]
    mon = [(at, s) for at, s in lines if s.startswith(("* monitor", "* levels"))]
    res["longest_monitor_line"] = max((len(s) for _, s in mon), default=0)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--firmware", type=Path, default=ROOT / "firmware")
    ap.add_argument("--spread", type=float, default=1.0, help="stretch the waits (slow links)")
    ap.add_argument("--from-raw", type=Path, help="measure a saved run ($ATTUNE_HIL_RAW) again")
    args = ap.parse_args(argv)
    if args.from_raw:
        lines = args.from_raw.read_text().splitlines()
        events = [json.loads(line) for line in lines if line.startswith("{")]
        res = measure(events, scenario(args.spread)[1])
    else:
        res = run(args.firmware, args.spread)
    if "skipped" in res:
        print("hil_serial skipped: " + res["skipped"], file=sys.stderr)
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
