"""Studio page benchmarks (`studio_meter_latency_ms_p95`, `studio_sound_latency_ms_p95`),
measured in Debian's Chromium on a real `attune studio` with a simulated instrument; and the
helpers the browser tests share (tests/test_studio_page.py).

Usage: python -c "from benchmarks.studio_page import run; print(run(quick=True))"

The meter's time runs from the page sending the virtual input to the first meter frame that
shows the move (DOM updated in the same task); the sound's from the hub reading the device's
`* event` line (`hub_ms`, same computer's clock) to the note's start in Web Audio (scheduled at
once) plus the output latency the browser reports (baseLatency + outputLatency).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.studio import stop

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "out" / "studio"
CLI = "import sys; from host_tools.cli import main; sys.exit(main())"
START_TIMEOUT_S = 60.0


@dataclass
class Hub:
    """A running Studio: its address, its data folder, and `attune` commands through it."""

    url: str
    data: Path
    proc: subprocess.Popen

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(ROOT), "ATTUNE_DATA": str(self.data)}

    def attune(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
        """Run the `attune` command line (it finds this Studio through ATTUNE_DATA)."""
        return subprocess.run(
            [sys.executable, "-c", CLI, *args],
            capture_output=True,
            text=True,
            env=self.env(),
            cwd=ROOT,
            timeout=timeout,
        )

    def get(self, key: str, device: str) -> str:
        """One setting's value, read with `attune get KEY --device NAME --json`."""
        done = self.attune("get", key, "--device", device, "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        return str(json.loads(done.stdout)["value"])


@contextlib.contextmanager
def running_studio(sims: list[str], data: Path) -> Iterator[Hub]:
    """`attune studio --sim ... --no-browser --http-port 0` until the block ends."""
    data.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-c", CLI, "studio", "--no-browser", "--http-port", "0"]
    for s in sims:
        args += ["--sim", s]
    args += ["--data", str(data)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ATTUNE_DATA": str(data)}
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    url = ""
    try:
        while not url:
            try:
                line = lines.get(timeout=START_TIMEOUT_S)
            except queue.Empty:
                raise RuntimeError("Studio did not start: " + "".join(seen)) from None
            seen.append(line)
            if line.startswith("studio: "):
                url = line.split(" ", 1)[1].strip()
        yield Hub(url, data, proc)
    finally:
        stop(proc)


# Debian's Chromium (Playwright's own browser download is not available here)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",  # the synth plays without a click
]

# In the page: move the simulated sensor (virtual input) and time the meter's first change,
# then the sound of the note it plays (hub_ms -> scheduled start + the output latency).
_METER_JS = """async ({device, sensor, runs}) => {
  const S = window.attuneStudio;
  const key = device + '/' + sensor;
  const sleep = (ms) => new Promise(r => setTimeout(r, ms));
  const out = [];
  const notes = [];
  for (let i = 0; i < runs; i++) {
    const value = i % 2 ? 0 : 1;
    const base = S.levels.get(key) ?? 0;
    const seen = new Promise(resolve => {
      const f = (dev, ch, now) => {
        if (dev === device && ch.name === sensor && Math.abs(ch.level - base) > 300) {
          S.meterListeners.delete(f); resolve(now);
        }
      };
      S.meterListeners.add(f);
    });
    const t0 = performance.now();
    S.input(device, sensor, value);
    const at = await Promise.race([seen, sleep(2000).then(() => null)]);
    out.push(at === null ? null : at - t0);
    await sleep(250 + Math.random() * 60);
    if (value && S.lastNoteAt > t0) notes.push(S.lastNoteAt - t0);
  }
  return {meter: out, notes};
}"""


def _median_gap(times: list[float]) -> float | None:
    gaps = sorted(b - a for a, b in zip(times, times[1:], strict=False))
    return gaps[len(gaps) // 2] if gaps else None


def p95(values: list[float]) -> float:
    v = sorted(values)
    return round(v[min(len(v) - 1, int(0.95 * len(v)))], 2)


def run(quick: bool = False, runs: int | None = None) -> dict:
    """Both page latencies, p95 over `runs` moves of a simulated combo's pad (half of them
    presses, each playing a chord)."""
    runs = runs or (20 if quick else 60)
    import tempfile

    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory() as tmp,
        running_studio(["combo"], Path(tmp)) as hub,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(hub.url)
        page.wait_for_function(
            "window.attuneStudio && window.attuneStudio.instruments.size > 0"
            " && window.attuneStudio.levels.size > 0"
        )
        device = page.evaluate("[...window.attuneStudio.instruments.keys()][0]")
        got = page.evaluate(_METER_JS, {"device": device, "sensor": "pad", "runs": runs})
        meter = [t for t in got["meter"] if t is not None]
        sound = page.evaluate("window.attuneStudio.soundLatencies")
        frames = page.evaluate("window.attuneStudio.frameTimes")
        browser.close()
    result: dict = {
        "studio_meter_latency_ms_p95": p95(meter) if meter else None,
        "studio_meter_latency_ms_min": round(min(meter), 2) if meter else None,
        # (the median too: on a loaded machine the p95 is the machine's more than the path's)
        "studio_meter_latency_ms_p50": round(sorted(meter)[len(meter) // 2], 2) if meter else None,
        "studio_meter_latency_runs": len(meter),
        # the device's time between two meter frames: the frame wait alone is up to this
        "studio_meter_frame_ms": _median_gap([t for _, t in frames]),
        # the same path to the note message (no frame wait): what comes before the page
        "studio_page_input_to_note_ms_p95": p95(got["notes"]) if got["notes"] else None,
    }
    totals = [s["total"] for s in sound if s.get("total") is not None]
    result["studio_sound_latency_ms_p95"] = p95(totals) if totals else None
    if totals:
        result["studio_sound_hub_to_page_ms_p95"] = p95([s["hub"] for s in sound])
        result["studio_sound_output_latency_ms"] = round(sound[-1]["output"], 2)
    return result
