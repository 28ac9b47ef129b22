"""Replies before telemetry, end to end: the firmware on the simulator in real time, a host on
its pseudo-terminal, and the monitor at its cap on a three-sensor instrument."""

import os
import threading

from simulator.clock import real_perf_counter as clock
from simulator.clock import real_sleep as sleep
from simulator.run import Simulation


class Host:
    """A program on the other end of the pty: writes requests, reads lines with arrival times."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        self.lines = []  # (clock(), line)
        self._buf = b""
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while not self._stop:
            try:
                data = os.read(self.fd, 4096)
            except OSError:
                sleep(0.005)
                continue
            now = clock()
            self._buf += data
            while b"\n" in self._buf:
                line, self._buf = self._buf.split(b"\n", 1)
                self.lines.append((now, line.rstrip(b"\r").decode("latin-1")))

    def ask(self, line, start, timeout=2.0):
        """Send `line`; (seconds to its reply, the reply) - the first line after `start`
        that is not a `* ` line."""
        n = len(self.lines)
        t0 = clock()
        os.write(self.fd, line.encode() + b"\n")
        while clock() - t0 < timeout:
            for t, text in self.lines[n:]:
                if text.startswith(start):
                    return t - t0, text
            sleep(0.001)
        return None, None

    def close(self):
        self._stop = True
        os.close(self.fd)


def test_panic_is_answered_within_100_ms_while_the_monitor_runs_at_its_cap(tmp_path):
    # the pad never still (a round with nothing moved is skipped: docs/protocol.md)
    presses = [1600 + abs((t % 600) - 300) * 100 for t in range(8000)]
    with Simulation(
        "combo",
        tmp_path / "flash",
        trace={"pad": presses},
        duration_s=8.0,
        realtime=True,
        serial="pty",
        strict=False,
    ) as sim:
        results = {}

        def host():
            sleep(1.5)  # booted
            h = Host(sim.serial_path)
            try:
                results["monitor"] = h.ask("monitor 50", "OK")[1]
                sleep(1.0)
                results["panic"] = [h.ask("panic", "OK")[0] for _ in range(8)]
                results["tagged"] = h.ask("@p1 panic", "@p1 ")
                sleep(0.5)
                results["lines"] = list(h.lines)
            finally:
                h.close()
                sim.request_stop()

        t = threading.Thread(target=host, daemon=True)
        t.start()
        sim.run()
        t.join(5)
    assert results["monitor"] == 'OK {"monitor":32,"max":32}'
    waits = results["panic"]
    assert None not in waits and max(waits) < 0.100, waits
    assert results["tagged"][1] == '@p1 OK {"panic":true}'
    mon = [(t, x) for t, x in results["lines"] if x.startswith("* levels ")]
    span = mon[-1][0] - mon[0][0]
    assert len(mon) / span > 0.8 * 32  # the monitor went on at its cap, 32 frames a second
