"""MicroPython's raw REPL over a serial port (as mpremote uses it): run a short program on a
board that is not playing and read what it prints. Used read-only by `attune doctor`.

Usage: text = run_code("/dev/ttyACM0", "import sys; print(sys.version)")
"""

from __future__ import annotations

import time
from typing import Any

from host_tools import device
from host_tools.errors import AttuneError

_ENTERED = b"raw REPL; CTRL-B to exit\r\n>"
_CHUNK = 256  # bytes written at a time, then a pause: a Pico's USB buffer is small


class NoRepl(AttuneError):
    """The board did not offer a MicroPython prompt (other firmware, or a program that does
    not stop on Ctrl-C)."""


class _Reader:
    def __init__(self, port: Any, timeout: float) -> None:
        self.port = port
        self.timeout = timeout
        self.buf = b""

    def until(self, marker: bytes, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while marker not in self.buf:
            if time.monotonic() > deadline:
                raise NoRepl(
                    "No MicroPython prompt answered (waited for "
                    + repr(marker.decode("latin-1"))
                    + "; got "
                    + repr(self.buf[-80:].decode("latin-1"))
                    + ")."
                )
            chunk = self.port.read(256)
            if chunk:
                self.buf += chunk
        before, _, self.buf = self.buf.partition(marker)
        return before


def run_code(path: str, code: str, timeout: float = 8.0, port: Any = None) -> tuple[str, str]:
    """Stop whatever runs (Ctrl-C), enter the raw REPL, run `code`; returns (what it printed,
    its traceback or ""). Leaves the board at its normal prompt. Raises NoRepl."""
    own = port is None
    if own:
        port = device.open_serial(path)
    try:
        reader = _Reader(port, timeout)
        port.write(b"\r\x03\x03")  # stop a running program (twice: one may be swallowed)
        time.sleep(0.2)
        port.write(b"\x01")
        reader.until(_ENTERED)
        data = code.encode()
        for i in range(0, len(data), _CHUNK):
            port.write(data[i : i + _CHUNK])
            time.sleep(0.01)
        port.write(b"\x04")
        reader.until(b"OK")
        out = reader.until(b"\x04")
        err = reader.until(b"\x04")
        reader.until(b">")
        port.write(b"\x02")  # back to the friendly prompt
        return out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    finally:
        if own:
            try:
                port.close()
            except Exception:  # noqa: BLE001 (a vanished port: the result matters more)
                pass


def at_prompt(path: str, wait: float = 1.0) -> bool:
    """True when the board sits at its MicroPython prompt (nothing running): Enter brings
    `>>> `. Stops nothing, so it is safe to ask of a playing instrument."""
    port = device.open_serial(path)
    try:
        port.write(b"\r")
        seen = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and b">>> " not in seen:
            seen += port.read(256) or b""
        return b">>> " in seen
    finally:
        try:
            port.close()
        except Exception:  # noqa: BLE001
            pass


def reset(path: str, timeout: float = 8.0) -> None:
    """Restart the board (machine.reset) through the raw REPL; does not wait for an answer."""
    port = device.open_serial(path)
    try:
        reader = _Reader(port, timeout)
        port.write(b"\r\x03\x03")
        time.sleep(0.2)
        port.write(b"\x01")
        reader.until(_ENTERED)
        port.write(b"import machine\nmachine.reset()\n\x04")
        time.sleep(0.3)
    finally:
        try:
            port.close()
        except Exception:  # noqa: BLE001 (the board restarting under us)
            pass
