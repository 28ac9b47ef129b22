"""A 4-sensor live meter at 30 Hz on the emulated Pico (the HIL: ../shared/hil/README.md): the
`* monitor` lines a second it sent, the loop's ticks a second and late ticks meanwhile, how soon
`status` and a short request are answered, and how soon a pad's move shows in a line. Prints JSON.

Usage: ATTUNE_HIL_LIB=DIR python -m benchmarks.hil_monitor [--cap BYTES_S] [--rate 30]
       python -m benchmarks.hil_monitor --from-raw RUN.jsonl   (a run kept with ATTUNE_HIL_RAW)
(~2 min of CPU; not part of `make test`). DIR holds lib/usb/device/cdc.py (usb-device-cdc) so
the firmware uses usbserial's port; `--cap` runs a copy of the firmware whose usb monitor cap
(`_MONITOR_BYTES_S_USB`, commands/telemetry.py) is BYTES_S, to see what a higher cap costs.

The instrument: three pads (GP26-28, the Pico's three ADC pins) and a switch. Each pad is
pressed and released in turn while the monitor runs; `move_to_line_ms` is from the ADC change to
the first `* levels` frame (or `* monitor` line) showing that pad's press flipped: the device's
part of the meter's latency. `monitor_lines_s` counts both kinds; `frames_s` the frames alone.
What the meter costs the player: the switch is pressed between the pads' moves, and
`switch_ms` is its press to its note's USB MIDI packet, `pad_note_ms` a pad's squeeze to its
note (`--rate 0`: the same run with no monitor, to compare). Times are emulated (CPU cycles at
125 MHz): they repeat run to run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import hil
from benchmarks.hil import as_installed
from benchmarks.hil_serial import _after, _status, hil_paths

ROOT = Path(__file__).resolve().parent.parent
BOOT_MS = 5500  # the emulated Pico compiles at boot: playing by ~4.5 s
SENSORS = [
    {"name": "pad1", "sensor": "fsr", "pin": 26},
    {"name": "pad2", "sensor": "fsr", "pin": 27},
    {"name": "pad3", "sensor": "fsr", "pin": 28},
    {"name": "sw", "sensor": "switch", "pin": 15, "pull": "up", "active_low": True},
]
PADS = 3
REST, PRESS = 125, 2500  # 12-bit ADC codes: a pad at rest, squeezed
WINDOW_MS = 4000  # the monitor's measured span
MOVE_EVERY_MS = 330  # a pad moves this often (in turn), at odd times against the frame
SWITCH_HOLD_MS = 60  # the switch is held this long, once between two pad moves


def scenario(rate: int, offset: float = 0.0) -> tuple[dict, dict]:
    t = BOOT_MS + offset
    acts: list[dict] = [{"t_ms": 0, "gpio": 15, "value": 1}]
    acts += [{"t_ms": 0, "adc": k, "value": REST} for k in range(PADS)]
    marks: dict = {"reply": [], "moves": []}

    def send(at: float, text: str) -> None:
        acts.append({"t_ms": at, "serial": text})

    send(t, "status\r\n")
    marks["status0"] = t
    t += 1500
    if rate:  # (0: no monitor at all, to compare)
        send(t, "monitor " + str(rate) + "\r\n")
    marks["monitor"] = t
    start = t + 1000  # settled
    send(start, "status\r\n")
    marks["status_start"] = start
    marks["switch"] = []
    k = 0
    at = start + 200
    while at < start + WINDOW_MS - 200:
        pad = k % PADS
        value = PRESS if (k // PADS) % 2 == 0 else REST
        acts.append({"t_ms": at, "adc": pad, "value": value})
        marks["moves"].append((at, pad, value == PRESS))
        # the switch, half-way between two moves (its note is not taken for a pad's), at a
        # different point of the tick each time
        sw = at + MOVE_EVERY_MS // 2 + 0.137 * (k % 7)
        acts.append({"t_ms": sw, "gpio": 15, "value": 0})
        acts.append({"t_ms": sw + SWITCH_HOLD_MS, "gpio": 15, "value": 1})
        marks["switch"].append(sw)
        k += 1
        at += MOVE_EVERY_MS + 7 * (k % 5)
    for j in range(6):
        q = start + 300 + j * 600 + 101
        send(q, "zzz\r\n")
        marks["reply"].append(q)
    end = start + WINDOW_MS
    send(end, "status\r\n")
    marks["status_end"] = end
    if rate:
        send(end + 600, "monitor off\r\n")
    return {"duration_ms": end + 1200, "actions": acts}, marks


def staged(firmware: Path, tmp: Path, cap: int | None) -> Path:
    """The files `attune deploy` puts on the board, for the 4-sensor instrument; with `cap`,
    from a copy of the firmware whose usb monitor cap is `cap` bytes a second."""
    if cap is not None:
        fw = tmp / "firmware"
        shutil.copytree(firmware, fw)
        tel = fw / "commands" / "telemetry.py"
        text, n = re.subn(
            r"_MONITOR_BYTES_S_USB = const\(\d+\)",
            "_MONITOR_BYTES_S_USB = const(" + str(cap) + ")",
            tel.read_text(),
        )
        assert n == 1, "no _MONITOR_BYTES_S_USB in " + str(tel)
        tel.write_text(text)
        firmware = fw
    inst = {
        "name": "four",
        "title": "Four",
        "description": "Three pads and a switch (the monitor benchmark).",
        "channels": SENSORS,
        "profile": {},
    }
    board = json.loads((ROOT / "boards" / "pico.json").read_text())
    return hil.staged(board, inst, tmp, firmware)


def run(firmware: Path, rate: int, cap: int | None, offset: float = 0.0) -> dict:
    found = hil_paths()
    if isinstance(found, str):
        return {"skipped": found}
    cache, run_sh = found
    sc, marks = scenario(rate, offset)
    with tempfile.TemporaryDirectory() as tmp:
        stage = staged(firmware, Path(tmp), cap)
        sc_file = Path(tmp) / "scenario.json"
        sc_file.write_text(json.dumps(sc))
        # usb-device-cdc (see hil_serial.py), compiled as mip installs it
        installed, lib = as_installed(Path(tmp), cache)
        env = dict(os.environ, HIL_CACHE=str(installed))
        dirs = [str(stage), *lib]
        out = subprocess.run(
            [str(run_sh), str(sc_file), *dirs], capture_output=True, text=True, env=env
        ).stdout
    raw = os.environ.get("ATTUNE_HIL_RAW")
    if raw:
        Path(raw).write_text(out)
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return measure(events, marks)


def _fields(line: str) -> dict[str, str]:
    return dict(w.split("=", 1) for w in line.split() if "=" in w)


def _is_monitor(line: str) -> bool:
    return line.startswith(("* monitor", "* levels"))


def _pressed(line: str, name: str) -> str | None:
    """Sensor `name`'s press ("1"/"0") in a `* levels` frame or its own `* monitor` line."""
    f = _fields(line)
    if line.startswith("* levels"):
        return f[name].split(",")[1] if name in f else None
    return f.get("pressed") if (" " + name + " ") in line else None


def measure(events: list[dict], marks: dict) -> dict:
    lines = [(e["t_ms"], e["serial"]) for e in events if "serial" in e]
    start, end = marks["status_start"], marks["status_end"]
    res: dict = {"hil_lines": len(lines)}
    cap = _after(lines, marks["monitor"], lambda s: s.startswith("OK {") and '"monitor":' in s)
    res["monitor_reply"] = json.loads(cap[1][3:]) if cap else None
    mon = [(at, s) for at, s in lines if _is_monitor(s) and start <= at < end]
    secs = (end - start) / 1000.0
    res["monitor_lines_s"] = round(len(mon) / secs, 1)
    res["frames_s"] = round(sum(1 for _, s in mon if s.startswith("* levels")) / secs, 1)
    res["monitor_bytes_s"] = round(sum(len(s) + 2 for _, s in mon) / secs)
    per = {}
    for sensor in SENSORS:
        name = sensor["name"]
        n = sum(1 for _, s in mon if _pressed(s, name) is not None)
        per[name] = round(n / secs, 1)
    res["monitor_lines_s_per_sensor"] = per
    res["longest_monitor_line"] = max((len(s) for _, s in mon), default=0)
    # a pad's move to its first line showing it (pressed flipped)
    lat = []
    for at, pad, down in marks["moves"]:
        name = SENSORS[pad]["name"]
        want = "1" if down else "0"
        got = _after(
            lines,
            at,
            lambda s, n=name, w=want: _is_monitor(s) and _pressed(s, n) == w,
        )
        if got and got[0] < at + 1000:
            lat.append(round(got[0] - at, 1))
    if lat:
        lat.sort()
        res["move_to_line_ms_p50"] = statistics.median(lat)
        res["move_to_line_ms_p95"] = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
        res["move_to_line_ms_max"] = lat[-1]
    res["moves_seen"] = str(len(lat)) + "/" + str(len(marks["moves"]))
    r = []
    for q in marks["reply"]:
        got = _after(lines, q, lambda s: s.startswith("ERR unknown"))
        if got:
            r.append(round(got[0] - q, 1))
    res["reply_ms_monitoring_max"] = max(r) if r else None
    res["reply_ms_monitoring_all"] = r
    res.update(play_latency(events, marks))
    got = _after(lines, end, lambda s: s.startswith("OK {") and "late_ticks" in s)
    res["status_reply_ms_monitoring"] = round(got[0] - end, 1) if got else None
    s0, s1 = _status(lines, start), _status(lines, end)
    if s0 and s1:
        res["late_ticks_monitoring"] = s1["late_ticks"] - s0["late_ticks"]
        res["tick_hz_monitoring"] = s1["tick_hz"]
        res["tick_hz_before"] = s0["tick_hz"]
    return res


def _ms(lat: list[float], name: str) -> dict:
    if not lat:
        return {name + "_notes": 0}
    lat.sort()
    return {
        name + "_notes": len(lat),
        name + "_ms_mean": round(sum(lat) / len(lat), 2),
        name + "_ms_p50": round(statistics.median(lat), 2),
        name + "_ms_max": round(lat[-1], 2),
    }


def play_latency(events: list[dict], marks: dict) -> dict:
    """What the player hears meanwhile: each switch press, and each pad squeeze, to the first
    note-on packet after it (within 50 ms: the pads' notes come within ~10 ms of their moves,
    165 ms away from any switch press)."""
    ons = [
        e["t_ms"] for e in events if "midi" in e and e["midi"][1] & 0xF0 == 0x90 and e["midi"][3]
    ]

    def first(t: float) -> float | None:
        for at in ons:
            if at >= t:
                return at - t if at - t < 50 else None
        return None

    sw = [d for d in map(first, marks.get("switch", [])) if d is not None]
    pads = [d for d in (first(at) for at, _, down in marks["moves"] if down) if d is not None]
    out = _ms(sw, "switch")
    out.update(_ms(pads, "pad_note"))
    out["switch_presses"] = len(marks.get("switch", []))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--firmware", type=Path, default=ROOT / "firmware")
    ap.add_argument(
        "--rate", type=int, default=30, help="the monitor rate asked for (Hz; 0: no monitor)"
    )
    ap.add_argument("--cap", type=int, help="the usb monitor cap to run with (bytes a second)")
    ap.add_argument("--from-raw", type=Path, help="measure a saved run ($ATTUNE_HIL_RAW) again")
    ap.add_argument(
        "--offset",
        type=float,
        default=0.0,
        help="start the scenario this many ms later: another alignment with the loop's ticks "
        "and collections (late-tick counts move by hundreds with it; average a few)",
    )
    args = ap.parse_args(argv)
    if args.from_raw:
        lines = args.from_raw.read_text().splitlines()
        events = [json.loads(line) for line in lines if line.startswith("{")]
        res = measure(events, scenario(args.rate, args.offset)[1])
    else:
        res = run(args.firmware, args.rate, args.cap, args.offset)
    if "skipped" in res:
        print("hil_monitor skipped: " + res["skipped"], file=sys.stderr)
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
