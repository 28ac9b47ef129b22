"""The journal's device side (issue 15): `* act` lines while the monitor is on, standalone
sessions kept on the instrument's flash and collected by host_tools.devicejournal on the next
connection, a record that fails its checksum skipped with a problem, and a power cut in the
middle of writing a summary. Against the real firmware console (tests/host_fake.py) and the
whole firmware on the simulator (power cuts part-way through a flash write, as in
tests/test_reliability.py)."""

from __future__ import annotations

import json
import os
import shutil
import statistics
from pathlib import Path
from typing import Any

import journal as fw_journal
import pytest
import store as fw_store
from host_fake import PRESS_VELOCITY, PRESS_VELOCITY_FIRST, FakeAttune, FakeSerial
from hypothesis import given
from hypothesis import strategies as st
from test_reliability import FlashCut, Movements, play

from host_tools import devicejournal
from host_tools.client import Client, parse_async
from host_tools.devicejournal import Collected, DeviceSession, SensorSummary
from host_tools.errors import Refused

PAD_REST, PAD_SQUEEZE = 2000, 30000  # the kit's pad (read_u16)
SQUEEZE_RISE_MS = 150  # as a hand squeezes: a jump from rest would wait for the twitch check


def squeezes(dev: FakeAttune, n: int, every_ms: int = 1000, hold_ms: int = 400) -> None:
    """`n` squeezes of the pad with the monitor off: a standalone session."""
    pad = dev.kit.sensors["pad"]
    for _ in range(n):
        for k in range(1, SQUEEZE_RISE_MS + 1):
            pad.value = PAD_REST + (PAD_SQUEEZE - PAD_REST) * k // SQUEEZE_RISE_MS
            dev.kit.play(1)
        dev.kit.play(hold_ms - SQUEEZE_RISE_MS)
        pad.value = PAD_REST
        dev.kit.play(every_ms - hold_ms)


def wait(dev: FakeAttune, ms: int) -> None:
    """Nobody plays for `ms`: the clock jumps, then a few ticks and polls see the new time."""
    dev.kit.t_ms += ms - 20
    dev.kit.play(20)


def reboot(dev: FakeAttune) -> FakeAttune:
    """The same instrument after a restart: a new console on the same flash."""
    new = FakeAttune()
    for name in os.listdir(new.flash):
        p = os.path.join(new.flash, name)
        shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    for name in os.listdir(dev.flash):
        src = os.path.join(dev.flash, name)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(new.flash, name))
        else:
            shutil.copy(src, new.flash)
    # (imported here, after host_fake's console: `help` lists commands in import order)
    from commands import journal as journal_cmd

    journal_cmd._start(new.console)  # what start-up does: read the journal on this flash
    return new


def connect(dev: FakeAttune) -> Client:
    client = Client(FakeSerial(dev), timeout=0.5)
    client.hello()
    return client


# -- the device side: * act lines and the standalone log --------------------------------------


def test_presses_while_monitoring_are_act_lines_on_the_monitor_clock_and_not_journalled():
    dev = FakeAttune()
    client = connect(dev)
    client.monitor(8)
    acts, monitors, events = [], [], []
    for _ in range(300):
        line = client.read_async(0.05)
        if line is None:
            continue
        msg = parse_async(line)
        if msg["kind"] == "act":
            acts.append(msg)
        elif msg["kind"] == "monitor" and msg.get("sensor") == "pad":
            monitors.append(msg)
        elif msg["kind"] == "event" and msg.get("type") == "note_on":
            events.append(msg)
        if len(acts) >= 3:
            break
    client.monitor_off()
    pads = [a for a in acts if a["sensor"] == "pad"]
    assert len(pads) >= 3, acts
    # the fake's performance: the pad pressed once a second for 300 ms, C4 at velocity 96, then
    # 109 once the trigger is learned (host_fake.PRESS_VELOCITY)
    assert events[0]["velocity"] == PRESS_VELOCITY_FIRST
    assert [a["vel"] for a in pads] == [PRESS_VELOCITY_FIRST] + [PRESS_VELOCITY] * (len(pads) - 1)
    for a in pads:
        assert abs(a["hold"] - 300) <= 25, a
        assert a["peak"] == 39000 and 0 < a["level"] <= 16383, a
    onsets = [a["t"] for a in pads]
    # the fake presses from rest to far past the trigger in a few ms, faster than a hand: before
    # a press is learned such a crossing waits for the twitch check (up to 25 ms,
    # docs/sensing.md "Twitches"); the presses after it play as they cross
    gaps = [b - a for a, b in zip(onsets, onsets[1:], strict=False)]
    assert 975 <= gaps[0] <= 1000 and all(abs(g - 1000) <= 2 for g in gaps[1:]), onsets
    # t is on the monitor's clock: a monitor line during a press is within it
    pressed = [m["t"] for m in monitors if m.get("pressed")]
    assert any(o <= t <= o + 300 for t in pressed for o in onsets), (pressed, onsets)
    assert devicejournal.collect(client) == Collected([], [])


def test_a_standalone_session_is_collected_on_the_next_connection_and_cleared():
    dev = FakeAttune()
    squeezes(dev, 6)
    # the intervals between the notes as played (the first comes a little sooner in its squeeze
    # than the rest: the trigger is learned from it, docs/sensing.md "Auto-ranging")
    onsets = [e[0] for e in dev.kit.events if e[1] == "note_on"]
    ioi = [b - a for a, b in zip(onsets, onsets[1:], strict=False)]
    wait(dev, fw_journal.PAUSE_MS + 100)  # a pause: the session's summary is written
    assert os.path.isfile(os.path.join(dev.flash, "journal.log"))
    dev = reboot(dev)  # e.g. unplugged, then plugged into the therapist's computer
    client = connect(dev)
    got = devicejournal.collect(client)
    assert got.problems == []
    assert len(got.sessions) == 1
    s = got.sessions[0]
    assert isinstance(s, DeviceSession) and (s.seq, s.boot) == (1, 1)
    assert 4 <= s.dur_s <= 6
    (pad,) = s.sensors
    assert isinstance(pad, SensorSummary)
    assert (pad.name, pad.unit, pad.count) == ("pad", "read_u16", 6)
    # (a note begins up to ~35 ms into its 150 ms squeeze: the trigger is learned from the first
    # one, and a rise as fast as the client's usual ones is let through by the twitch check once
    # it has gone on for 25 ms)
    assert abs(pad.hold_ms_mean - 400) <= 40 and pad.hold_ms_max >= pad.hold_ms_mean
    assert pad.peak_mean == pad.peak_max == PAD_SQUEEZE
    assert len(ioi) == 5 and max(ioi) - min(ioi) <= 30, ioi
    assert pad.ioi_mean_ms == sum(ioi) // 5
    assert abs(pad.ioi_sd_ms - statistics.pstdev(ioi)) <= 1
    # collecting again reads the same (collect never clears)...
    assert devicejournal.collect(client) == got
    # ...until the host has stored it and clears it
    devicejournal.clear(client, s.seq)
    assert devicejournal.collect(client) == Collected([], [])
    # the next session gets the next number, even after another restart
    dev = reboot(dev)
    squeezes(dev, 2)
    client = connect(dev)
    assert [x.seq for x in devicejournal.collect(client).sessions] == [2]


@given(st.lists(st.integers(50, 5000), min_size=1, max_size=60))
def test_the_onsets_standard_deviation_is_that_of_the_intervals(ioi):
    # the running sums the device keeps, and the figure it stores from them; squaring the
    # floored mean instead read a spread of 0.4 ms as 41 ms (intervals near a second)
    total, sq, k = sum(ioi), sum(x * x for x in ioi), len(ioi)
    var = fw_journal._variance(sq, total, k, total // k)
    assert abs(var - statistics.pvariance(ioi)) <= 1
    assert abs(fw_journal.isqrt(var) - statistics.pstdev(ioi)) <= 1


def test_the_session_in_progress_is_collected_from_memory_and_ends_when_cleared():
    dev = FakeAttune()
    squeezes(dev, 3)
    client = connect(dev)
    got = devicejournal.collect(client)
    assert [x.seq for x in got.sessions] == [1] and got.sessions[0].sensors[0].count == 3
    devicejournal.clear(client, 1)
    squeezes(dev, 2)  # later play is a new session: nothing is counted twice
    again = devicejournal.collect(client)
    assert [(x.seq, x.sensors[0].count) for x in again.sessions] == [(2, 2)]


def test_writes_keep_to_the_budget(monkeypatch, tmp_path):
    """The policy on its own (Journal.poll every 4 ms, as between ticks), on a virtual clock."""
    monkeypatch.chdir(tmp_path)
    j = fw_journal.Journal(["pad"], ["read_u16"])
    writes: list[int] = []
    pressed_at_write: list[int] = []

    def play(presses: list[tuple[int, int]], until: int, now: int) -> int:
        k = 0
        while now < until:
            while k < len(presses) and sum(presses[k]) <= now:
                onset, hold = presses[k]
                j.touched(onset)
                j.pressed(0, onset, onset + hold, hold, 30000, 9000, onset)
                j.touched(onset + hold)
                k += 1
            down = k < len(presses) and presses[k][0] <= now
            before = j.log.writes
            j.poll(now, 1 if down else 0)
            if j.log.writes > before:
                writes.append(now)
                pressed_at_write.append(down)
            now += 4
        return now

    # ten minutes of presses every 2 s with no pause: one write after 8 minutes (then every 10),
    # never mid-press, and one at the pause after the last press
    now = play([(t, 400) for t in range(0, 600_000, 2000)], 620_000, 0)
    assert writes == [480_400, 598_400 + fw_journal.PAUSE_MS]
    # phrases of 3 presses each followed by a 12 s pause: a write at the pause, at most every
    # 2 minutes
    start = now
    presses = []
    t = start
    while t < start + 3_600_000:
        presses += [(t, 300), (t + 1000, 300), (t + 2000, 300)]
        t += 2300 + 12_000
    play(presses, start + 3_600_000, start)
    hour = [w for w in writes if w >= start]
    assert 25 <= len(hour) <= 3_600_000 // fw_journal.MIN_GAP_MS, len(hour)
    assert all(b - a >= fw_journal.MIN_GAP_MS for a, b in zip(hour, hour[1:], strict=False))
    assert not any(pressed_at_write)


def test_the_log_keeps_to_its_capacity_dropping_the_oldest():
    dev = FakeAttune()
    log = dev.console.journal.log
    for _ in range(60):
        squeezes(dev, 1, every_ms=600)
        wait(dev, fw_journal.PAUSE_MS + 100)  # written
        wait(dev, fw_journal.IDLE_END_MS)  # the session ends
    assert log.writes == 60 and log.size <= fw_journal.CAPACITY
    client = connect(dev)
    head = client.request("journal")
    assert head["capacity"] == fw_journal.CAPACITY and head["bytes"] == log.size
    assert head["last"] == 60 and head["sessions"] == head["last"] - head["first"] + 1 < 60
    got = devicejournal.collect(client)
    assert [x.seq for x in got.sessions] == list(range(head["first"], 61))


def test_a_record_that_fails_its_checksum_is_skipped_with_a_problem():
    dev = FakeAttune()
    squeezes(dev, 4)
    wait(dev, fw_journal.IDLE_END_MS + 1000)
    squeezes(dev, 2)
    wait(dev, fw_journal.PAUSE_MS + 100)
    path = Path(dev.flash) / "journal.log"
    lines = path.read_bytes().split(b"\n")
    assert len(lines) == 4  # header, two sessions, the final newline
    lines[1] = lines[1].replace(b'"pad", "read_u16", 4', b'"pad", "read_u16", 9')
    path.write_bytes(b"\n".join(lines))
    client = connect(reboot(dev))
    got = devicejournal.collect(client)
    assert [x.seq for x in got.sessions] == [2] and got.sessions[0].sensors[0].count == 2
    assert len(got.problems) == 1 and "Session 1 " in got.problems[0]
    assert "checksum" in got.problems[0]
    with pytest.raises(Refused) as e:
        client.request("journal read 1")
    assert e.value.code == "corrupt"


class PowerCut(BaseException):
    """Nothing survives a real cut: not an Exception, so nothing catches it."""


def cut_while_saving(monkeypatch, dev: FakeAttune, torn: bool) -> None:
    """Play on until the next summary is written, with the power cut in its write (`torn`:
    half of the bytes reach the flash, else none)."""
    real_open = open

    class Cut:
        def __init__(self, f: Any) -> None:
            self.f = f

        def write(self, data: bytes) -> int:
            if torn:
                self.f.write(data[: len(data) // 2])
            self.f.close()
            raise PowerCut()

        def close(self) -> None:
            self.f.close()

    def cutting_open(path: str, mode: str = "r") -> Any:
        f = real_open(path, mode)
        return Cut(f) if "w" in mode else f

    # the journal writes its file with store.write_file
    monkeypatch.setattr(fw_store, "open", cutting_open, raising=False)
    with pytest.raises(PowerCut):
        dev.kit.play(fw_journal.SAVE_EVERY_MS)
    monkeypatch.undo()


@pytest.mark.parametrize("torn", [True, False], ids=["torn-write", "nothing-written"])
def test_a_power_cut_while_writing_a_new_session_keeps_the_others_and_reports_it(
    monkeypatch, torn
):
    dev = FakeAttune()
    squeezes(dev, 4)
    wait(dev, fw_journal.PAUSE_MS + 100)  # session 1 written
    wait(dev, fw_journal.IDLE_END_MS)
    squeezes(dev, 3)  # session 2: its first write is cut
    cut_while_saving(monkeypatch, dev, torn)
    dev = reboot(dev)
    client = connect(dev)
    got = devicejournal.collect(client)
    assert [(x.seq, x.sensors[0].count) for x in got.sessions] == [(1, 4)]
    assert len(got.problems) == 1 and "Session 2 " in got.problems[0]
    assert "power" in got.problems[0]
    # the cut session's number is never given again, and the report outlives the next write
    squeezes(dev, 2)
    wait(dev, fw_journal.PAUSE_MS + 100)
    got = devicejournal.collect(connect(reboot(dev)))
    assert [x.seq for x in got.sessions] == [1, 3] and "Session 2 " in got.problems[0]


def test_a_power_cut_while_updating_a_session_keeps_its_earlier_summary(monkeypatch):
    dev = FakeAttune()
    squeezes(dev, 4)
    wait(dev, fw_journal.PAUSE_MS + 100)  # session 1 written with 4 squeezes
    squeezes(dev, 5)
    wait(dev, fw_journal.MIN_GAP_MS)  # ...then with 9, at a pause two minutes later
    squeezes(dev, 1)
    cut_while_saving(monkeypatch, dev, torn=True)  # its update with 10 is cut
    got = devicejournal.collect(connect(reboot(dev)))
    assert [(x.seq, x.sensors[0].count) for x in got.sessions] == [(1, 9)]
    assert len(got.problems) == 1 and "Session 1 " in got.problems[0]
    assert "last minutes are missing" in got.problems[0]


class Refusing:
    """A client of an older firmware: every request is an unknown command."""

    def request(self, line: str) -> dict:
        raise Refused("unknown", "'journal' is not a command.", line)


def test_an_older_firmware_without_a_journal_gives_an_empty_collection():
    assert devicejournal.collect(Refusing()) == Collected([], [])  # type: ignore[arg-type]
    devicejournal.clear(Refusing(), 3)  # type: ignore[arg-type]


def test_journal_command_errors_are_plain_words():
    client = connect(FakeAttune())
    for line, code, words in (
        ("journal read", "usage", "journal read <seq>"),
        ("journal erase 3", "usage", "journal clear <seq>"),
        ("journal read x", "value", "is not a session number"),
        ("journal read 4", "value", "There is no session 4 in the journal; it is empty."),
    ):
        with pytest.raises(Refused) as e:
            client.request(line)
        assert e.value.code == code and words in e.value.reason, (line, e.value.reason)
    assert client.request("journal clear 9") == {"cleared": 0}


# -- the whole firmware on the simulator: a power cut part-way through the flash write --------


class Replay:
    """A client that answers from what the firmware replied to the same requests in a run."""

    def __init__(self, asked: list[str], lines: list[str]) -> None:
        replies = [x for x in lines if x.startswith(("OK", "ERR"))]
        self.answers = dict(zip(asked, replies[-len(asked) :], strict=True))

    def request(self, line: str) -> dict:
        reply = self.answers[line]
        if reply.startswith("ERR "):
            _, code, reason = reply.split(" ", 2)
            raise Refused(code, reason, line)
        return json.loads(reply[3:])


@pytest.mark.parametrize("step", [0, 1, 2], ids=["open", "write", "rename"])
def test_the_simulated_pico_loses_power_while_writing_a_summary(tmp_path, step):
    moves = Movements(16.0)
    for t in range(1000, 4000, 500):
        moves.squeeze(t, hold_ms=200)  # session 1: written at the pause after it (~13.8 s)
    asked = ["journal", "journal read 1"]
    holder: dict[str, FlashCut] = {}

    def prepare(sim: Any) -> None:
        holder["cut"] = cut = FlashCut(sim)
        cut.install(mp)
        sim.faults.append(cut.arm(13.0, 14.5, step, torn=step == 1))

    with pytest.MonkeyPatch.context() as mp:
        s = play(tmp_path, moves, asks=tuple((15.5, a) for a in asked), before_run=prepare)
    cut = holder["cut"]
    assert [r["cause"] for r in s.sim.resets] == ["power cut"], cut.steps
    assert cut.steps[step].startswith(("open journal.1.tmp", "write journal.1.tmp", "rename"))
    got = devicejournal.collect(Replay(asked, [x for _, x in s.lines]))  # type: ignore[arg-type]
    if step == 2:  # the file was whole: start-up finished the rename
        assert [x.sensors[0].count for x in got.sessions] == [6] and got.problems == []
    elif step == 1:
        assert got.sessions == [] and "Session 1 " in got.problems[0]
    else:  # cut before the file existed: nothing to see, nothing damaged
        assert got == Collected([], [])
