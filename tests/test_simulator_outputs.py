"""Outputs: JSON lines with the agreed fields, a .mid mido can read, a WAV that is not silent,
a PNG plot."""

import json
import wave

import mido
import numpy as np

from simulator.outputs import DinParser, midi_event, plot, render_wav, write_jsonl, write_midi

EVENTS = [
    midi_event(100.0, 0x90, 60, 90),
    midi_event(150.0, 0xB0, 7, 100),
    midi_event(400.0, 0x80, 60, 0),
    midi_event(500.0, 0x91, 64, 40),
    midi_event(600.0, 0xE1, 0x00, 0x50),
    midi_event(700.0, 0xD1, 99),
    midi_event(900.5, 0x91, 64, 0),
]


def test_midi_messages_become_the_agreed_event_dicts():
    assert EVENTS[0] == {
        "t_ms": 100.0,
        "type": "note_on",
        "channel": 0,
        "note": 60,
        "velocity": 90,
    }
    assert EVENTS[1] == {"t_ms": 150.0, "type": "cc", "channel": 0, "control": 7, "value": 100}
    assert EVENTS[4] == {"t_ms": 600.0, "type": "pitch_bend", "channel": 1, "value": 2048}
    assert EVENTS[5] == {"t_ms": 700.0, "type": "pressure", "channel": 1, "value": 99}
    assert EVENTS[6]["type"] == "note_off" and EVENTS[6]["velocity"] == 0  # note_on vel 0


def test_jsonl_has_one_event_per_line(tmp_path):
    write_jsonl(EVENTS, tmp_path / "e.jsonl")
    lines = (tmp_path / "e.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == EVENTS


def test_the_midi_file_reads_back_with_mido_at_millisecond_ticks(tmp_path):
    write_midi(EVENTS, tmp_path / "e.mid")
    mid = mido.MidiFile(tmp_path / "e.mid")
    msgs = [m for m in mid if not m.is_meta]
    assert [m.type for m in msgs] == [
        "note_on",
        "control_change",
        "note_off",
        "note_on",
        "pitchwheel",
        "aftertouch",
        "note_off",
    ]
    t = 0.0
    times = []
    for m in mid:
        t += m.time
        if not m.is_meta:
            times.append(round(t * 1000))
    assert times == [100, 150, 400, 500, 600, 700, 900]


def test_the_wav_is_audible(tmp_path):
    peak = render_wav(EVENTS, tmp_path / "e.wav", rate=8000)
    with wave.open(str(tmp_path / "e.wav")) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert peak > 0.05 and np.abs(pcm).max() > 1000
    assert np.abs(pcm[: int(0.09 * 8000)]).max() == 0  # silence before the first note


def test_a_cc_only_channel_is_heard_as_a_drone(tmp_path):
    swell = [midi_event(100.0 * i, 0xB2, 11, min(127, 20 * i)) for i in range(10)]
    assert render_wav(swell, tmp_path / "cc.wav", rate=8000) > 0.05


def test_the_plot_is_written(tmp_path):
    traces = {"pad": ("read_u16", [1000] * 300 + [9000] * 300 + [1000] * 400)}
    samples = {
        "t_ms": [float(t) for t in range(0, 1000, 5)],
        "channels": {
            "pad": {
                "trigger_raw": [3000] * 200,
                "pressed": [300 <= t < 600 for t in range(0, 1000, 5)],
            }
        },
    }
    plot(traces, samples, [midi_event(301.0, 0x90, 60, 90)], tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_din_bytes_with_running_status_become_events():
    din = DinParser()
    din.feed(5.0, b"\x90\x3c\x64\x3e\x50")
    din.feed(6.0, b"\xf8\x3c\x00")
    assert [(e["type"], e["note"]) for e in din.events] == [
        ("note_on", 60),
        ("note_on", 62),
        ("note_off", 60),
    ]
