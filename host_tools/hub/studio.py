"""`attune studio`: start the hub, serve the Studio page, open it in the browser.

Usage: attune studio [--sim combo ...] [--no-browser] [--http-port N] [--data DIR] [--lan]

Once it serves, it prints exactly one line, `studio: http://127.0.0.1:PORT/`, and writes
`<data dir>/hub.json` (url, pid, token; mode 0600) so `attune` commands reach the instruments
through it. Ctrl-C stops it (and its simulated instruments).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys
import threading
import webbrowser
from pathlib import Path
from typing import Any

import uvicorn

from host_tools.hub import journal, remote
from host_tools.hub.hub import Hub
from host_tools.hub.security import Security
from host_tools.hub.server import build_app

DEFAULT_PORT = 8765


class Studio:
    """The hub and its web server on one event loop; `run()` in the foreground, or
    `start_in_thread()` (tests and benchmarks), then `url`, `token` and `stop()`."""

    def __init__(
        self,
        data_dir: Path,
        sims: list[str] | None = None,
        http_port: int = 0,
        lan: bool = False,
        discover: Any = "default",
        opener: Any = None,
        poll_s: float = 1.0,
        record: bool = True,
        cue_window_ms: int | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        kwargs: dict[str, Any] = {"opener": opener, "poll_s": poll_s, "record": record}
        if cue_window_ms is None:  # the one the page last set, kept in the data folder
            cue_window_ms = journal.saved_cue_window_ms(self.data_dir) or journal.CUE_WINDOW_MS
        kwargs["cue_window_ms"] = cue_window_ms
        if discover != "default":
            kwargs["discover"] = discover
        self.hub = Hub(self.data_dir, sims, **kwargs)
        self.sockets = _listen(http_port, lan)
        port = self.sockets[0].getsockname()[1]
        self.security = Security(port=port, lan_host=_lan_address() if lan else None)
        self.url = "http://127.0.0.1:" + str(port) + "/"
        self.token = self.security.token
        config = uvicorn.Config(
            build_app(self.hub, self.security),
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws_max_size=64 * 1024,
        )
        self.server = uvicorn.Server(config)
        self.ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, on_ready: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        await self.hub.start()
        task = asyncio.create_task(self.server.serve(sockets=self.sockets))
        try:
            while not self.server.started and not task.done():
                await asyncio.sleep(0.01)
            if self.server.started:
                self.ready.set()
                if on_ready is not None:
                    on_ready()
            await task
        finally:
            await self.hub.stop()
            self.ready.set()

    def write_discovery(self) -> Path:
        """`<data dir>/hub.json`, readable by this user only."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / remote.DISCOVERY_FILE
        doc = {"url": self.url, "pid": os.getpid(), "token": self.token}
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(doc) + "\n")
        os.replace(tmp, path)
        return path

    def remove_discovery(self) -> None:
        path = self.data_dir / remote.DISCOVERY_FILE
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()

    def start_in_thread(self, timeout: float = 10.0) -> Studio:
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self.serve()), name="studio", daemon=True
        )
        self._thread.start()
        if not self.ready.wait(timeout) or not self.server.started:
            raise RuntimeError("Studio did not start.")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


def _listen(port: int, lan: bool) -> list[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # no Nagle delay: a reply or a note must not wait for the ACK of the meter frame before it
    # (accepted connections inherit this on Linux)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("0.0.0.0" if lan else "127.0.0.1", port))
    sock.listen(128)
    sock.setblocking(False)
    return [sock]


def _lan_address() -> str:
    """This computer's address on the local network (the route out; nothing is sent)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the interface
        return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        s.close()


def _unknown_instrument(name: str) -> str:
    """Why `--sim name` cannot run, in plain words, or ""."""
    from simulator.world import find_instrument

    try:
        find_instrument(name)
    except (OSError, ValueError) as e:
        return str(e)
    return ""


def build_parser() -> argparse.ArgumentParser:
    from host_tools.journal.cli import add_cue_window_option

    p = argparse.ArgumentParser(
        prog="attune studio",
        description="Attune Studio: the therapist's app, in the browser, for one instrument "
        "or a whole group. It finds the instruments plugged in; --sim adds simulated ones.",
    )
    p.add_argument(
        "--sim",
        action="append",
        default=[],
        metavar="NAME",
        help="add a simulated instrument (e.g. combo, big-switch); repeat for several",
    )
    p.add_argument("--no-browser", action="store_true", help="do not open the browser")
    p.add_argument(
        "--http-port",
        type=int,
        default=DEFAULT_PORT,
        metavar="N",
        help=f"the web page's port (default {DEFAULT_PORT}; 0 = any free port)",
    )
    p.add_argument(
        "--data",
        metavar="DIR",
        help="where Studio keeps its files (default: this user's data folder)",
    )
    p.add_argument(
        "--lan",
        action="store_true",
        help="also serve other devices on this network (an iPad), with a pairing code",
    )
    p.add_argument(
        "--no-record",
        action="store_true",
        help="do not record sessions in the journal (it records while a profile is active)",
    )
    # without --cue-window: the one last set in the Journal view (kept in the data folder)
    add_cue_window_option(p, None, "the one last set in the Journal view, else 5000")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    data = Path(args.data) if args.data else remote.data_dir()
    for name in args.sim:
        problem = _unknown_instrument(name)
        if problem:
            print("attune studio: " + problem, file=sys.stderr)
            return 2
    try:
        studio = Studio(
            data,
            args.sim,
            args.http_port,
            args.lan,
            record=not args.no_record,
            cue_window_ms=args.cue_window,
        )
    except OSError as e:
        print(
            "attune studio: could not listen on port "
            + str(args.http_port)
            + " ("
            + str(e)
            + "). Is Studio already running? Try --http-port 0.",
            file=sys.stderr,
        )
        return 1

    def ready() -> None:
        studio.write_discovery()
        print("studio: " + studio.url, flush=True)
        if studio.security.lan_host:
            print(
                "Other devices: http://"
                + studio.security.lan_host
                + ":"
                + str(studio.security.port)
                + "/ with the pairing code "
                + studio.security.pairing_code,
                file=sys.stderr,
                flush=True,
            )
        if not args.no_browser:
            threading.Thread(target=webbrowser.open, args=(studio.url,), daemon=True).start()

    try:
        asyncio.run(studio.serve(ready))
    except KeyboardInterrupt:
        pass
    finally:
        studio.remove_discovery()
    return 0


if __name__ == "__main__":
    sys.exit(main())
