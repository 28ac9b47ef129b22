"""The MicroPython fakes: pins and ADC read the world, I2C reaches chips by address (EIO when
unplugged, ETIMEDOUT when stuck), USB MIDI's TX buffer fills and drains 16 events a frame."""

import errno

import pytest

from simulator.context import SimulatedReset
from simulator.run import Simulation
from simulator.world import StuckBus, Unplug

INSTRUMENT = {
    "name": "bench",
    "title": "Bench",
    "channels": [
        {"name": "button", "sensor": "switch", "pin": 15, "pull": "up", "active_low": True},
        {"name": "pedal", "sensor": "switch", "pin": 14, "pull": "down"},
        {"name": "pad", "sensor": "fsr", "pin": 26},
        {"name": "hand", "sensor": "vl6180x", "bus": 0, "sda": 4, "scl": 5},
    ],
}
BOARD = {"id": "pico", "name": "Raspberry Pi Pico"}


class EchoChip:
    """A toy I2C chip: remembers every write, answers reads from a byte counter."""

    def __init__(self, address):
        self.address = address
        self.connected = True
        self.writes = []
        self.counter = 0

    def write(self, data):
        self.writes.append(bytes(data))

    def read(self, n):
        out = bytes((self.counter + i) & 0xFF for i in range(n))
        self.counter += n
        return out


@pytest.fixture
def sim(tmp_path):
    fw = tmp_path / "fw"
    fw.mkdir()
    (fw / "main.py").write_text("pass\n")
    trace = {
        "button": [0] * 10 + [1] * 10,
        "pedal": [1] * 10 + [0] * 10,
        "pad": [1000 + 100 * i for i in range(20)],
    }
    s = Simulation(
        INSTRUMENT,
        tmp_path / "flash",
        board=BOARD,
        trace=trace,
        firmware_dir=fw,
        usb_send_cost_us=0,
    )
    s.world.usb_xfer_cost_us = 0
    with s, s.installed():
        yield s


def at_ms(sim, ms):
    sim.clock.run_until(ms * 1000)


def test_an_active_low_switch_reads_0_while_pressed_and_1_released(sim):
    from machine import Pin

    button = Pin(15, Pin.IN, Pin.PULL_UP)
    pedal = Pin("GP14", Pin.IN, Pin.PULL_DOWN)
    at_ms(sim, 2)
    assert (button.value(), pedal.value()) == (1, 1)
    at_ms(sim, 12)
    assert (button(), pedal()) == (0, 0)
    assert Pin(15) is button  # one object per GPIO, as on rp2


def test_adc_reads_the_trace_of_its_channel_by_pin_or_channel_number(sim):
    from machine import ADC, Pin

    at_ms(sim, 5)
    assert ADC(Pin(26)).read_u16() == 1500
    assert ADC(0).read_u16() == 1500
    assert 10_000 < ADC(4).read_u16() < 20_000  # the temperature sensor
    at_ms(sim, 100)
    assert ADC(26).read_u16() == 2900  # the last value holds after the trace ends
    with pytest.raises(ValueError):
        ADC(Pin(5))


def test_i2c_routes_by_address_with_8_and_16_bit_register_addresses(sim):
    from machine import I2C, Pin

    chip = sim.world.attach_chip(1, EchoChip(0x42)).chip
    i2c = I2C(1, sda=Pin(2), scl=Pin(3), freq=400_000)
    i2c.writeto_mem(0x42, 0x10, b"\x01\x02")
    assert i2c.readfrom_mem(0x42, 0x0123, 3, addrsize=16) == b"\x00\x01\x02"
    buf = bytearray(2)
    i2c.readfrom_mem_into(0x42, 0x20, buf)
    assert bytes(buf) == b"\x03\x04"
    assert i2c.writeto(0x42, b"\x7f") == 1
    assert i2c.readfrom(0x42, 1) == b"\x05"
    assert chip.writes == [b"\x10\x01\x02", b"\x01\x23", b"\x20", b"\x7f"]
    assert i2c.scan() == [0x42]
    t0 = sim.clock.now
    i2c.readfrom_mem(0x42, 0x00, 1)
    assert 60 <= sim.clock.now - t0 <= 120  # 4 bytes at 400 kHz take bus time


def test_a_missing_or_unplugged_chip_raises_eio_and_answers_again_when_replugged(sim):
    from machine import I2C

    i2c = I2C(0)
    assert 0x29 in i2c.scan()  # the instrument's VL6180X
    with pytest.raises(OSError) as missing:
        i2c.readfrom(0x50, 1)
    assert missing.value.errno == errno.EIO and missing.value.args[0] == errno.EIO
    Unplug(channel="hand", at_s=0.01, until_s=0.02).apply(sim.world)
    at_ms(sim, 15)
    with pytest.raises(OSError) as unplugged:
        i2c.readfrom_mem(0x29, 0x000, 1, addrsize=16)
    assert unplugged.value.errno == errno.EIO and i2c.scan() == []
    at_ms(sim, 25)
    assert i2c.readfrom_mem(0x29, 0x000, 1, addrsize=16) == b"\xb4"  # model id


def test_a_stuck_bus_times_out_until_scl_is_clocked_nine_times(sim):
    from machine import I2C, Pin

    i2c = I2C(0, sda=Pin(4), scl=Pin(5), timeout=3000)
    StuckBus(bus=0, at_s=0.001).apply(sim.world)
    at_ms(sim, 2)
    t0 = sim.clock.now
    with pytest.raises(OSError) as stuck:
        i2c.readfrom_mem(0x29, 0x000, 1, addrsize=16)
    assert stuck.value.errno == errno.ETIMEDOUT and sim.clock.now - t0 >= 3000
    sda, scl = Pin(4, Pin.OPEN_DRAIN, value=1), Pin(5, Pin.OPEN_DRAIN, value=1)
    assert sda.value() == 0  # held low by the stuck chip
    for _ in range(9):
        scl.value(0)
        scl.value(1)
    assert sda.value() == 1
    assert I2C(0).readfrom_mem(0x29, 0x000, 1, addrsize=16) == b"\xb4"


def usb_midi(txlen):
    import usb.device
    from usb.device.midi import MIDIInterface

    midi = MIDIInterface(txlen=txlen)
    usb.device.get().init(midi, builtin_driver=True, product_str="Test")
    return midi


def test_usb_midi_opens_when_the_host_has_enumerated_it(sim):
    midi = usb_midi(16)
    assert not midi.is_open()
    at_ms(sim, 50)
    assert midi.is_open()


def test_a_full_tx_buffer_refuses_events_and_the_host_drains_16_a_frame(sim):
    got = []
    sim.world.midi_sinks.append(lambda t, cin, a, b, c: got.append((t, cin, a, b, c)))
    small = usb_midi(16)  # 16 bytes: room for 4 events
    at_ms(sim, 50)
    sent = [small.send_event(0x9, 0x90, 60 + i, 100) for i in range(6)]
    assert sent == [True] * 4 + [False] * 2
    at_ms(sim, 52)
    assert [g[3] for g in got] == [60, 61, 62, 63] and got[0][0] == 51_000


def test_a_burst_leaves_16_events_per_1ms_frame(sim):
    got = []
    sim.world.midi_sinks.append(lambda t, cin, a, b, c: got.append(t))
    midi = usb_midi(256)
    at_ms(sim, 50)
    for i in range(40):
        midi.note_on(0, 40 + i, 90)
    at_ms(sim, 60)
    frames = sorted({t for t in got})
    assert [got.count(t) for t in frames] == [16, 16, 8]
    assert frames[1] - frames[0] == 1000


def test_a_host_that_stops_reading_fills_the_buffer(sim):
    midi = usb_midi(64)
    at_ms(sim, 50)
    sim.world.usb_host_reading = False
    results = []
    for _ in range(20):
        results.append(midi.send_event(0x9, 0x90, 60, 100))
        sim.clock.sleep_ms(1)
    assert results.count(True) == 16 and results[-1] is False


def test_schedule_queue_holds_eight(sim):
    import micropython

    ran = []
    for i in range(8):
        micropython.schedule(ran.append, i)
    with pytest.raises(RuntimeError):
        micropython.schedule(ran.append, 8)
    sim.clock.ticks_us()
    assert ran == list(range(8))


def test_an_unfed_watchdog_resets_the_board(sim):
    from machine import WDT, reset_cause

    wdt = WDT(timeout=100)
    for _ in range(5):
        sim.clock.sleep_ms(50)
        wdt.feed()
    with pytest.raises(SimulatedReset) as reset:
        sim.clock.sleep_ms(150)
    assert reset.value.cause == "watchdog timeout"
    assert reset_cause() == 3  # WDT_RESET
    sim.clock.clear_halt()


def test_timers_pwm_and_uart(sim):
    from machine import PWM, UART, Pin, Timer

    fired = []
    Timer(period=10, callback=lambda t: fired.append(sim.clock.now))
    tone = PWM(Pin(16), freq=440, duty_u16=32768)
    UART(0, 31250, tx=Pin(0), rx=Pin(1)).write(b"\x90\x3c\x64")
    sim.clock.sleep_ms(35)
    tone.duty_u16(0)
    assert fired == [10_000, 20_000, 30_000]
    assert [e[2:] for e in sim.world.tone_events] == [(440, 32768), (440, 0)]
    assert sim.din.events[0]["type"] == "note_on" and sim.din.events[0]["port"] == "din"
