"""The simulator's virtual clock: MicroPython's `time.ticks_*`/`sleep_*` on virtual microseconds.

Usage: clock = Clock(); clock.install(); time.sleep_ms(5); clock.now  # -> 5000 (+ call costs)

Virtual time only moves when the firmware asks for it (each `ticks_*` call costs `cost_us`, a sleep
advances by its length), so a run is deterministic and as fast as the CPU allows. Callbacks
scheduled with `call_at` run inside those calls, like interrupts, in time order.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from typing import Any

# MicroPython's ticks period on rp2 (MICROPY_PY_TIME_TICKS_PERIOD): ticks wrap at 2**30.
TICKS_PERIOD = 1 << 30
TICKS_MAX = TICKS_PERIOD - 1
TICKS_HALF = TICKS_PERIOD // 2
_NEVER = 1 << 62

# The real functions, kept before `install()` replaces any of them (threads of the simulator
# itself, such as the serial relay, must wait in wall-clock time).
real_sleep = time.sleep
real_perf_counter = time.perf_counter

_INSTALLED_NAMES = (
    "ticks_us",
    "ticks_ms",
    "ticks_cpu",
    "ticks_diff",
    "ticks_add",
    "sleep",
    "sleep_ms",
    "sleep_us",
)


class SimulationEnd(BaseException):  # noqa: N818 (it is a signal, not an error)
    """Raised out of a clock call when the run is over; a BaseException, so the firmware's
    `except Exception` cannot swallow it."""


# ticks_diff and ticks_add run several times per firmware tick: the constants are literals
# (TICKS_HALF = 0x20000000, TICKS_MAX = 0x3FFFFFFF) so each call is a few bytecodes.
def ticks_diff(end: int, start: int) -> int:
    """Signed difference of two tick values, in [-2**29, 2**29), as on MicroPython."""
    return ((end - start + 0x20000000) & 0x3FFFFFFF) - 0x20000000


def ticks_add(ticks: int, delta: int) -> int:
    """`ticks + delta` wrapped to the ticks period; like MicroPython, refuses a delta that
    `ticks_diff` could not measure back."""
    if -0x20000000 <= delta < 0x20000000:
        return (ticks + delta) & 0x3FFFFFFF
    raise OverflowError("ticks interval overflow")


class Clock:
    """Virtual time in integer microseconds since the simulated power-on of the first boot.

    `now` never wraps; the ticks the firmware sees do (optionally soon after the start, with
    `start_near_wrap`). Callbacks belong either to the world (they survive a reset of the
    firmware) or to the firmware's current boot (`firmware=True`: Timers, USB frames, pin IRQs),
    which `new_boot()` discards.
    """

    __slots__ = (
        "now",
        "cost_us",
        "next_due",
        "halt",
        "epoch",
        "realtime",
        "stop_requested",
        "_heap",
        "_seq",
        "_us_offset",
        "_ms_offset",
        "_wall0",
        "_virt0",
        "_saved",
    )

    def __init__(
        self, cost_us: int = 1, start_near_wrap: bool | float = False, realtime: bool = False
    ) -> None:
        self.now = 0
        self.cost_us = max(0, int(cost_us))
        self.next_due = _NEVER
        self.halt: BaseException | None = None
        self.epoch = 0
        self.realtime = realtime
        self.stop_requested = False  # set from another thread (a key, a signal): end the run
        self._heap: list[list[Any]] = []
        self._seq = 0
        self._saved: dict[str, Any] = {}
        # Ticks start at 0 like a freshly booted Pico, or wrap `start_near_wrap` seconds in.
        if start_near_wrap:
            lead_s = 2.0 if start_near_wrap is True else float(start_near_wrap)
            self._us_offset = TICKS_PERIOD - int(lead_s * 1_000_000)
            self._ms_offset = TICKS_PERIOD - int(lead_s * 1_000)
        else:
            self._us_offset = 0
            self._ms_offset = 0
        self._wall0 = 0.0
        self._virt0 = 0
        if realtime:
            self.call_at(0, self._pace)

    # -- scheduling ---------------------------------------------------------------------------

    def call_at(
        self, t_us: int, fn: Callable[..., Any], *args: Any, firmware: bool = False
    ) -> list[Any]:
        """Run `fn(*args)` when virtual time reaches `t_us`; returns a handle for `cancel`."""
        self._seq += 1
        entry = [int(t_us), self._seq, fn, args, self.epoch if firmware else None]
        heapq.heappush(self._heap, entry)
        if entry[0] < self.next_due and self.halt is None:
            self.next_due = entry[0]
        return entry

    def call_later(
        self, delay_us: int, fn: Callable[..., Any], *args: Any, firmware: bool = False
    ) -> list[Any]:
        return self.call_at(self.now + int(delay_us), fn, *args, firmware=firmware)

    @staticmethod
    def cancel(handle: list[Any] | None) -> None:
        if handle is not None:
            handle[2] = None

    def new_boot(self) -> None:
        """Forget every callback the firmware's previous boot scheduled (a reset clears them)."""
        self.epoch += 1

    def stop(self, exc: BaseException) -> None:
        """Make every further clock call raise `exc` (sticky, so a `finally:` cannot go on
        playing after the end of the run or a simulated reset)."""
        self.halt = exc
        self.next_due = -1
        raise exc

    def clear_halt(self) -> None:
        self.halt = None
        self.next_due = self._heap[0][0] if self._heap else _NEVER

    def _run_due(self) -> None:
        if self.halt is not None:
            raise self.halt
        heap = self._heap
        now = self.now
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            self.next_due = heap[0][0] if heap else _NEVER
            fn = entry[2]
            if fn is not None and (entry[4] is None or entry[4] == self.epoch):
                fn(*entry[3])
                if self.halt is not None:
                    raise self.halt
        self.next_due = heap[0][0] if heap else _NEVER

    def advance(self, us: int) -> None:
        """Move virtual time forward by `us`, running every callback due on the way."""
        target = self.now + us
        while self.next_due <= target:
            if self.halt is not None:
                raise self.halt
            if self.next_due > self.now:
                self.now = self.next_due
            self._run_due()
        self.now = target

    def run_until(self, t_us: int) -> None:
        if t_us > self.now:
            self.advance(t_us - self.now)

    def _pace(self) -> None:
        """Realtime mode: hold virtual time to the wall clock, checked every virtual ms."""
        if self.stop_requested:
            self.stop(SimulationEnd("stopped"))
        # Next check first: a KeyboardInterrupt (Ctrl-C from the serial port) may land while
        # this sleeps, and pacing must survive it.
        self.call_at(self.now + 1000, self._pace)
        if self._wall0 == 0.0:
            self._wall0 = real_perf_counter()
            self._virt0 = self.now
        ahead = (self.now - self._virt0) / 1e6 - (real_perf_counter() - self._wall0)
        if ahead > 0.0005:
            real_sleep(ahead)
        elif ahead < -0.25:
            # The simulation fell behind (a slow host); catch up instead of racing later.
            self._wall0 = real_perf_counter()
            self._virt0 = self.now

    # -- MicroPython's time functions -----------------------------------------------------------
    # The firmware calls these thousands of times a virtual second: each reads and writes the
    # slots directly and runs `_run_due` only when a callback is due (or the clock halted).

    def ticks_us(self) -> int:
        now = self.now + self.cost_us
        self.now = now
        if now >= self.next_due:
            self._run_due()
            now = self.now
        return (now + self._us_offset) & 0x3FFFFFFF

    def ticks_ms(self) -> int:
        now = self.now + self.cost_us
        self.now = now
        if now >= self.next_due:
            self._run_due()
            now = self.now
        return (now // 1000 + self._ms_offset) & 0x3FFFFFFF

    ticks_cpu = ticks_us  # rp2: ticks_cpu runs from the same 1 MHz timer

    def peek_us(self) -> int:
        """The firmware's `ticks_us()` value now, without the call's cost (for chip models)."""
        return (self.now + self._us_offset) & 0x3FFFFFFF

    def sleep_us(self, us: int) -> None:
        if us < self.cost_us:
            us = self.cost_us
        target = self.now + us
        if target < self.next_due:
            self.now = target
        else:
            self.advance(us)

    def sleep_ms(self, ms: int) -> None:
        us = int(ms) * 1000
        self.advance(us if us > self.cost_us else self.cost_us)

    def sleep(self, seconds: float) -> None:
        us = int(seconds * 1_000_000)
        self.advance(us if us > self.cost_us else self.cost_us)

    @property
    def now_ms(self) -> float:
        return self.now / 1000.0

    def install(self) -> None:
        """Put this clock's functions on CPython's `time` module (undone by `uninstall`)."""
        if self._saved:
            return
        for name in _INSTALLED_NAMES:
            self._saved[name] = getattr(time, name, None)
        for name, fn in self.time_functions().items():
            setattr(time, name, fn)

    def time_functions(self) -> dict[str, Callable[..., Any]]:
        """MicroPython's time functions on this clock, for the firmware: the same as the
        methods, as closures with the tick offsets built in (cheaper to call than bound
        methods, and they run thousands of times a virtual second)."""
        clock = self
        us_offset = self._us_offset
        ms_offset = self._ms_offset
        advance = self.advance

        if us_offset:

            def ticks_us() -> int:
                now = clock.now + clock.cost_us
                clock.now = now
                if now >= clock.next_due:
                    clock._run_due()
                    now = clock.now
                return (now + us_offset) & 0x3FFFFFFF
        else:

            def ticks_us() -> int:
                now = clock.now + clock.cost_us
                clock.now = now
                if now >= clock.next_due:
                    clock._run_due()
                    now = clock.now
                return now & 0x3FFFFFFF

        def ticks_ms() -> int:
            now = clock.now + clock.cost_us
            clock.now = now
            if now >= clock.next_due:
                clock._run_due()
                now = clock.now
            return (now // 1000 + ms_offset) & 0x3FFFFFFF

        def sleep_us(us: int) -> None:
            cost = clock.cost_us
            if us < cost:
                us = cost
            target = clock.now + us
            if target < clock.next_due:
                clock.now = target
            else:
                advance(us)

        def sleep_ms(ms: int) -> None:
            us = int(ms) * 1000
            cost = clock.cost_us
            advance(us if us > cost else cost)

        def sleep(seconds: float) -> None:
            us = int(seconds * 1_000_000)
            cost = clock.cost_us
            advance(us if us > cost else cost)

        return {
            "ticks_us": ticks_us,
            "ticks_ms": ticks_ms,
            "ticks_cpu": ticks_us,
            "ticks_diff": ticks_diff,
            "ticks_add": ticks_add,
            "sleep": sleep,
            "sleep_ms": sleep_ms,
            "sleep_us": sleep_us,
        }

    def uninstall(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                if hasattr(time, name):
                    delattr(time, name)
            else:
                setattr(time, name, value)
        self._saved = {}
