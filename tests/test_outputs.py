"""The ways an instrument sounds: USB MIDI (batched into the driver), 5-pin DIN, a PWM tone."""

import json
from pathlib import Path

from midi.outputs import DinMidi, Outputs, UsbMidi
from midi.packets import MidiOut
from synth.tone import Tone

from simulator.run import Simulation

BOARDS = Path(__file__).resolve().parents[1] / "boards"


class FakeTx:
    """micropython-lib's usb.device.core.Buffer, as far as UsbMidi uses it."""

    def __init__(self, size):
        self.data = bytearray()
        self.size = size

    def writable(self):
        return self.size - len(self.data)

    def pend_write(self):
        return memoryview(bytearray(self.writable()))

    def finish_write(self, n):
        self._n = n


class FakeMidiInterface:
    def __init__(self, size=16, open_=True):
        self._tx = FakeTx(size)
        self.open = open_
        self.transfers = 0
        self.sent = bytearray()
        tx = self._tx
        pend = tx.pend_write

        def pend_write():
            self._w = pend()
            return self._w

        def finish_write(n):
            self.sent += bytes(self._w[:n])
            tx.data += bytes(self._w[:n])

        tx.pend_write = pend_write
        tx.finish_write = finish_write

    def is_open(self):
        return self.open

    def _tx_xfer(self):
        self.transfers += 1


def usb_with(port):
    usb = UsbMidi.__new__(UsbMidi)
    usb.port = port
    return usb


class FakeUart:
    def __init__(self):
        self.bytes = bytearray()

    def write(self, b):
        self.bytes += bytes(b)


class FakePwm:
    def __init__(self):
        self.calls = []

    def freq(self, f):
        self.calls.append(("freq", f))

    def duty_u16(self, d):
        self.calls.append(("duty", d))


def test_a_ticks_packets_go_to_usb_in_one_transfer():
    port = FakeMidiInterface(size=64)
    m = MidiOut()
    for note in (60, 64, 67):
        m.note_on(0, note, 90)
    assert Outputs(usb_with(port)).send(m) == 0
    assert port.transfers == 1 and port.sent[:4] == bytes((0x09, 0x90, 60, 90))
    assert m.count == 0


def test_packets_the_usb_driver_cannot_take_wait_for_the_next_tick():
    port = FakeMidiInterface(size=8)  # room for two packets
    m = MidiOut()
    for note in (60, 64, 67):
        m.note_on(0, note, 90)
    out = Outputs(usb_with(port))
    assert out.send(m) == 1
    assert m.count == 1 and m.buf[2] == 67  # the third is first in line now


def test_with_no_host_listening_nothing_piles_up():
    port = FakeMidiInterface(open_=False)
    m = MidiOut()
    m.note_on(0, 60, 90)
    assert Outputs(usb_with(port)).send(m) == 0 and port.sent == b""


def test_din_midi_sends_each_packet_once_even_when_usb_retries():
    port = FakeMidiInterface(size=4)
    uart = FakeUart()
    m = MidiOut()
    m.note_on(2, 60, 90)
    m.pressure(2, 50)
    out = Outputs(usb_with(port), DinMidi(uart))
    out.send(m)  # USB takes one packet, DIN both
    port._tx.data.clear()
    out.send(m)  # USB takes the second; DIN must not repeat it
    assert bytes(uart.bytes) == bytes((0x92, 60, 90, 0xD2, 50))


def test_the_tone_follows_the_newest_note_and_stops_with_it():
    pwm = FakePwm()
    tone = Tone(pwm)
    m = MidiOut()
    m.note_on(0, 69, 127)
    m.note_on(0, 72, 64)
    m.note_off(0, 69)  # an older note ending does not silence the newer one
    m.note_off(0, 72)
    for i in range(m.count):
        tone.play(m.buf, i)
    assert ("freq", 440) in pwm.calls
    assert pwm.calls[-1] == ("duty", 0) and tone.note == -1
    duties = [c[1] for c in pwm.calls if c[0] == "duty"]
    assert duties[1] > 0 and duties[2] > 0  # after 69's note-off 72 still sounds


def test_a_board_with_din_and_a_speaker_plays_through_both(tmp_path):
    board = json.loads((BOARDS / "pico.json").read_text())
    board["din_midi_tx"] = 0
    board["tone_pin"] = 16
    trace = {"switch": [0] * 500 + [1] * 300 + [0] * 500}
    with Simulation("big-switch", tmp_path / "flash", board=board, trace=trace) as sim:
        events = sim.run()
        tones = list(sim.world.tone_events)
        din = list(sim.din.events)
    assert [e["type"] for e in events if e["type"].startswith("note")] == ["note_on", "note_off"]
    assert [e["type"] for e in din if e["type"].startswith("note")] == ["note_on", "note_off"]
    assert any(t[3] > 0 for t in tones) and tones[-1][3] == 0
