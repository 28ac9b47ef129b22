"""The play loop's serial link on usbserial's port (micropython-lib's usb-device-cdc, as boot.py
starts it when the package is installed), end to end on the simulator: the firmware's own
usbserial.SerialPort over the fake USB core, which carries its packets to the simulated serial
port. Times here are virtual (the simulator's clock).

What the built-in port's tests check (tests/test_serial_priority.py, tests/test_link.py) holds
here too, faster: replies within 10 ms, a 30 Hz monitor, long lines read at USB speed.
"""

import json

import pytest

from simulator.run import Simulation
from simulator.world import SerialInput


class Recorder:
    """What the firmware sent, line by line, with the virtual time (ms) each line's end left."""

    def __init__(self, sim):
        self.sim = sim
        self.lines = []
        self._buf = b""
        self._orig = sim.serial.host_receive
        sim.serial.host_receive = self._receive

    def _receive(self, data):
        n = self._orig(data)
        self._buf += data[:n]
        now_ms = self.sim.clock.now / 1000
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            self.lines.append((now_ms, line.rstrip(b"\r").decode("latin-1")))
        return n

    def first(self, after_ms, start):
        for t, text in self.lines:
            if t >= after_ms and text.startswith(start):
                return t, text
        return None, None


def run(duration_s, inputs, instrument="combo", low_level=True, **kw):
    """Run with usb-device-cdc installed; inputs: [(at_s, bytes)]. Returns the Recorder.
    low_level=False: a usb-device release without `_dev._usbd` (usbserial falls back)."""
    faults = [SerialInput(at_s=at, data=data) for at, data in inputs]
    with Simulation(instrument, None, duration_s=duration_s, faults=faults, **kw) as sim:
        sim.world.usb_cdc = True
        sim.world.usb_low_level = low_level
        rec = Recorder(sim)
        sim.run()
        assert type(sim.world.usb_interfaces[0]).__name__ == "SerialPort"
    return rec


def status(rec, after_ms):
    t, text = rec.first(after_ms, 'OK {"state"')
    assert text is not None
    return json.loads(text[3:])


def test_a_short_request_is_answered_within_10_ms():
    asks = [1.0 + 0.25 * k for k in range(6)]
    rec = run(3.0, [(at, b"zzz\r\n") for at in asks])
    waits = []
    for at in asks:
        t, text = rec.first(at * 1000, "ERR unknown")
        assert text is not None
        waits.append(t - at * 1000)
    assert max(waits) <= 10.0, waits


@pytest.mark.parametrize("word", ["z" * 5, "z" * 69])
def test_a_reply_that_fills_whole_packets_reaches_the_host_at_once(word):
    # 64 and 128 bytes with the newline: a host's driver hands on whole packets only once a
    # short one comes (the simulated host too), so the port ends them with a zero-length one;
    # without it the reply waited for the next output (for ever: no monitor runs here)
    rec = run(2.0, [(1.0, word.encode() + b"\r\n")])
    t, text = rec.first(1000, "ERR unknown")
    assert text is not None and (len(text) + 1) % 64 == 0, text
    assert t - 1000 <= 10.0, t


def test_a_5000_byte_line_is_read_at_more_than_20_kb_a_second():
    rec = run(3.0, [(1.0, b"x" * 5000 + b"\r\n"), (2.0, b"hello\r\n")])
    t, text = rec.first(1000, "ERR toolong")
    assert text.startswith("ERR toolong The line was 5000 bytes long")
    assert 5002 / (t - 1000) >= 20.0, t - 1000  # bytes per ms = KB/s
    assert rec.first(2000, 'OK {"firmware"')[1] is not None


@pytest.mark.parametrize("low_level", [True, False])
def test_replies_are_written_at_more_than_20_kb_a_second(low_level):
    pages = b"".join(b"params " + str(o).encode() + b"\r\n" for o in range(0, 32, 8))
    rec = run(3.0, [(1.0, pages)], low_level=low_level)
    got = [(t, x) for t, x in rec.lines if x.startswith('OK {"total"')]
    assert len(got) == 4
    nbytes = sum(len(x) + 1 for _, x in got[1:])
    assert nbytes / (got[-1][0] - got[0][0]) >= 20.0


def moving_pad(ms: int) -> list[int]:
    """read_u16 each ms: the pad pressed and let go, slowly, over and over (never still)."""
    return [1600 + abs((t % 1000) - 500) * 56 for t in range(ms)]


def test_a_30_hz_meter_leaves_replies_quick_and_ticks_on_time():
    asks = [2.0 + 0.3 * k for k in range(8)]
    inputs = [(1.0, b"status\r\n"), (1.2, b"monitor 30\r\n")]
    inputs += [(at, b"panic\r\n") for at in asks] + [(5.0, b"status\r\n")]
    rec = run(5.5, inputs, trace={"pad": moving_pad(5500)})
    # (what Studio asks; the cap for three sensors is 50 on this port: commands/telemetry.py)
    assert rec.first(1200, 'OK {"monitor"')[1] == 'OK {"monitor":30,"max":50}'
    waits = [rec.first(at * 1000, 'OK {"panic"')[0] - at * 1000 for at in asks]
    assert max(waits) <= 10.0, waits
    frames = [t for t, x in rec.lines if x.startswith("* levels ") and 2000 <= t < 5000]
    assert len(frames) >= 0.95 * 30 * 3  # 30 frames a second, on time
    before, after = status(rec, 1000), status(rec, 5000)
    # no tick late but for the garbage collections the replies' and the pad's notes' lines
    # call for (2 ms each in the simulator): the frames make none (three in 4 s before, with
    # their text)
    gcs = after["collections"] - before["collections"]
    assert gcs <= 2
    assert after["late_ticks"] - before["late_ticks"] <= 2 * gcs


def test_the_cap_follows_the_bytes_a_second_the_link_gives_monitor_lines():
    from commands.telemetry import _MONITOR_BYTES_S, _MONITOR_BYTES_S_USB, max_rate

    four = [b"pad1", b"pad2", b"pad3", b"sw"]
    # a 4-sensor meter at 30 Hz on usbserial's port, with room left for early frames; the
    # built-in port (a byte per readiness check) carries a little less
    assert _MONITOR_BYTES_S_USB > _MONITOR_BYTES_S
    assert max_rate(four, _MONITOR_BYTES_S_USB, 64) == 34  # frames of 127 bytes (2 packets)
    assert max_rate(four, _MONITOR_BYTES_S) == 28


def test_maintenance_mode_boots_on_the_built_in_port_for_mpremote(tmp_path):
    inputs = [(1.0, b"maintenance\r\n")]
    faults = [SerialInput(at_s=at, data=data) for at, data in inputs]
    with Simulation("combo", tmp_path / "flash", duration_s=3.0, faults=faults) as sim:
        sim.world.usb_cdc = True
        rec = Recorder(sim)
        sim.run()
        # the reply left on the CDC port; the maintenance boot kept the built-in one
        assert rec.first(1000, "OK ")[1] == 'OK {"maintenance":true}'
        assert [type(i).__name__ for i in sim.world.usb_interfaces] == ["UsbMidiPort"]
        assert b"Attune: maintenance mode" in sim.serial_log
