"""A whole simulated board running a tiny firmware of our own from a temporary folder: MIDI out
on time, the serial port as stdin/stdout, resets that keep the flash folder."""

import os
import textwrap
import time

import pytest

from simulator.run import FirmwareCrash, Simulation
from simulator.world import PowerCut, SerialInput

INSTRUMENT = {
    "name": "one",
    "title": "One",
    "channels": [{"name": "button", "sensor": "switch", "pin": 15, "pull": "up"}],
}
BOARD = {"id": "pico"}

# Plays note 60 while the button is held; echoes serial bytes; counts its boots in boots.txt.
FIRMWARE = """
import select
import sys
import time

import usb.device
from machine import Pin
from usb.device.midi import MIDIInterface

try:
    with open("boots.txt") as f:
        boots = int(f.read())
except OSError:
    boots = 0
with open("boots.txt", "w") as f:
    f.write(str(boots + 1))
print("boot", boots + 1, BOOT_SAYS)

midi = MIDIInterface(txlen=64)
usb.device.get().init(midi, builtin_driver=True)
button = Pin(15, Pin.IN, Pin.PULL_UP)
poll = select.poll()
poll.register(sys.stdin, select.POLLIN)
held = False
try:
    nxt = time.ticks_us()
    while True:
        pressed = button.value() == 0
        if pressed != held:
            held = pressed
            (midi.note_on if held else midi.note_off)(0, 60, 100)
        while poll.poll(0):
            sys.stdout.buffer.write(sys.stdin.buffer.read(1).upper())
        nxt = time.ticks_add(nxt, 1000)
        time.sleep_us(max(0, time.ticks_diff(nxt, time.ticks_us())))
finally:
    if held:
        midi.note_off(0, 60, 0)
"""


def make_sim(tmp_path, main=FIRMWARE, boot='BOOT_SAYS = "hi"\n', **kwargs):
    fw = tmp_path / "fw"
    fw.mkdir(exist_ok=True)
    (fw / "main.py").write_text(textwrap.dedent(main))
    if boot:
        (fw / "boot.py").write_text(boot)
    kwargs.setdefault("usb_send_cost_us", 0)
    return Simulation(INSTRUMENT, tmp_path / "flash", board=BOARD, firmware_dir=fw, **kwargs)


def presses(*spans, total=3000):
    trace = [0] * total
    for start, end in spans:
        trace[start:end] = [1] * (end - start)
    return {"button": trace}


def test_a_held_button_plays_a_note_from_press_to_release(tmp_path):
    with make_sim(tmp_path, trace=presses((500, 800), (1500, 1600))) as sim:
        events = sim.run()
    assert [(e["type"], e["t_ms"]) for e in events] == [
        ("note_on", 501.0),
        ("note_off", 801.0),
        ("note_on", 1501.0),
        ("note_off", 1601.0),
    ]
    assert sim.serial_log.startswith(b"boot 1 hi\r\n")  # print() is cooked: CR LF
    config = (tmp_path / "flash" / "board.json").read_text()
    assert '"instrument"' in config and '"board"' in config


def test_serial_bytes_from_a_pipe_are_read_one_at_a_time_and_echoed(tmp_path):
    with make_sim(tmp_path, duration_s=0.5, serial="pipe") as sim:
        to_fw, from_fw = sim.serial_fds
        os.write(to_fw, b"hello\n")
        # the relay thread carries the bytes in (in wall time, and 0.5 s of virtual time can
        # take only a few ms of it): wait for them rather than race the run
        t_end = time.monotonic() + 5
        while sim.serial._in_thread < 6 and time.monotonic() < t_end:
            time.sleep(0.001)
        sim.run()
        out = os.read(from_fw, 1000)
    assert out == b"boot 1 hi\r\nHELLO\n"


def test_a_power_cut_restarts_main_and_keeps_the_flash_folder(tmp_path):
    faults = [PowerCut(at_s=1.0, off_s=0.5), PowerCut(at_s=2.0)]
    with make_sim(tmp_path, trace=presses((800, 1200)), faults=faults) as sim:
        events = sim.run()
    assert (tmp_path / "flash" / "boots.txt").read_text() == "3"
    assert [r["cause"] for r in sim.resets] == ["power cut", "power cut"]
    # the note started before the cut is never ended by the dead board: a real hanging note
    assert [(e["type"], e["t_ms"]) for e in events] == [("note_on", 801.0)]
    assert sim.serial_log.count(b"boot ") == 3


def test_an_unfed_watchdog_reboots_into_a_fresh_main(tmp_path):
    main = (
        "from machine import WDT\nimport time\nWDT(timeout=200)\nwhile True:\n"
        "    time.sleep_ms(10)\n"
    )
    with make_sim(tmp_path, main=main, boot=None, duration_s=1.0) as sim:
        sim.run()
    assert [r["cause"] for r in sim.resets] == ["watchdog timeout"] * 4
    assert [r["t_ms"] for r in sim.resets][:2] == [200.0, 400.0]


def test_ctrl_c_on_the_serial_port_stops_main_which_ends_its_notes(tmp_path):
    faults = [SerialInput(at_s=0.7, data=b"\x03")]
    with make_sim(tmp_path, trace=presses((500, 2000)), faults=faults) as sim:
        events = sim.run()
    assert [(e["type"], e["t_ms"]) for e in events] == [("note_on", 501.0), ("note_off", 701.0)]
    assert b"KeyboardInterrupt" in sim.serial_log and b">>> " in sim.serial_log


def test_ctrl_d_at_the_repl_soft_reboots(tmp_path):
    faults = [SerialInput(at_s=0.2, data=b"\x03"), SerialInput(at_s=0.5, data=b"\x04")]
    with make_sim(tmp_path, duration_s=1.0, faults=faults) as sim:
        sim.run()
    assert b"MPY: soft reboot" in sim.serial_log and sim.serial_log.count(b"boot ") == 2


def test_a_firmware_crash_ends_a_strict_run_and_says_where(tmp_path):
    main = "import time\ntime.sleep_ms(250)\nraise ValueError('bad wiring')\n"
    with make_sim(tmp_path, main=main, boot=None, duration_s=1.0) as sim:
        with pytest.raises(FirmwareCrash, match="250.0 ms with ValueError: bad wiring"):
            sim.run()
    with make_sim(tmp_path, main=main, boot=None, duration_s=1.0, strict=False) as sim:
        sim.run()
    assert "ValueError: bad wiring" in sim.crashes[0] and b">>> " in sim.serial_log


def test_ticks_that_wrap_during_the_run_are_handled_by_ticks_diff(tmp_path):
    with make_sim(tmp_path, trace=presses((2500, 2700), total=4000), start_near_wrap=2.0) as sim:
        events = sim.run()
    assert [e["t_ms"] for e in events] == [2501.0, 2701.0]


def test_the_environment_is_put_back_after_a_run(tmp_path):
    import sys
    import time

    cwd, path, stdout, sleep = os.getcwd(), list(sys.path), sys.stdout, time.sleep
    with make_sim(tmp_path, duration_s=0.1) as sim:
        sim.run()
    assert (os.getcwd(), sys.path, sys.stdout, time.sleep) == (cwd, path, stdout, sleep)
    assert "machine" not in sys.modules and "usb.device" not in sys.modules
    from simulator.context import REAL_GC, REAL_SELECT

    assert sys.modules["gc"] is REAL_GC and sys.modules["select"] is REAL_SELECT


def test_stdout_polls_writable_only_while_a_host_has_the_pty_open(tmp_path):
    main = """
import select, sys, time
p = select.poll()
p.register(sys.stdout, select.POLLOUT)
while True:
    sys.stdout.buffer.write(b"1" if p.poll(0) else b"0")
    time.sleep_ms(100)
"""
    with make_sim(tmp_path, main=main, boot=None, duration_s=0.35) as headless:
        headless.run()
    assert headless.serial_log == b"1111"
    with make_sim(tmp_path, main=main, boot=None, duration_s=0.35, serial="pty") as alone:
        alone.run()
    assert alone.serial_log == b"0000"
