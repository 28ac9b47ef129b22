"""The simulated Pico's USB serial port: a pseudo-terminal (or pipes) outside, unbuffered file
descriptors inside that the firmware sees as `sys.stdin` / `sys.stdout`.

Usage: port = SerialPort(clock, world, mode="pty"); print(port.path)  # connect a terminal here

Bytes from the host pass through a relay thread that turns the interrupt character into a
KeyboardInterrupt in the firmware, as MicroPython does (Ctrl-C at each boot; whatever the
firmware sets with `micropython.kbd_intr`, -1 for none: then Ctrl-C is a byte like any other),
and then into a pipe the firmware reads one byte at a time.
"""

from __future__ import annotations

import os
import select
import threading
import tty
from typing import Any

from simulator.clock import real_sleep

_LOG_LIMIT = 1 << 20


class SerialPort:
    """mode None: no host side (output is only logged); "pipe": `host_write_fd` /
    `host_read_fd` for a test or a parent process; "pty": a terminal device at `path`."""

    def __init__(
        self, clock: Any, world: Any, mode: str | None = None, stall_ms: int = 500
    ) -> None:
        if mode not in (None, "pipe", "pty"):
            raise ValueError(f"serial must be None, 'pipe' or 'pty', not {mode!r}.")
        self.clock = clock
        self.world = world
        self.mode = mode
        self.stall_us = stall_ms * 1000
        self.log = bytearray()  # everything the firmware wrote (the last MiB)
        self.dropped_out = 0  # bytes the firmware wrote that no host took
        self.dropped_in = 0  # bytes that arrived while the firmware's input was full
        self.firmware_running = False
        self.on_interrupt: Any = None  # set by the Simulation: Ctrl-C from the host
        self.path: str | None = None
        self.host_write_fd: int | None = None
        self.host_read_fd: int | None = None
        self._fw_r, self._fw_w = os.pipe()  # what the firmware reads
        os.set_blocking(self._fw_w, False)
        # Bytes put into / taken out of that pipe, one counter per writing thread, so "is there
        # a byte?" costs no system call in the firmware's hot loop.
        self._in_thread = 0
        self._in_main = 0
        self._taken = 0
        self._src: int | None = None  # where the host's bytes come from
        self._out: int | None = None  # where the firmware's bytes go
        self._master: int | None = None
        if mode == "pty":
            master, slave = os.openpty()
            tty.setraw(slave)
            self.path = os.ttyname(slave)
            # Keep no slave open ourselves: then the master reports a hang-up while no host is
            # connected, and the firmware's output is dropped like a Pico's with no host.
            os.close(slave)
            os.set_blocking(master, False)
            self._master = self._src = self._out = master
        elif mode == "pipe":
            self._src, self.host_write_fd = os.pipe()
            self.host_read_fd, self._out = os.pipe()
            os.set_blocking(self._out, False)
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None
        if self._src is not None:
            self._thread = threading.Thread(target=self._relay, name="serial-relay", daemon=True)
            self._thread.start()
        self.stdin = SerialStdin(self)
        self.stdout = SerialStdout(self)

    # -- host -> firmware ---------------------------------------------------------------------

    def _relay(self) -> None:
        assert self._src is not None  # only started with a source
        poller = select.poll()
        poller.register(self._src, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while True:
            for fd, ev in poller.poll(200):
                if fd == self._wake_r:
                    return
                data = b""
                if ev & select.POLLIN:
                    try:
                        data = os.read(fd, 4096)
                    except (BlockingIOError, OSError):
                        data = b""
                if data:
                    self._deliver(data, from_thread=True)
                else:
                    real_sleep(0.02)  # no host (pty hang-up) or the host closed its pipe

    def _deliver(self, data: bytes, from_thread: bool, drop_when_full: bool = False) -> None:
        intr = self.world.kbd_intr_char
        if 0 <= intr < 256 and self.firmware_running and bytes((intr,)) in data:
            before, _, after = data.partition(bytes((intr,)))
            self._write_in(before, from_thread, drop_when_full)
            if self.on_interrupt is not None:
                self.on_interrupt(from_thread)
            if after:
                self._deliver(after, from_thread, drop_when_full)
            return
        self._write_in(data, from_thread, drop_when_full)

    def _write_in(self, data: bytes, from_thread: bool, drop_when_full: bool) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._fw_w, view)
            except BlockingIOError:
                n = 0
            except OSError:
                return
            if from_thread:
                self._in_thread += n
            else:
                self._in_main += n
            view = view[n:]
            if view and (drop_when_full or not from_thread):
                self.dropped_in += len(view)
                return
            if view:
                real_sleep(0.001)  # the firmware is not reading: hold the host back

    def inject(self, data: bytes, drop_when_full: bool = False) -> None:
        """Bytes arriving now in virtual time (from a scheduled fault or a test); the interrupt
        character among them (if kbd_intr has not turned it off) raises KeyboardInterrupt in the
        firmware right here."""
        self._deliver(bytes(data), from_thread=False, drop_when_full=drop_when_full)

    def readable(self) -> bool:
        return self._in_thread + self._in_main > self._taken

    def fileno(self) -> int:
        return self._fw_r

    def _take(self, n: int) -> bytes:
        data = os.read(self._fw_r, n)
        self._taken += len(data)
        return data

    def read_available(self) -> bytes:
        return self._take(4096) if self.readable() else b""

    def wait_readable(self) -> None:
        """Block the firmware, in virtual time, until a byte is there."""
        while not self.readable():
            self.clock.advance(1000)

    def read_exact(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            self.wait_readable()
            out += self._take(n - len(out))
        return out

    # -- firmware -> host ---------------------------------------------------------------------

    def host_connected(self) -> bool:
        if self._master is not None:
            p = select.poll()
            p.register(self._master, select.POLLOUT)
            return not any(ev & select.POLLHUP for _, ev in p.poll(0))
        return self._out is not None

    def writable(self) -> bool:
        """Can a byte go out now (POLLOUT)? Headless, a virtual host reads everything; on a
        pty only while a host has the port open and there is room."""
        if self._out is None:
            return True
        if self._master is not None and not self.host_connected():
            return False
        p = select.poll()
        p.register(self._out, select.POLLOUT)
        return any(ev & select.POLLOUT for _, ev in p.poll(0))

    def write(self, data: bytes) -> None:
        log = self.log
        log += data
        if len(log) > _LOG_LIMIT:
            del log[: len(log) - _LOG_LIMIT]
        if self._out is None:
            return
        if self._master is not None and not self.host_connected():
            self.dropped_out += len(data)  # nobody has the port open: MicroPython drops it
            return
        try:
            n = os.write(self._out, data)
        except (BlockingIOError, OSError):
            n = 0
        if n < len(data):
            # A host holds the port open without reading: MicroPython blocks, then gives up.
            self.dropped_out += len(data) - n
            self.clock.advance(self.stall_us)

    def host_open(self) -> bool:
        """A program has the port open (DTR): headless, the virtual host always has."""
        return self._out is None or self.host_connected()

    def host_receive(self, data: bytes) -> int:
        """The USB host reads the serial IN endpoint of firmware/usbserial.py's port: returns
        how many of these bytes the host side took (0 while a host holds the port open without
        reading: the transfer then waits, as on a Pico, and nothing stalls)."""
        n = len(data)
        if self._out is not None:
            if self._master is not None and not self.host_connected():
                self.dropped_out += n  # nobody has the port open
            else:
                try:
                    n = os.write(self._out, data)
                except (BlockingIOError, OSError):
                    n = 0
        log = self.log
        log += data[:n]
        if len(log) > _LOG_LIMIT:
            del log[: len(log) - _LOG_LIMIT]
        return n

    def host_send(self, n: int) -> bytes:
        """Up to n of the host's bytes for the serial OUT endpoint (b"" when none wait)."""
        return self._take(n) if self.readable() else b""

    def text(self) -> str:
        return self.log.decode("utf-8", "replace")

    def close(self) -> None:
        if self._thread is not None:
            os.write(self._wake_w, b"x")
            self._thread.join(timeout=2)
            self._thread = None
        for fd in (
            self._fw_r,
            self._fw_w,
            self._src,
            self._out,
            self.host_write_fd,
            self.host_read_fd,
            self._wake_r,
            self._wake_w,
        ):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._src = self._out = self._master = None
        self.host_write_fd = self.host_read_fd = None
        self._fw_r = self._fw_w = self._wake_r = self._wake_w = -1


class _RawStdin:
    """`sys.stdin.buffer`: unbuffered bytes, one `read(1)` = one byte, nothing held back."""

    def __init__(self, port: SerialPort) -> None:
        self._port = port
        self.serial_port = port  # lets the fake `select.poll` skip the system call

    def fileno(self) -> int:
        return self._port._fw_r

    def read(self, n: int = -1) -> bytes:
        port = self._port
        if n is None or n < 0:
            port.wait_readable()
            return port.read_available()
        return port.read_exact(n)

    def readinto(self, buf: Any, n: int | None = None) -> int:
        n = len(buf) if n is None else n
        data = self._port.read_exact(n)
        buf[:n] = data
        return n

    def readline(self) -> bytes:
        out = bytearray()
        while not out.endswith(b"\n"):
            out += self._port.read_exact(1)
        return bytes(out)


class SerialStdin:
    """`sys.stdin` for the firmware: `read(1)` returns one character; pollable."""

    def __init__(self, port: SerialPort) -> None:
        self.buffer = _RawStdin(port)
        self.serial_port = port

    def fileno(self) -> int:
        return self.buffer.fileno()

    def read(self, n: int = -1) -> str:
        return self.buffer.read(n).decode("latin-1")

    def readline(self) -> str:
        return self.buffer.readline().decode("latin-1")

    def readinto(self, buf: Any, n: int | None = None) -> int:
        return self.buffer.readinto(buf, n)

    def isatty(self) -> bool:
        return False


class _RawStdout:
    """`sys.stdout.buffer`: bytes out as they are."""

    serial_in = False

    def __init__(self, port: SerialPort) -> None:
        self._port = port
        self.serial_port = port  # pollable for POLLOUT through the fake `select`

    def write(self, data: Any) -> int:
        self._port.write(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


class SerialStdout:
    """`sys.stdout` for the firmware: text with LF sent as CR LF, like MicroPython's
    "cooked" output on the USB serial port."""

    serial_in = False

    def __init__(self, port: SerialPort) -> None:
        self._port = port
        self.serial_port = port
        self.buffer = _RawStdout(port)

    def write(self, text: str) -> int:
        data = text.encode()
        if b"\n" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        self._port.write(data)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False
