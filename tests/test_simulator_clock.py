"""The virtual clock: MicroPython's ticks semantics, sleeps, scheduled callbacks, the end."""

import time

import pytest

from simulator.clock import (
    TICKS_HALF,
    TICKS_MAX,
    TICKS_PERIOD,
    Clock,
    SimulationEnd,
    ticks_add,
    ticks_diff,
)


def test_ticks_diff_is_signed_and_wraps_like_micropython():
    assert ticks_diff(5, 3) == 2
    assert ticks_diff(3, 5) == -2
    assert ticks_diff(2, TICKS_MAX - 1) == 4  # across the wrap
    assert ticks_diff(TICKS_MAX - 1, 2) == -4
    assert ticks_diff(TICKS_HALF - 1, 0) == TICKS_HALF - 1
    assert ticks_diff(TICKS_HALF, 0) == -TICKS_HALF  # the range is [-2**29, 2**29)


def test_ticks_add_wraps_and_refuses_an_unmeasurable_delta():
    assert ticks_add(TICKS_MAX, 1) == 0
    assert ticks_add(0, -1) == TICKS_MAX
    with pytest.raises(OverflowError):
        ticks_add(0, TICKS_HALF)


def test_each_ticks_call_costs_a_microsecond_so_busy_waits_end():
    clock = Clock(cost_us=1)
    t0 = clock.ticks_us()
    while ticks_diff(clock.ticks_us(), t0) < 500:
        pass
    assert 500 <= clock.now <= 502


def test_sleeps_advance_virtual_time_only():
    clock = Clock()
    wall = time.perf_counter()
    clock.sleep(2.5)
    clock.sleep_ms(10)
    clock.sleep_us(7)
    assert clock.now == 2_510_007
    assert time.perf_counter() - wall < 0.5
    assert clock.ticks_ms() == 2510


def test_start_near_wrap_wraps_ticks_soon_after_the_start():
    clock = Clock(start_near_wrap=1.0)
    first_us, first_ms = clock.ticks_us(), clock.ticks_ms()
    assert first_us > TICKS_PERIOD - 1_000_100 and first_ms > TICKS_PERIOD - 1001
    clock.sleep(1.5)
    assert clock.ticks_us() < 600_000 and clock.ticks_ms() < 600
    assert ticks_diff(clock.ticks_us(), first_us) == pytest.approx(1_500_000, abs=10)


def test_callbacks_run_in_time_order_at_their_time_inside_a_sleep():
    clock = Clock()
    seen = []
    clock.call_at(3000, lambda: seen.append(("b", clock.now)))
    clock.call_at(1000, lambda: seen.append(("a", clock.now)))
    dropped = clock.call_at(2000, lambda: seen.append(("x", clock.now)))
    clock.cancel(dropped)
    clock.sleep_ms(5)
    assert seen == [("a", 1000), ("b", 3000)]
    assert clock.now == 5000


def test_firmware_callbacks_die_with_their_boot_and_world_ones_do_not():
    clock = Clock()
    seen = []
    clock.call_at(1000, seen.append, "timer", firmware=True)
    clock.call_at(1000, seen.append, "fault")
    clock.new_boot()
    clock.sleep_ms(2)
    assert seen == ["fault"]


def test_the_end_is_sticky_so_a_finally_cannot_keep_playing():
    clock = Clock()
    clock.call_at(1000, clock.stop, SimulationEnd())
    with pytest.raises(SimulationEnd):
        clock.sleep_ms(5)
    assert clock.now == 1000
    with pytest.raises(SimulationEnd):
        clock.ticks_us()
    clock.clear_halt()
    clock.ticks_us()


def test_install_puts_the_functions_on_time_and_uninstall_restores_it():
    clock = Clock()
    real_sleep = time.sleep
    clock.install()
    try:
        time.sleep_ms(3)
        assert time.ticks_ms() == 3 and time.sleep is not real_sleep
    finally:
        clock.uninstall()
    assert time.sleep is real_sleep and not hasattr(time, "sleep_ms")


def test_realtime_mode_keeps_pace_with_the_wall_clock():
    clock = Clock(realtime=True)
    wall = time.perf_counter()
    clock.sleep(0.05)
    assert 0.04 <= time.perf_counter() - wall < 0.5
