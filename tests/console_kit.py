"""A playing instrument with its console, for the console and link tests.

Usage: kit = Kit(); kit.ask("set pad.sensitivity 80"); kit.play(100); kit.lines  # async lines
"""

from __future__ import annotations

from collections.abc import Sequence

from console import Console
from enginekit import describe, sounding_after
from instrument import Instrument, kind_defaults
from profiles import Profiles
from settings import Settings
from store import Store
from system import System

from benchmarks.mp.fakesensor import FakeSensor

NAMES = ("switch", "pad", "hand")


class Stats:
    def __init__(self) -> None:
        self.tick_hz = 1000
        self.late_ticks = 0
        self.uptime_ms = 0
        self.mem_free = 150000
        self.gc_us = 0
        self.collections = 0
        self.restarts = 0


class KitSystem(System):
    """The board as the console sees it; a restart is only counted."""

    def __init__(self) -> None:
        super().__init__("0.1.0", "pico", "combo", "Combo")
        self.reboots = 0

    def reboot(self) -> None:
        self.reboots += 1


class Kit:
    """Three channels (switch, pad, hand) or some of them, a store (by default in the current
    folder), a console."""

    REST = {"switch": 0, "pad": 2000, "hand": 3000}

    def __init__(
        self,
        defaults: dict | None = None,
        names: Sequence[str] = NAMES,
        store: Store | None = None,
        system: System | None = None,
    ) -> None:
        """`names`: some of switch, pad, hand; `store`: profiles on flash (default: the
        current folder); `system`: the board as the console sees it (default: KitSystem)."""
        names = list(names)
        kinds = {"switch": "switch", "pad": "analog", "hand": "analog"}
        # the shared fake: a test sets .value (and .fault, .fault_text) directly
        self.sensors = {n: FakeSensor(kinds[n], value=self.REST[n]) for n in names}
        self.settings = Settings(names)
        self.defaults = kind_defaults([(n, kinds[n]) for n in names])
        if defaults:
            self.defaults.update(defaults)
        self.settings.apply(self.defaults)
        self.inst = Instrument(
            self.settings,
            [(n, self.sensors[n], "fsr" if n != "switch" else "button") for n in names],
        )
        self.panics = 0
        real_panic = self.inst.panic

        def counted_panic() -> bool:
            self.panics += 1
            return real_panic()

        self.inst.panic = counted_panic
        self.store = store if store is not None else Store("0.1.0")
        self.profiles = Profiles(self.store, self.settings, self.defaults)
        self.stats = Stats()
        self.lines: list[str] = []
        self.system = system if system is not None else KitSystem()
        self.console = Console(
            self.inst, self.profiles, self.system, self.stats, self.lines.append
        )
        self.t_ms = 0
        self.events: list[tuple] = []
        self.inst.begin(0)

    @property
    def reboots(self) -> int:
        return getattr(self.system, "reboots", 0)

    def ask(self, line: str | bytes) -> str | None:
        return self.console.handle(line.encode() if isinstance(line, str) else line)

    def tick(self) -> None:
        self.inst.tick(self.t_ms * 1000)
        self.console.poll(self.t_ms)
        m = self.inst.midi
        for i in range(m.count):
            self.events.append((self.t_ms,) + tuple(describe(m.buf, i)))
        m.count = 0  # sent
        self.t_ms += 1
        self.stats.uptime_ms = self.t_ms

    def play(self, ms: int) -> None:
        for _ in range(ms):
            self.tick()

    def sounding(self) -> set:
        return sounding_after(self.events)
