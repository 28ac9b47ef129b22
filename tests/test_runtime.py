"""The play loop on the simulator: serial bytes never stop it; maintenance mode opens the REPL."""

from simulator.run import Simulation
from simulator.world import SerialInput


def test_ctrl_c_ctrl_a_and_ctrl_d_bytes_while_playing_are_data_never_control(tmp_path):
    # the issue: `hello` + Ctrl-C stopped play; Ctrl-A `print('pwned')` Ctrl-D then ran code
    presses = [0] * 1000 + ([1] * 300 + [0] * 300) * 8  # a press every 0.6 s from 1 s on
    with Simulation(
        "big-switch",
        tmp_path / "flash",
        trace={"switch": presses},
        duration_s=5.8,
        strict=False,
        faults=[
            SerialInput(at_s=1.5, data=b"hello\x03"),
            SerialInput(at_s=1.6, data=b"\x01print('pwned')\x04"),
            SerialInput(at_s=1.7, data=b"\r\nstatus\r\n"),
            SerialInput(at_s=2.0, data=b"\x03\x03\x04\r\n"),
        ],
    ) as sim:
        events = sim.run()
    log = sim.serial_log
    assert b"pwned" not in log.replace(b"print('pwned')", b"")  # echoed in no reply either
    assert b"OKpwned" not in log and b"raw REPL" not in log and b"Traceback" not in log
    assert b"Attune stopped" not in log and sim.resets == []
    assert log.count(b"ERR control Byte 6 of the line is a control character (0x3, Ctrl-C)") == 1
    assert b'OK {"state":"playing"' in log  # the next request is answered as usual
    assert b"ERR control Byte 1 of the line is a control character (0x3, Ctrl-C)" in log
    ons = [e["t_ms"] for e in events if e["type"] == "note_on"]
    assert len(ons) == 8 and ons[-1] > 5000  # every press, before and after, still played


def test_an_interrupt_that_does_arrive_stops_play_with_all_notes_off_and_the_watchdog_fed(
    tmp_path,
):
    # kbd_intr(-1) keeps serial Ctrl-C out; were an interrupt ever raised (a REPL user turning
    # kbd_intr back on), play still stops cleanly: all notes off, no watchdog reset
    trace = {"switch": [0] * 1500 + [1] * 6000}
    with Simulation(
        "big-switch",
        tmp_path / "flash",
        trace=trace,
        duration_s=7.0,
        strict=False,
        faults=[SerialInput(at_s=2.0, data=b"\x03")],
    ) as sim:
        sim.clock.call_at(1_900_000, lambda: setattr(sim.world, "kbd_intr_char", 3))
        events = sim.run()
    notes = [e["type"] for e in events if e["type"].startswith("note")]
    assert notes == ["note_on", "note_off"]  # pressed at 1.5 s, ended by Ctrl-C at 2 s
    assert b"All notes off" in sim.serial_log
    assert sim.resets == []  # 5 s at the REPL, well past the 2 s watchdog timeout


def test_play_turns_the_keyboard_interrupt_off_and_maintenance_mode_turns_it_on(tmp_path):
    with Simulation("big-switch", tmp_path / "flash", duration_s=1.0, strict=False) as sim:
        sim.run()
        assert sim.world.kbd_intr_char == -1
    flash = tmp_path / "flash2"
    flash.mkdir()
    (flash / "maintenance").write_text("1")
    with Simulation("big-switch", flash, duration_s=1.0, strict=False) as sim:
        sim.run()
        assert sim.world.kbd_intr_char == 3
    assert b"maintenance mode" in sim.serial_log


def test_maintenance_over_serial_restarts_into_maintenance_mode_once(tmp_path):
    # one flag (system.MAINTENANCE_FLAG): the console writes it, the next boot reads and removes it
    with Simulation(
        "big-switch",
        tmp_path / "flash",
        trace={"switch": [0] * 4000},
        duration_s=4.0,
        strict=False,
        faults=[SerialInput(at_s=1.5, data=b"maintenance\n")],
    ) as sim:
        sim.run()
    assert b'OK {"maintenance":true}' in sim.serial_log
    assert len(sim.resets) == 1
    assert b"maintenance mode" in sim.serial_log
    assert not (tmp_path / "flash" / "maintenance").exists()  # one-shot


def test_a_switch_pressed_while_the_tick_waits_is_played_before_the_next_tick(tmp_path):
    # the loop looks at the switches in each tick's idle time: a press made there is sent at
    # once, not at the next tick (the simulator's ticks start just after each millisecond, a
    # transfer costs 0.5 ms and the USB host takes it at its next 1 ms frame: 2001.0, not 2002)
    with Simulation("big-switch", tmp_path / "flash", duration_s=3.0) as sim:
        switch = sim.world.inputs["switch"]
        sim.clock.call_at(2_000_150, lambda: switch.hold(1))
        events = sim.run()
    ons = [e["t_ms"] for e in events if e["type"] == "note_on"]
    assert ons == [2001.0]


def test_garbage_from_replies_is_collected_while_a_note_is_held(tmp_path):
    # a held note blocks the idle collection; replies' garbage left to pile up makes every tick
    # slower on a Pico (heap-allocated frames search past it), so the loop collects anyway
    # once ~2 KB went out, at most once a second (the idle rule needs 5 s: not before 5 s)
    held = [0] * 500 + [1] * 4500 + [0] * 500
    requests = [SerialInput(at_s=1.0 + 0.25 * k, data=b"status\r\n") for k in range(12)]
    with Simulation(
        "big-switch",
        tmp_path / "flash",
        trace={"switch": held},
        duration_s=4.8,
        faults=[*requests, SerialInput(at_s=4.2, data=b"status\r\n")],
    ) as sim:
        events = sim.run()
    replies = [x for x in sim.serial_log.split(b"\n") if x.startswith(b'OK {"state"')]
    assert len(replies) == 13
    assert b'"gc_us":0,' in replies[0] and b'"gc_us":0,' not in replies[-1]
    assert [e["type"] for e in events if e["type"] in ("note_on", "note_off")] == ["note_on"]


def test_a_collection_due_while_a_note_is_held_comes_just_after_a_note_begins(tmp_path):
    # a collection holds the loop up (~23 ms on an RP2040) and a press made meanwhile waits:
    # once one is due (replies' garbage while the pad's note is held) it waits for the moment
    # just after a note began or ended, when the client's next press is least likely
    pad = [30000 if 500 <= t < 4000 else 1600 for t in range(4500)]
    switch = [1 if 2000 <= t < 2200 else 0 for t in range(4500)]
    requests = [SerialInput(at_s=1.0 + 0.2 * k, data=b"status\r\n") for k in range(4)]
    with Simulation(
        "combo",
        tmp_path / "flash",
        trace={"pad": pad, "switch": switch},
        duration_s=4.5,
        faults=requests,
    ) as sim:
        events = sim.run()
        times = [t for t in sim.world.gc_times if t > 600]  # (start-up's own collections)
    # four replies: past the 2 KB at which a collection is due, short of the 3 KB at which it
    # comes anyway (runtime._BUSY_GC_BYTES, _BUSY_GC_LATE_BYTES)
    assert 2048 <= len(sim.serial_log) < 3072, len(sim.serial_log)
    ons = [e["t_ms"] for e in events if e["type"] == "note_on"]
    assert ons[0] < 600 and 2000 <= ons[-1] < 2010, ons  # (the pad plays a chord)
    # the replies' garbage was due for collection from ~1.6 s; it came after the switch's note
    assert times and ons[-1] <= times[0] <= ons[-1] + 6, (times, ons)


def test_no_reply_waits_for_a_garbage_collection(tmp_path):
    # a collection due while a reply goes out waits until the link is idle: one in the middle
    # of a reply held the rest of it up by the whole pause (~23 ms on an RP2040, charged here)
    pad = [30000 if 500 <= t < 5500 else 1600 for t in range(6000)]
    asks = [1.0 + 0.15 * k for k in range(25)]
    with Simulation(
        "combo",
        tmp_path / "flash",
        trace={"pad": pad},
        duration_s=6.0,
        faults=[SerialInput(at_s=a, data=b"status\r\n") for a in asks],
    ) as sim:
        sim.world.gc_collect_us = 23000
        got: list[tuple[float, bytes]] = []  # (virtual ms, bytes the host received)
        port = sim.serial
        for name in ("write", "host_receive"):  # (the built-in port's path, and usbserial's)
            old = getattr(port, name)

            def spy(data, _old=old):
                n = _old(data)
                got.append((sim.clock.now / 1000, bytes(data[:n] if n is not None else data)))
                return n

            setattr(port, name, spy)
        sim.run()
        collections = [t for t in sim.world.gc_times if t > 600]
    ends, buf = [], b""
    for t, data in got:
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.startswith(b'OK {"state"'):
                ends.append(t)
    assert len(ends) == len(asks) and len(collections) >= 3  # (one a second: the replies)
    waits = [end - at * 1000 for at, end in zip(asks, ends, strict=True)]
    assert max(waits) < 15, waits  # 5.5-7.8 ms each; 28.7 with a collection in it
