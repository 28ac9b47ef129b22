"""Fuzz: random bytes of the full 0-255 range, control bytes included, in random line shapes,
typed into the playing combo (all three sensors playing, the monitor at its cap). Whatever
arrives, the instrument never stops or restarts, no note is left sounding, no channel is left
bent, and `status` answers throughout."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_reliability import Movements, assert_played, assert_silent, play

from simulator.world import SerialInput

_SECONDS = 6
_SHAPES = [
    b"hello\x03",
    b"\x01print('pwned')\x04",
    b"\x03\x03\x04\x02\x01",
    b"status\x1b[A",
    b"\r\n",
    b"\r",
    b"\n",
    b"\t",
    b"x" * 260,
    b"@a7 ",
    b"@toolongtag9 status",
    b"set pad.sensitivity \x00",
    b"monitor 50\n",
    b"get pad\r\n",
    b"\xff\xfe\x80",
]

LINE = st.one_of(
    st.binary(max_size=60),  # any byte at all
    st.lists(st.sampled_from(_SHAPES), min_size=1, max_size=6).map(b"".join),
    st.tuples(st.binary(max_size=30), st.sampled_from([b"\n", b"\r", b"\r\n", b""])).map(b"".join),
)
SESSION = st.lists(LINE, min_size=5, max_size=30)


def _bends(events: list[dict]) -> dict[int, int]:
    """The last pitch bend on each channel (0 = centred)."""
    return {e["channel"]: e["value"] for e in events if e["type"] == "pitch_bend"}


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(SESSION)
def test_random_bytes_while_everything_plays_never_stop_or_detune_the_instrument(
    tmp_path_factory, chunks
):
    fuzz(tmp_path_factory, chunks)


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(SESSION)
def test_random_bytes_on_the_usb_device_cdc_port_never_stop_or_detune_the_instrument(
    tmp_path_factory, chunks
):
    fuzz(tmp_path_factory, chunks, usb_cdc=True)


def fuzz(tmp_path_factory, chunks, usb_cdc=False):
    """The session: `chunks` typed in while all three sensors play; usb_cdc: on usbserial's
    port (micropython-lib's usb-device-cdc installed) instead of the built-in one."""
    flash = tmp_path_factory.mktemp("flash")
    moves = Movements(_SECONDS)
    moves.metronome(1000, _SECONDS * 1000 - 800, every_ms=400)
    for t in range(1100, _SECONDS * 1000 - 800, 700):
        moves.squeeze(t, hold_ms=250)
        moves.reach(t + 300, hold_ms=250)
    faults = [SerialInput(at_s=0.9, data=b"monitor 50\n")]
    step = 4.0 / len(chunks)
    for i, chunk in enumerate(chunks):
        at = 1.0 + i * step
        faults.append(SerialInput(at_s=at, data=chunk))
        # a line end first (what the host tool does), then a tagged status: it must answer
        faults.append(
            SerialInput(at_s=at + step / 2, data=b"\n@s" + str(i).encode() + b" status\n")
        )
    faults.append(SerialInput(at_s=_SECONDS - 0.5, data=b"\nmonitor off\n@end status\n"))
    s = play(flash, moves, faults, before_run=lambda sim: setattr(sim.world, "usb_cdc", usb_cdc))
    if usb_cdc:
        assert type(s.sim.world.usb_interfaces[0]).__name__ == "SerialPort"
    log = s.sim.serial_log
    assert s.sim.resets == [] and s.sim.crashes == []
    assert b"Traceback" not in log and b"raw REPL" not in log and b"Attune stopped" not in log
    assert b"OKpwned" not in log and b"ERR internal" not in log
    answered = {}
    for _, line in s.lines:
        if line.startswith("@"):
            tag, _, rest = line.partition(" ")
            answered[tag] = rest
    for i in range(len(chunks)):
        reply = answered.get("@s" + str(i), "")
        assert reply.startswith("OK "), (i, reply)
        assert json.loads(reply[3:])["state"] == "playing"
    final = json.loads(answered["@end"][3:])
    assert final["restarts"] == 0 and final["tick_hz"] >= 990
    assert_played(s, "switch", from_ms=1000)
    assert_silent(s.events, moves.n, "at the end")
    assert all(v == 0 for v in _bends(s.events).values()), _bends(s.events)
