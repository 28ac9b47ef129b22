"""The simulator's shortcuts give the same results as the plain paths they stand in for: the
installed time functions, one-call register reads on the chip models, and compiled code kept
across boots."""

import errno
import itertools
import time

import pytest

from simulator.chips import LPS22Chip, VL6180XChip
from simulator.clock import Clock, SimulationEnd
from simulator.run import Simulation

INSTRUMENT = {
    "name": "hand",
    "title": "Hand",
    "channels": [{"name": "hand", "sensor": "vl6180x", "bus": 0, "sda": 4, "scl": 5}],
}
BOARD = {"id": "pico", "name": "Raspberry Pi Pico"}


@pytest.mark.parametrize(("cost", "wrap"), [(1, False), (3, 0.002), (0, True)])
def test_the_installed_time_functions_match_the_clock_methods(cost, wrap):
    a, b = Clock(cost_us=cost, start_near_wrap=wrap), Clock(cost_us=cost, start_near_wrap=wrap)
    seen_a, seen_b = [], []
    for clock, seen in ((a, seen_a), (b, seen_b)):
        clock.call_at(2500, lambda c=clock, s=seen: s.append(("cb", c.now)))
    fns = b.time_functions()
    for step in range(400):
        us = (step * 37) % 23 - 2
        assert fns["ticks_us"]() == a.ticks_us()
        assert fns["ticks_ms"]() == a.ticks_ms()
        assert fns["ticks_cpu"]() == a.ticks_cpu()
        fns["sleep_us"](us)
        a.sleep_us(us)
        if step % 50 == 0:
            fns["sleep_ms"](1)
            a.sleep_ms(1)
            fns["sleep"](0.0005)
            a.sleep(0.0005)
        assert b.now == a.now
    assert seen_a == seen_b == [("cb", 2500)]
    assert fns["ticks_diff"] is not None and fns["ticks_add"](b.peek_us(), 5) == (
        b.peek_us() + 5
    ) & (2**30 - 1)


def test_a_cost_change_after_install_reaches_the_installed_functions():
    clock = Clock(cost_us=1)
    clock.install()
    try:
        ticks_us = time.ticks_us  # as the firmware keeps it
        t0 = ticks_us()
        clock.cost_us = 10
        assert time.ticks_diff(ticks_us(), t0) == 10
        clock.call_at(clock.now + 5, clock.stop, SimulationEnd())
        with pytest.raises(SimulationEnd):
            time.sleep_us(100)
        with pytest.raises(SimulationEnd):
            ticks_us()
    finally:
        clock.uninstall()


def _state(chip):
    return (
        list(chip.log),
        chip.writes,
        chip.reads,
        chip.pointer,
        dict(chip.regs),
        list(chip.errors),
        getattr(chip, "samples", None),
    )


def _pair(make):
    t = itertools.count(0, 700)  # a clock that moves on at each look, the same for both
    now = {"a": 0, "b": 0}

    def clock_for(name):
        def clock():
            return now[name]

        return clock

    a, b = make(clock_for("a")), make(clock_for("b"))

    def tick():
        now["a"] = now["b"] = next(t)

    return a, b, tick


@pytest.mark.parametrize("kind", ["vl6180x", "lps22"])
def test_read_register_is_a_write_of_the_address_then_a_read(kind):
    if kind == "vl6180x":
        a, b, tick = _pair(lambda clock: VL6180XChip(clock=clock, distance_mm=80))
        setup = [b"\x00\x16\x00", b"\x00\x14\x04", b"\x00\x18\x01"]
        reads = [(0x000, 1), (0x04D, 3), (0x062, 1), (0x04F, 1), (0x04D, 2), (0x060, 5)]
        head = 2
    else:
        a, b, tick = _pair(lambda clock: LPS22Chip(clock=clock))
        setup = [b"\x10\x52", b"\x11\x10"]
        reads = [(0x0F, 1), (0x27, 1), (0x28, 3), (0x2B, 2), (0x28, 5)]
        head = 1
    for data in setup:
        a.write(data)
        b.write(bytearray(data))
    for i in range(60):
        tick()
        reg, n = reads[i % len(reads)]
        a.write(reg.to_bytes(head, "big"))
        expected = a.read(n)
        assert b.read_register(reg, n) == expected
        assert _state(b) == _state(a)
        if kind == "vl6180x" and i % 7 == 6:
            for chip in (a, b):
                chip.write(b"\x00\x15\x07")
                chip.write(b"\x00\x18\x01")
    for chip in (a, b):
        chip.connected = False
    with pytest.raises(OSError) as unplugged:
        b.read_register(reads[0][0], 1)
    assert unplugged.value.errno == errno.EIO and b.writes == a.writes


class CountingChip(VL6180XChip):
    """A chip model whose read is not the stock one: the fake bus must call it."""

    def __init__(self, clock):
        super().__init__(clock=clock)
        self.own_reads = 0

    def read(self, n):
        self.own_reads += 1
        return super().read(n)


def test_the_fake_i2c_takes_the_shortcut_only_for_stock_chips(tmp_path):
    fw = tmp_path / "fw"
    fw.mkdir()
    (fw / "main.py").write_text("pass\n")
    with (
        Simulation(INSTRUMENT, tmp_path / "flash", board=BOARD, firmware_dir=fw) as sim,
        sim.installed(),
    ):
        from machine import I2C, Pin

        stock = sim.world.chips["hand"]
        own = CountingChip(sim.clock.peek_us)
        own.address = 0x30
        sim.world.attach_chip(0, own)
        i2c = I2C(0, sda=Pin(4), scl=Pin(5))
        buf, one = bytearray(3), memoryview(bytearray(2))[0:1]
        for chip, addr in ((stock, 0x29), (own, 0x30)):
            t0 = sim.clock.now
            i2c.readfrom_mem_into(addr, 0x04D, buf, addrsize=16)
            i2c.readfrom_mem_into(addr, 0x000, one, addrsize=16)
            assert one[0] == 0xB4 and i2c.readfrom_mem(addr, 0x000, 1, addrsize=16) == b"\xb4"
            assert sim.clock.now - t0 == 22 * (7 + 5 + 5)  # 9 bits a byte at 400 kHz
            assert [(kind, reg) for kind, reg, _ in chip.log] == [
                ("write", 0x04D),
                ("read", 0x04D),
                ("write", 0x000),
                ("read", 0x000),
                ("write", 0x000),
                ("read", 0x000),
            ]
        assert own.own_reads == 3


def test_compiled_firmware_is_reused_only_while_its_source_is_the_same(tmp_path):
    fw = tmp_path / "fw"
    fw.mkdir()
    (fw / "main.py").write_text("import tune\nprint(tune.NOTE)\n")
    logs = []
    for note in ("60", "61", "61"):  # same size, new contents, then the same again
        (fw / "tune.py").write_text(f"NOTE = {note}\n")
        with Simulation(
            INSTRUMENT, tmp_path / "flash", board=BOARD, firmware_dir=fw, duration_s=0.01
        ) as sim:
            sim.run()
        logs.append(sim.serial_log)
    assert logs[0].startswith(b"60\r\n") and logs[1].startswith(b"61\r\n") and logs[2] == logs[1]
