"""What a simulation produced, in forms people and tools use: JSON lines, a .mid file, a WAV
you can listen to, a PNG plot, and a live virtual MIDI port.

Usage: write_jsonl(events, "out.jsonl"); write_midi(events, "out.mid"); render_wav(events,
       "out.wav"); plot(traces, samples, events, "out.png")

An event is a dict: {"t_ms": 1234.0, "type": "note_on", "channel": 0, "note": 60,
"velocity": 90}; also note_off, cc ("control", "value"), pitch_bend ("value" -8192..8191),
pressure ("value"), poly_pressure, program_change.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

Event = dict[str, Any]
_VOLUME_CONTROLS = (1, 2, 7, 11)  # mod wheel, breath, volume, expression: "how loud" in a synth


def midi_event(t_ms: float, status: int, d1: int = 0, d2: int = 0) -> Event | None:
    """One MIDI channel message as an event dict (None for system messages)."""
    kind, channel = status & 0xF0, status & 0x0F
    t = round(t_ms, 3)
    if kind == 0x90 and d2 > 0:
        return {"t_ms": t, "type": "note_on", "channel": channel, "note": d1, "velocity": d2}
    if kind in (0x80, 0x90):
        return {
            "t_ms": t,
            "type": "note_off",
            "channel": channel,
            "note": d1,
            "velocity": d2 if kind == 0x80 else 0,
        }
    if kind == 0xB0:
        return {"t_ms": t, "type": "cc", "channel": channel, "control": d1, "value": d2}
    if kind == 0xE0:
        return {
            "t_ms": t,
            "type": "pitch_bend",
            "channel": channel,
            "value": ((d2 << 7) | d1) - 8192,
        }
    if kind == 0xD0:
        return {"t_ms": t, "type": "pressure", "channel": channel, "value": d1}
    if kind == 0xA0:
        return {"t_ms": t, "type": "poly_pressure", "channel": channel, "note": d1, "value": d2}
    if kind == 0xC0:
        return {"t_ms": t, "type": "program_change", "channel": channel, "program": d1}
    return None


def event_bytes(ev: Event) -> list[int]:
    """The MIDI bytes of an event dict (for a live port)."""
    ch, kind = ev["channel"] & 0x0F, ev["type"]
    if kind == "note_on":
        return [0x90 | ch, ev["note"], ev["velocity"]]
    if kind == "note_off":
        return [0x80 | ch, ev["note"], ev.get("velocity", 0)]
    if kind == "cc":
        return [0xB0 | ch, ev["control"], ev["value"]]
    if kind == "pitch_bend":
        v = ev["value"] + 8192
        return [0xE0 | ch, v & 0x7F, v >> 7]
    if kind == "pressure":
        return [0xD0 | ch, ev["value"]]
    if kind == "poly_pressure":
        return [0xA0 | ch, ev["note"], ev["value"]]
    if kind == "program_change":
        return [0xC0 | ch, ev["program"]]
    raise ValueError(f"Unknown event type {kind!r}.")


class DinParser:
    """Turns the bytes written to a DIN MIDI UART into events (running status understood)."""

    _LENGTHS = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}

    def __init__(self) -> None:
        self.status = 0
        self.data: list[int] = []
        self.events: list[Event] = []

    def feed(self, t_ms: float, data: bytes) -> None:
        for byte in data:
            if byte >= 0xF8:
                continue  # real-time messages never break running status
            if byte & 0x80:
                self.status = byte if byte < 0xF0 else 0
                self.data = []
                continue
            if not self.status:
                continue
            self.data.append(byte)
            if len(self.data) == self._LENGTHS[self.status & 0xF0]:
                ev = midi_event(t_ms, self.status, *self.data)
                if ev is not None:
                    ev["port"] = "din"
                    self.events.append(ev)
                self.data = []


def write_jsonl(events: Iterable[Event], path: str | Path) -> None:
    with open(path, "w") as f:
        for ev in events:
            f.write(json.dumps(ev) + "\n")


def read_jsonl(path: str | Path) -> list[Event]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def write_midi(events: Sequence[Event], path: str | Path) -> None:
    """A type-0 standard MIDI file; one tick is one millisecond (1000 ticks a beat at 60 bpm)."""
    import mido

    mid = mido.MidiFile(type=0, ticks_per_beat=1000)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=1_000_000, time=0))
    track.append(mido.MetaMessage("track_name", name="Attune simulator", time=0))
    last = 0
    for ev in sorted(events, key=lambda e: e["t_ms"]):
        tick = int(round(ev["t_ms"]))
        msg = mido.Message.from_bytes(event_bytes(ev))
        track.append(msg.copy(time=max(0, tick - last)))
        last = max(last, tick)
    track.append(mido.MetaMessage("end_of_track", time=500))
    mid.save(str(path))


def _step_curve(points: list[tuple[float, float]], t: Any, default: float) -> Any:
    """A step function of time from (t_s, value) points, evaluated at the sample times `t`."""
    import numpy as np

    if not points:
        return np.full(t.shape, default)
    times = np.array([p[0] for p in points])
    values = np.array([default] + [p[1] for p in points])
    return values[np.searchsorted(times, t, side="right")]


def render_wav(
    events: Sequence[Event], path: str | Path, rate: int = 22050, tail_s: float = 1.0
) -> float:
    """Render the events with a small polyphonic synth (sine plus a little triangle, with an
    attack-decay-release envelope) to a mono 16-bit WAV; returns the peak level (0..1).

    Velocity sets each note's loudness; CC 1/2/7/11 and channel pressure act as the channel's
    volume; pitch bend bends by up to 2 semitones. A channel that only sends CC or pressure
    plays a soft drone whose volume follows them, so a continuous instrument is audible too.
    """
    import wave

    import numpy as np

    events = sorted(events, key=lambda e: e["t_ms"])
    end_s = (events[-1]["t_ms"] / 1000.0 if events else 0.0) + tail_s
    n = max(1, int(end_s * rate))
    out = np.zeros(n)
    t_all = np.arange(n) / rate
    volume: dict[int, list[tuple[float, float]]] = {}
    bend: dict[int, list[tuple[float, float]]] = {}
    notes: list[tuple[int, int, float, float, int]] = []  # channel, note, start, end, velocity
    sounding: dict[tuple[int, int], tuple[float, int]] = {}
    for ev in events:
        t, ch, kind = ev["t_ms"] / 1000.0, ev["channel"], ev["type"]
        if kind == "note_on":
            if (ch, ev["note"]) in sounding:  # retrigger: end the previous one
                start, vel = sounding.pop((ch, ev["note"]))
                notes.append((ch, ev["note"], start, t, vel))
            sounding[(ch, ev["note"])] = (t, ev["velocity"])
        elif kind == "note_off" and (ch, ev["note"]) in sounding:
            start, vel = sounding.pop((ch, ev["note"]))
            notes.append((ch, ev["note"], start, t, vel))
        elif kind == "cc" and ev["control"] in _VOLUME_CONTROLS or kind == "pressure":
            volume.setdefault(ch, []).append((t, ev["value"] / 127.0))
        elif kind == "pitch_bend":
            bend.setdefault(ch, []).append((t, ev["value"] / 8192.0 * 2.0))
    for (ch, note), (start, vel) in sounding.items():  # never released: hold to the end
        notes.append((ch, note, start, end_s - tail_s / 2, vel))
    attack, decay, release = 0.008, 0.25, 0.18
    for ch, note, start, stop, vel in notes:
        i0 = int(start * rate)
        i1 = min(n, int((stop + release) * rate) + 1)
        if i1 <= i0:
            continue
        t = t_all[i0:i1] - start
        semis = (note - 69) + _step_curve(bend.get(ch, []), t_all[i0:i1], 0.0)
        freq = 440.0 * 2.0 ** (semis / 12.0)
        phase = 2 * np.pi * np.cumsum(freq) / rate
        tri = 2.0 / np.pi * np.arcsin(np.sin(phase))
        wave_ = 0.75 * np.sin(phase) + 0.25 * tri
        held = stop - start
        env = np.minimum(1.0, t / attack)
        env *= 0.7 + 0.3 * np.exp(-t / decay)
        after = t > held
        env[after] *= np.exp(-(t[after] - held) / (release / 4))
        gain = _step_curve(volume.get(ch, []), t_all[i0:i1], 1.0)
        out[i0:i1] += wave_ * env * gain * (vel / 127.0) * 0.3
    played = {n_[0] for n_ in notes}
    for ch, points in volume.items():
        if ch in played:
            continue
        f0 = 220.0 * 2.0 ** (((ch * 7) % 12) / 12.0)
        gain = _step_curve(points, t_all, 0.0)
        # smooth the steps so the drone does not click
        k = max(1, int(0.01 * rate))
        gain = np.convolve(gain, np.ones(k) / k, mode="same")
        out += np.sin(2 * np.pi * f0 * t_all) * gain * 0.25
    peak = float(np.max(np.abs(out))) if n else 0.0
    if peak > 0.98:
        out *= 0.98 / peak
    pcm = (np.clip(out, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return min(peak, 0.98)


def plot(
    traces: Mapping[str, tuple[str, Sequence[int]]],
    samples: dict[str, Any] | None,
    events: Sequence[Event],
    path: str | Path,
    title: str = "Attune simulator",
) -> None:
    """A PNG: one panel per channel (its raw signal, the firmware's threshold when it exposes
    one, shading while pressed, a marker at each note that started while pressed), then the
    notes themselves (pitch over time).

    `traces` maps channel name -> (unit, per-ms raw values); `samples` is what the simulation
    sampled from the running firmware (may be None).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(traces)
    fig, axes = plt.subplots(
        len(names) + 1, 1, figsize=(11, 2.1 * (len(names) + 1) + 0.6), sharex=True, squeeze=False
    )
    axes = axes[:, 0]
    note_ons = [e for e in events if e["type"] == "note_on"]
    sampled = (samples or {}).get("channels", {})
    st = np.array((samples or {}).get("t_ms", []), dtype=float)
    owner = attribute_notes(samples, note_ons)
    for ax, name in zip(axes, names, strict=False):
        unit, values = traces[name]
        v = np.asarray(values, dtype=float)
        step = max(1, len(v) // 6000)
        t = np.arange(0, len(v), step) / 1000.0
        ax.plot(t, v[::step], lw=0.8, color="tab:blue", label="raw")
        lo, hi = (float(np.min(v)), float(np.max(v))) if len(v) else (0.0, 1.0)
        pad = (hi - lo) * 0.12 or 1.0
        ch = sampled.get(name)
        if ch and len(st):
            trig = np.array([np.nan if x is None else x for x in ch["trigger_raw"]], dtype=float)
            if np.isfinite(trig).any():
                ax.plot(st / 1000.0, trig, lw=1.0, color="tab:red", ls="--", label="threshold")
            pressed = np.array([bool(p) for p in ch["pressed"]])
            if pressed.any():
                ax.fill_between(
                    st / 1000.0,
                    lo - pad,
                    hi + pad,
                    where=pressed,
                    color="tab:green",
                    alpha=0.12,
                    step="post",
                    label="pressed",
                )
        mine = [e["t_ms"] / 1000.0 for e, who in zip(note_ons, owner, strict=True) if who == name]
        if mine:
            ax.plot(
                mine, [hi + pad * 0.6] * len(mine), "v", color="tab:orange", ms=7, label="note on"
            )
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_ylabel(f"{name}\n({unit})", fontsize=9)
        ax.legend(loc="upper right", fontsize=7)
        ax.grid(alpha=0.3)
    roll = axes[-1]
    offs = [e for e in events if e["type"] == "note_off"]
    if note_ons:
        roll.scatter(
            [e["t_ms"] / 1000 for e in note_ons],
            [e["note"] for e in note_ons],
            c=[e["velocity"] for e in note_ons],
            cmap="viridis",
            vmin=0,
            vmax=127,
            marker="^",
            s=40,
            label="note on (colour = velocity)",
        )
    if offs:
        roll.scatter(
            [e["t_ms"] / 1000 for e in offs],
            [e["note"] for e in offs],
            marker="v",
            s=16,
            color="grey",
            label="note off",
        )
    conts = [e for e in events if e["type"] in ("cc", "pressure", "pitch_bend")]
    if conts:
        ax2 = roll.twinx()
        ax2.plot(
            [e["t_ms"] / 1000 for e in conts],
            [e["value"] for e in conts],
            ".",
            ms=2,
            color="tab:purple",
        )
        ax2.set_ylabel("cc / pressure / bend", fontsize=8)
    roll.set_ylabel("MIDI note", fontsize=9)
    roll.set_xlabel("time (s)")
    roll.grid(alpha=0.3)
    if note_ons or offs:
        roll.legend(loc="upper right", fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(str(path), dpi=90)
    plt.close(fig)


def attribute_notes(
    samples: dict[str, Any] | None, note_ons: Sequence[Event], window_ms: float = 40.0
) -> list[str | None]:
    """Which channel each note_on came from: the one whose sampled `pressed` last rose at most
    `window_ms` before it (None when the firmware was not sampled or nothing rose)."""
    rises: list[tuple[float, str]] = []
    if samples and samples.get("channels"):
        t = samples["t_ms"]
        for name, ch in samples["channels"].items():
            p = ch["pressed"]
            rises += [(t[i], name) for i in range(1, len(p)) if p[i] and not p[i - 1]]
    rises.sort()
    out: list[str | None] = []
    for ev in note_ons:
        best = None
        for t_rise, name in rises:
            if t_rise > ev["t_ms"] + 6.0:
                break
            if ev["t_ms"] - t_rise <= window_ms:
                best = name
        out.append(best)
    return out


class VirtualMidiPort:
    """A virtual MIDI output other programs (a DAW, a synth) can connect to, where the platform
    has one (ALSA on Linux, CoreMIDI on macOS); otherwise a one-line notice and no port."""

    def __init__(self, name: str = "Attune Simulator", console: Any = None) -> None:
        self.port: Any = None
        if sys.platform.startswith("linux") and not os.path.exists("/dev/snd/seq"):
            print(
                "simulator: no virtual MIDI port on this system (no ALSA sequencer, "
                "/dev/snd/seq); MIDI goes to the files only.",
                file=console or sys.stderr,
            )
            return
        try:
            import rtmidi

            # MidiOut comes from python-rtmidi's C extension, which has no type stubs.
            out = rtmidi.MidiOut()  # pyright: ignore[reportAttributeAccessIssue]
            out.open_virtual_port(name)
            self.port = out
        except Exception as exc:  # no ALSA sequencer, no CoreMIDI, Windows ...
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            print(
                f"simulator: no virtual MIDI port on this system ({reason}); MIDI goes to the "
                "files only.",
                file=console or sys.stderr,
            )

    def send(self, ev: Event) -> None:
        if self.port is not None:
            self.port.send_message(event_bytes(ev))

    def close(self) -> None:
        if self.port is not None:
            self.port.close_port()
            self.port = None


def summary(
    events: Sequence[Event],
    duration_s: float,
    wall_s: float,
    samples: dict[str, Any] | None = None,
) -> str:
    """A few plain sentences about a run."""
    lines = []
    ons = [e for e in events if e["type"] == "note_on"]
    by_channel: dict[int, int] = {}
    for e in ons:
        by_channel[e["channel"]] = by_channel.get(e["channel"], 0) + 1
    speed = duration_s / wall_s if wall_s > 0 else math.inf
    lines.append(
        f"Simulated {duration_s:.1f} s of play in {wall_s:.2f} s ({speed:.0f}x real time)."
    )
    if ons:
        parts = ", ".join(f"{n} on MIDI channel {ch + 1}" for ch, n in sorted(by_channel.items()))
        lines.append(f"{len(ons)} notes played: {parts}.")
    else:
        lines.append("No notes were played.")
    if samples and samples.get("channels"):
        owners = attribute_notes(samples, ons)
        parts = []
        for name, ch in samples["channels"].items():
            p = ch["pressed"]
            presses = sum(1 for a, b in zip(p, p[1:], strict=False) if b and not a)
            parts.append(f"{name} {presses} presses, {owners.count(name)} notes")
        lines.append("Per sensor: " + "; ".join(parts) + ".")
    others = len(events) - len(ons) - sum(1 for e in events if e["type"] == "note_off")
    if others:
        lines.append(f"{others} other messages (control changes, bends, pressure).")
    return "\n".join(lines)
