"""Attune Studio's hub under load: a setting changed through it, and a group of simulated
instruments streaming meters to one page (`make bench`: studio_* keys).

Usage: python -c "from benchmarks import studio; print(studio.set_latency())"
       python -m benchmarks.studio --minutes 30   # the hub's memory over a long group session
       python -m benchmarks.studio --journal      # journal_record_overhead alone

The hub runs as `attune studio` in a child process, as a therapist starts it; the page is a
WebSocket client here. CPU and memory are read from /proc (Linux).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GROUP = ["combo", "big-switch", "squeeze-pad", "two-switch-breath"]


@contextmanager
def running_studio(
    sims: list[str], seconds: float = 60.0, args: list[str] | None = None
) -> Iterator[dict[str, Any]]:
    """`attune studio --sim ... [args]` in a child process; yields {url, token, pid, ids, data}
    once every instrument is connected (data: the hub's data folder, removed afterwards)."""
    data = Path(tempfile.mkdtemp(prefix="attune-studio-bench-"))
    cmd = [sys.executable, "-m", "host_tools.cli", "studio", "--no-browser", "--http-port", "0"]
    cmd += ["--data", str(data)] + list(args or [])
    for s in sims:
        cmd += ["--sim", s]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT, env=env, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("studio: "):
            raise RuntimeError("attune studio did not start: " + line)
        doc = json.loads((data / "hub.json").read_text())
        deadline = time.monotonic() + seconds
        ids: list[str] = []
        while time.monotonic() < deadline:
            insts = _get(doc, "/api/instruments")["instruments"]
            ids = [i["id"] for i in insts if i["connected"]]
            if len(ids) == len(sims):
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("the simulated instruments did not all connect: " + str(ids))
        yield dict(doc, pid=proc.pid, ids=ids, data=str(data))
    finally:
        stop(proc)
        shutil.rmtree(data, ignore_errors=True)


def stop(proc: subprocess.Popen[str]) -> None:
    """Ends a Studio child process: politely first, then by force if it hangs on.
    Usage: `stop(proc)` in the `finally` of a block that started it."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _get(doc: dict[str, Any], path: str) -> dict[str, Any]:
    import urllib.request

    req = urllib.request.Request(doc["url"].rstrip("/") + path)
    req.add_header("X-Attune-Token", doc["token"])
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _post(doc: dict[str, Any], path: str, body: dict[str, Any]) -> dict[str, Any]:
    import urllib.request

    req = urllib.request.Request(doc["url"].rstrip("/") + path, data=json.dumps(body).encode())
    req.add_header("X-Attune-Token", doc["token"])
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _page(doc: dict[str, Any]) -> Any:
    from websockets.sync.client import connect

    return connect(doc["url"].replace("http", "ws") + "ws", origin=doc["url"].rstrip("/"))


def _p(values: list[float], q: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * len(s)))], 2)


def set_latency(n: int = 60) -> dict[str, Any]:
    """`set pad.sensitivity N` from a page to the device's acknowledgement (the reply), over the
    hub, while the meter streams; n requests one after another."""
    times: list[float] = []
    with running_studio(["combo"]) as doc, _page(doc) as ws:
        device = doc["ids"][0]
        for k in range(n + 5):
            value = 60 + (k % 30)
            line = "set pad.sensitivity " + str(value)
            t0 = time.perf_counter()
            ws.send(json.dumps({"type": "request", "id": k, "device": device, "line": line}))
            while True:
                msg = json.loads(ws.recv(timeout=10))
                if msg["type"] == "reply" and msg["id"] == k:
                    break
            if k >= 5:  # the first few warm the path up
                times.append((time.perf_counter() - t0) * 1000)
            if not msg["ok"]:
                raise RuntimeError("set refused: " + str(msg))
            time.sleep(0.02)  # a slider's pace, not a flood
        notes = _input_to_note(ws, device, 20)
    return {
        "studio_set_ms_p95": _p(times, 0.95),
        "studio_set_ms_p50": _p(times, 0.5),
        "studio_input_to_note_ms_p95": _p(notes, 0.95),
        "studio_input_to_note_ms_p50": _p(notes, 0.5),
    }


def _input_to_note(ws: Any, device: str, n: int) -> list[float]:
    """The virtual switch pressed and released from the page, to each note message arriving
    there: the simulator's input, the firmware, its serial line, the hub and the WebSocket."""
    times: list[float] = []
    for k in range(n * 2):
        pressed = k % 2 == 0
        t0 = time.perf_counter()
        msg = {"type": "input", "device": device, "sensor": "switch", "value": int(pressed)}
        ws.send(json.dumps(msg))
        want = "note_on" if pressed else "note_off"
        while True:
            got = json.loads(ws.recv(timeout=10))
            if got["type"] == "note" and got["kind"] == want and got["sensor"] == "switch":
                break
        times.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.15)  # past the switch's debounce and lockout
    return times


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out += [int(c) for c in text]
    return out


def _moving(ws: Any) -> list[tuple[str, str]]:
    """(device, sensor): each instrument's first sensor that is not a switch, else its first."""
    out = []
    for i in _instruments(ws):
        ch = next((c for c in i["channels"] if c.get("kind") != "switch"), i["channels"][0])
        out.append((i["id"], ch["name"]))
    return out


def group_load(seconds: float = 20.0) -> dict[str, Any]:
    """The hub with 4 simulated instruments streaming meters to one page for `seconds`: the
    hub's CPU (one core = 100 %), its memory at the start and end, the frames the page got.
    One sensor of each keeps moving (the page's virtual input, a slow press and let-go every
    second): still sensors bring one frame a second (docs/protocol.md), moving ones every
    round, 30 a second."""
    with running_studio(GROUP) as doc, _page(doc) as ws:
        pid = doc["pid"]
        sims = _children(pid)
        moving = _moving(ws)
        frames = 0
        notes = 0
        time.sleep(1.0)  # past the connect-time burst (schemas, status)
        rss0 = _rss_mb(pid)
        cpu0, sims0, t0 = _cpu_s(pid), sum(_cpu_s(c) for c in sims), time.monotonic()
        t_in = t0
        while time.monotonic() - t0 < seconds:
            now = time.monotonic()
            if now >= t_in:  # every 20 ms: each moving sensor a step further
                t_in = now + 0.02
                value = abs((now - t0) % 1.0 - 0.5) * 2
                for device, sensor in moving:
                    ws.send(
                        json.dumps(
                            {"type": "input", "device": device, "sensor": sensor, "value": value}
                        )
                    )
            try:
                msg = json.loads(ws.recv(timeout=0.02))
            except TimeoutError:
                continue
            frames += msg["type"] == "meter"
            notes += msg["type"] == "note"
        wall = time.monotonic() - t0
        cpu = _cpu_s(pid) - cpu0
        sims_cpu = sum(_cpu_s(c) for c in sims) - sims0
        rss1 = _rss_mb(pid)
    return {
        "studio_group_cpu_percent": round(100 * cpu / wall, 1),
        "studio_group_rss_mb_start": rss0,
        "studio_group_rss_mb_end": rss1,
        "studio_group_meter_fps": round(frames / wall / len(GROUP), 1),
        "studio_group_sims_cpu_percent": round(100 * sims_cpu / wall, 1),
        "studio_group_seconds": round(wall, 1),
    }


def long_run(minutes: float = 30.0, press_every_s: float = 2.0) -> dict[str, Any]:
    """The hub with 4 simulated instruments streaming to one page for `minutes`, each sensor
    pressed and let go from the page every few seconds (notes too, not only meters), each
    instrument with a profile so the hub records 4 sessions into its journal: the hub's RSS
    and the journal's activation rows once a minute, its growth, its CPU. Growth is the last
    minute's RSS minus the RSS after the first minute (start-up and first allocations settle
    in it)."""
    samples: list[float] = []
    sims_mb: list[float] = []
    rows: list[int] = []
    frames = notes = 0
    load0 = os.getloadavg()[0]
    with running_studio(GROUP) as doc, _page(doc) as ws:
        pid = doc["pid"]
        sims = _children(pid)
        sensors = _sensors(ws)
        _record_all(doc)
        time.sleep(1.0)
        t0 = time.monotonic()
        cpu0 = _cpu_s(pid)
        samples.append(_rss_mb(pid))
        sims_mb.append(round(sum(_rss_mb(c) for c in sims), 1))
        rows.append(_journal_rows(doc))
        next_sample = t0 + 60.0
        next_press = t0
        pressed = False
        while time.monotonic() - t0 < minutes * 60:
            now = time.monotonic()
            if now >= next_press:
                pressed = not pressed
                for device, sensor in sensors:
                    msg = {"type": "input", "device": device, "sensor": sensor}
                    ws.send(json.dumps(dict(msg, value=1.0 if pressed else 0.0)))
                next_press = now + press_every_s / 2
            if now >= next_sample:
                samples.append(_rss_mb(pid))
                sims_mb.append(round(sum(_rss_mb(c) for c in sims), 1))
                rows.append(_journal_rows(doc))
                minute = {"minute": len(samples) - 1, "rss_mb": samples[-1], "rows": rows[-1]}
                minute.update(sims_rss_mb=sims_mb[-1], load=os.getloadavg()[0])
                minute.update(cpu_percent=round(100 * (_cpu_s(pid) - cpu0) / (now - t0), 1))
                print(json.dumps(minute), file=sys.stderr, flush=True)
                next_sample += 60.0
            try:
                msg = json.loads(ws.recv(timeout=1))
            except TimeoutError:
                continue
            frames += msg["type"] == "meter"
            notes += msg["type"] == "note"
            if msg["type"] == "instruments":
                sensors = [(i["id"], c["name"]) for i in msg["instruments"] for c in i["channels"]]
        wall = time.monotonic() - t0
        cpu = _cpu_s(pid) - cpu0
        samples.append(_rss_mb(pid))
        live = _get(doc, "/api/journal/live")["instruments"]
        recording = sum(bool(r["recording"]) for r in live)
        time.sleep(COMMIT_WAIT_S)  # the recorders' last batch
        rows.append(_journal_rows(doc))
    settled = samples[1] if len(samples) > 2 else samples[0]
    return {
        "studio_long_minutes": round(wall / 60, 1),
        "studio_long_rss_mb": samples,
        "studio_long_rss_mb_start": samples[0],
        "studio_long_rss_mb_end": samples[-1],
        "studio_long_rss_growth_mb": round(samples[-1] - settled, 1),
        "studio_long_cpu_percent": round(100 * cpu / wall, 1),
        "studio_long_meter_fps": round(frames / wall / len(GROUP), 1),
        "studio_long_notes": notes,
        "studio_long_sims_rss_mb": sims_mb,
        "studio_long_recording": recording,
        "studio_long_journal_rows": rows,
        "studio_long_journal_rows_end": rows[-1],
        "studio_long_load_start": round(load0, 2),
        "studio_long_load_end": round(os.getloadavg()[0], 2),
    }


COMMIT_WAIT_S = 2.0  # the recorders commit every second


def _journal_rows(doc: dict[str, Any]) -> int:
    """The activation rows in the hub's journal now (read-only, beside the hub's writers)."""
    import sqlite3

    path = Path(doc["data"]) / "journal.sqlite"
    if not path.exists():
        return 0
    db = sqlite3.connect("file:" + str(path) + "?mode=ro", uri=True, timeout=5)
    try:
        return int(db.execute("SELECT COUNT(*) FROM activations").fetchone()[0])
    finally:
        db.close()


def _record_all(doc: dict[str, Any], seconds: float = 20.0) -> None:
    """A profile saved on each instrument, so the hub records each one's session; returns once
    every instrument is recording."""
    for k, device in enumerate(doc["ids"]):
        _post(doc, "/api/request", {"device": device, "line": "profile save bench" + str(k + 1)})
    deadline = time.monotonic() + seconds
    live: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        live = _get(doc, "/api/journal/live")["instruments"]
        if sum(r["recording"] for r in live) == len(doc["ids"]):
            return
        time.sleep(0.2)
    raise RuntimeError("the hub did not record every instrument: " + str(live))


def _instruments(ws: Any) -> list[dict[str, Any]]:
    """The instruments of the page's first `instruments` message."""
    while True:
        msg = json.loads(ws.recv(timeout=10))
        if msg["type"] == "instruments":
            return msg["instruments"]


def _sensors(ws: Any) -> list[tuple[str, str]]:
    """(device, sensor) of every instrument's every sensor."""
    return [(i["id"], c["name"]) for i in _instruments(ws) for c in i["channels"]]


def _meter_latency(ws: Any, device: str, sensor: str, n: int) -> list[float]:
    """A simulated sensor pressed (then let go) from the page, to the meter frame that shows
    it pressed (let go) arriving at the page: the hub's meter path, as the page sees it."""
    times: list[float] = []
    for k in range(n * 2):
        pressed = k % 2 == 0
        t0 = time.perf_counter()
        ws.send(
            json.dumps(
                {"type": "input", "device": device, "sensor": sensor, "value": 1.0 * pressed}
            )
        )
        while True:
            msg = json.loads(ws.recv(timeout=10))
            if msg["type"] != "meter" or msg["device"] != device:
                continue
            ch = next((c for c in msg["channels"] if c["name"] == sensor), None)
            if ch is not None and bool(ch["pressed"]) == pressed:
                break
        times.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.3)  # past lockout and the release's settling
    return times


def _recording_run(record: bool, seconds: float, trials: int) -> dict[str, Any]:
    """The hub with 4 simulated instruments, every sensor pressed and let go each second
    (each instrument with a profile when `record`, so the hub records 4 sessions): the hub's
    CPU over `seconds`, then the meter latency on combo's pad."""
    args = [] if record else ["--no-record"]
    with running_studio(GROUP, args=args) as doc, _page(doc) as ws:
        pid = doc["pid"]
        sensors = _sensors(ws)
        if record:
            _record_all(doc)
        time.sleep(1.0)
        cpu0, t0 = _cpu_s(pid), time.monotonic()
        pressed, next_press = False, t0
        while time.monotonic() - t0 < seconds:
            if time.monotonic() >= next_press:
                pressed = not pressed
                for device, sensor in sensors:
                    msg = {"type": "input", "device": device, "sensor": sensor}
                    ws.send(json.dumps(dict(msg, value=1.0 if pressed else 0.0)))
                next_press += 0.5
            try:
                ws.recv(timeout=0.1)
            except TimeoutError:
                pass
        wall = time.monotonic() - t0
        cpu = _cpu_s(pid) - cpu0
        for device, sensor in sensors:  # all at rest before the latency trials
            ws.send(json.dumps({"type": "input", "device": device, "sensor": sensor, "value": 0}))
        time.sleep(1.0)
        combo = next(d for d, s in sensors if d.startswith("sim-combo"))
        meter = _meter_latency(ws, combo, "pad", trials)
        recorded = 0
        if record:
            live = _get(doc, "/api/journal/live")["instruments"]
            recorded = sum(int(r.get("activations") or 0) for r in live)
    return {
        "cpu_percent": round(100 * cpu / wall, 1),
        "meter_ms_p50": _p(meter, 0.5),
        "meter_ms_p95": _p(meter, 0.95),
        "activations": recorded,
    }


def journal_record_overhead(seconds: float = 20.0, trials: int = 20) -> dict[str, Any]:
    """`journal_record_overhead`: the hub's extra CPU while it records 4 instruments (the same
    load with `--no-record` beside it), and the meter latency with and without recording."""
    off = _recording_run(False, seconds, trials)
    on = _recording_run(True, seconds, trials)
    return {
        "journal_record_overhead": round(on["cpu_percent"] - off["cpu_percent"], 1),
        "journal_record_hub_cpu_percent_off": off["cpu_percent"],
        "journal_record_hub_cpu_percent_on": on["cpu_percent"],
        "journal_record_activations": on["activations"],
        "journal_record_meter_ms_p50_off": off["meter_ms_p50"],
        "journal_record_meter_ms_p50_on": on["meter_ms_p50"],
        "journal_record_meter_ms_p95_off": off["meter_ms_p95"],
        "journal_record_meter_ms_p95_on": on["meter_ms_p95"],
    }


def figures(quick: bool = False) -> dict[str, Any]:
    out = set_latency(30 if quick else 60)
    out.update(group_load(5.0 if quick else 20.0))
    out.update(journal_record_overhead(5.0 if quick else 15.0, 10 if quick else 15))
    return out


def main(argv: list[str]) -> None:
    if "--minutes" in argv:
        minutes = float(argv[argv.index("--minutes") + 1])
        print(json.dumps(long_run(minutes), indent=2))
    elif "--journal" in argv:
        print(json.dumps(journal_record_overhead(), indent=2))
    else:
        print(json.dumps(figures("--quick" in argv), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
