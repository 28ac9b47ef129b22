"""The ways an instrument sounds: USB MIDI (a tick's packets in one transfer), 5-pin DIN, a
PWM tone. USB runs the firmware's own port (midi/usbport.py) on the simulator's usb.device fakes.
"""

import json
from pathlib import Path

import pytest
from midi.outputs import DinMidi, Outputs
from midi.packets import MidiOut
from synth.tone import Tone

from simulator.run import Simulation

BOARDS = Path(__file__).resolve().parents[1] / "boards"


@pytest.fixture
def sim(tmp_path):
    """A simulation with its fakes installed, not booted: the test drives usb.device itself."""
    s = Simulation("big-switch", tmp_path / "flash", usb_send_cost_us=0)
    s.world.usb_xfer_cost_us = 0
    heard = []
    s.world.midi_sinks.append(lambda t, cin, a, b, c: heard.append((cin, a, b, c)))
    s.heard = heard
    with s, s.installed():
        yield s


def open_port(sim, txlen=128, host_reading=True):
    """The firmware's USB MIDI port, enumerated by the simulated host; counts its transfers."""
    import usb.device
    from midi.usbport import UsbMidiPort

    port = UsbMidiPort(txlen)
    usb.device.get().init(port, builtin_driver=True, product_str="Test")
    sim.clock.run_until(50_000)
    assert port.is_open()
    sim.world.usb_host_reading = host_reading
    port.transfers = 0
    low = usb.device.get()._usbd  # the port starts its transfers there (midi/usbport.py)
    submit = low.submit_xfer

    def counted(ep, data):
        if ep == port.ep_in:
            port.transfers += 1
        return submit(ep, data)

    low.submit_xfer = counted
    return port


def test_a_ticks_packets_go_to_usb_in_one_transfer(sim):
    port = open_port(sim)
    m = MidiOut()
    for note in (60, 64, 67):
        m.note_on(0, note, 90)
    assert Outputs(port).send(m) == 0
    assert port.transfers == 1 and m.count == 0
    sim.clock.run_until(52_000)
    assert sim.heard == [(9, 0x90, 60, 90), (9, 0x90, 64, 90), (9, 0x90, 67, 90)]


def test_packets_the_usb_driver_cannot_take_wait_for_the_next_tick(sim):
    port = open_port(sim, txlen=8, host_reading=False)  # room for two packets
    m = MidiOut()
    for note in (60, 64, 67):
        m.note_on(0, note, 90)
    out = Outputs(port)
    assert out.send(m) == 1
    assert m.count == 1 and m.buf[2] == 67  # the third is first in line now
    m.note_off(0, 60)
    assert out.send(m) == 2  # still no room: the note-off waits too, it is never dropped
    sim.world.usb_host_reading = True
    sim.clock.run_until(52_000)
    assert out.send(m) == 0 and m.count == 0
    sim.clock.run_until(54_000)
    assert [h[2] for h in sim.heard] == [60, 64, 67, 60] and sim.heard[-1][1] == 0x80


def test_a_reset_owed_while_the_host_is_slow_reaches_it_before_anything_new(sim):
    port = open_port(sim, txlen=8, host_reading=False)  # room for two packets
    m = MidiOut()
    out = Outputs(port)
    m.bend(0, 16383)
    k = 0
    while m.note_on(0, k, 90):  # a slow host: the queue fills...
        k += 1
    while m.count < 48:  # ...to its last slot
        k -= 1
        m.note_off(0, k)
    assert not m.reset()  # the channel's reset does not fit: owed
    out.send(m)  # two packets leave: still no room for the reset's three
    assert not m.note_on(0, 64, 90)  # nothing new overtakes it
    sim.world.usb_host_reading = True
    t = 52_000
    while m.count:
        sim.clock.run_until(t)
        out.send(m)
        t += 2_000
    sim.clock.run_until(t + 2_000)
    assert [h[1:] for h in sim.heard[-3:]] == [(0xE0, 0, 64), (0xD0, 0, 0), (0xB0, 1, 0)]


def test_with_no_host_listening_nothing_piles_up(sim):
    import usb.device
    from midi.usbport import UsbMidiPort

    port = UsbMidiPort()
    usb.device.get().init(port, builtin_driver=True)
    m = MidiOut()
    m.note_on(0, 60, 90)
    out = Outputs(port)
    assert not port.is_open() and out.send(m) == 0 and m.count == 0
    sim.clock.run_until(50_000)
    assert port.is_open() and sim.heard == []


def test_the_base_classs_own_sending_cannot_overtake_the_queue(sim):
    port = open_port(sim)
    assert port.send_event(0x9, 0x90, 60, 90) is False  # its TX buffer is empty by design


def test_a_new_host_hears_all_notes_off_first(sim):
    port = open_port(sim)
    usb_dev = __import__("usb.device").device.get()
    usb_dev.active(False)  # unplugged
    assert not port.is_open()
    m = MidiOut()
    out = Outputs(port)
    usb_dev.active(True)
    sim.clock.run_until(80_000)
    m.note_on(1, 62, 90)
    assert out.send(m) == 0
    sim.clock.run_until(82_000)
    assert [h[1:3] for h in sim.heard[:16]] == [(0xB0 | ch, 123) for ch in range(16)]
    assert sim.heard[16] == (9, 0x91, 62, 90)


def test_din_midi_sends_each_packet_once_even_when_usb_retries(sim):
    port = open_port(sim, txlen=4, host_reading=False)
    uart = FakeUart()
    m = MidiOut()
    m.note_on(2, 60, 90)
    m.pressure(2, 50)
    out = Outputs(port, DinMidi(uart))
    assert out.send(m) == 1  # USB takes one packet, DIN both
    sim.world.usb_host_reading = True
    sim.clock.run_until(52_000)
    assert out.send(m) == 0  # USB takes the second; DIN must not repeat it
    assert bytes(uart.bytes) == bytes((0x92, 60, 90, 0xD2, 50))


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


def test_a_transfer_a_bus_reset_cancelled_does_not_stop_usb_midi(sim):
    # the port remembers its own transfer in flight (so a send after a quiet spell skips
    # usb.device's xfer_pending); a bus reset cancels that transfer with no completion, and
    # the port must not wait for it for ever
    import usb.device

    port = open_port(sim, host_reading=False)
    m = MidiOut()
    m.note_on(0, 60, 90)
    Outputs(port).send(m)
    assert port.transfers == 1 and port._flight is not None
    dev = usb.device.get()
    dev.active(False)  # the host resets the bus: the transfer is cancelled, no completion
    assert port._flight is None
    dev.active(True)
    sim.clock.run_until(sim.clock.now + 50_000)
    assert port.is_open()
    sim.world.usb_host_reading = True
    sim.clock.run_until(sim.clock.now + 5_000)
    m.note_on(0, 64, 90)
    Outputs(port).send(m)
    sim.clock.run_until(sim.clock.now + 5_000)
    assert (9, 0x90, 64, 90) in sim.heard
    assert port._flight is None  # its completion ran


def test_a_write_while_a_transfer_is_in_flight_waits_for_its_completion(sim):
    port = open_port(sim, host_reading=False)
    m = MidiOut()
    out = Outputs(port)
    m.note_on(0, 60, 90)
    out.send(m)
    m.note_on(0, 64, 90)
    out.send(m)  # queued behind the first: no second transfer on the busy endpoint
    assert port.transfers == 1
    sim.world.usb_host_reading = True
    sim.clock.run_until(sim.clock.now + 5_000)
    assert sim.heard == [(9, 0x90, 60, 90), (9, 0x90, 64, 90)]


def test_without_usb_devices_low_level_names_the_port_uses_the_public_submit(sim):
    # midi/usbport.py and usbserial.py start transfers through usb.device's `_dev._usbd`; a
    # usb-device release without it must still play, through Interface.submit_xfer
    import usb.device
    from midi.usbport import UsbMidiPort

    sim.world.usb_low_level = False
    usb.device.core._dev = None  # made again, as that release would make it
    port = UsbMidiPort()
    usb.device.get().init(port, builtin_driver=True, product_str="Test")
    sim.clock.run_until(50_000)
    assert not hasattr(usb.device.get(), "_usbd")
    sim.world.usb_host_reading = False
    m = MidiOut()
    out = Outputs(port)
    m.note_on(0, 60, 90)
    out.send(m)
    m.note_off(0, 60)
    out.send(m)
    sim.world.usb_host_reading = True
    sim.clock.run_until(sim.clock.now + 5_000)
    assert sim.heard == [(9, 0x90, 60, 90), (8, 0x80, 60, 0)]
