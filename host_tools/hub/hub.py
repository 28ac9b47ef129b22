"""The hub: every instrument (discovered Picos and simulated ones) and every page listening.

Usage: hub = Hub(data_dir, sims=["combo"]); await hub.start(); await hub.request(None, "status")

Instruments run in threads of their own; what they report reaches the pages through the event
loop (`emit` is safe from any thread). Discovery looks for Picos about once a second.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from host_tools import device
from host_tools.client import Client
from host_tools.device import PortInfo
from host_tools.errors import AttuneError, DeviceTimeout, NoDevice, Refused, SeveralDevices
from host_tools.hub import messages
from host_tools.hub.instrument import Instrument
from host_tools.hub.simulated import SimulatedInstrument

POLL_S = 1.0  # how often discovery looks for Picos plugged in
RETRY_S = 30.0  # a port that is not Attune (or busy) is looked at again after this long
RECONNECT_S = 1.0  # a connection that ended (unplugged, stopped answering) is tried again after
OPEN_TIMEOUT_S = 3.0
REQUEST_TIMEOUT_S = 8.0  # a reply through the hub: the instrument's own timeout, and a queue
QUEUE_LIMIT = 2000  # messages waiting for one slow page before its oldest meter frames go


class Listener:
    """One page (WebSocket) or tool (line stream) the hub sends to, through an asyncio queue.

    device: None for a page (every JSON message); an instrument id for a tool's line stream
    (that instrument's `* ` lines, verbatim)."""

    def __init__(self, device_id: str | None = None) -> None:
        self.device_id = device_id
        self.queue: asyncio.Queue[str] = asyncio.Queue()

    def put(self, text: str) -> None:
        if self.queue.qsize() >= QUEUE_LIMIT:
            return  # a page that stopped reading: drop rather than grow without end
        self.queue.put_nowait(text)


class Hub:
    """Owns the instruments; routes requests to them and their news to every listener.

    discover: lists the Picos plugged in (device.list_pico_ports; tests pass a fake).
    opener: opens one port and shakes hands (device.open_client; tests pass a fake).
    """

    def __init__(
        self,
        data_dir: Path,
        sims: list[str] | None = None,
        discover: Callable[[], list[PortInfo]] | None = device.list_pico_ports,
        opener: Callable[[str], Client] | None = None,
        poll_s: float = POLL_S,
        record: bool = True,
        cue_window_ms: int = 5000,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.record = record  # the session journal: one Recorder per instrument with a profile
        self.cue_window_ms = cue_window_ms
        self.sims = list(sims or [])
        self.discover = discover
        self.opener = opener or (lambda path: device.open_client(path, OPEN_TIMEOUT_S))
        self.poll_s = poll_s
        self.instruments: dict[str, Instrument] = {}
        self.listeners: set[Listener] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._retry_at: dict[str, float] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._discovery: threading.Thread | None = None

    # -- life -------------------------------------------------------------------------------

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        counts: dict[str, int] = {}
        for name in self.sims:
            counts[name] = counts.get(name, 0) + 1
            ident = "sim-" + name + "-" + str(counts[name])
            inst = SimulatedInstrument(self, ident, name, self.data_dir / "sim")
            self.instruments[ident] = inst
            inst.start()
        if self.discover is not None:
            self._discovery = threading.Thread(target=self._discover_loop, daemon=True)
            self._discovery.start()

    async def stop(self) -> None:
        self._stop.set()
        insts = list(self.instruments.values())
        await asyncio.gather(*(asyncio.to_thread(i.stop) for i in insts))
        if self._discovery is not None:
            await asyncio.to_thread(self._discovery.join, 3)

    def _discover_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan()
            except Exception:  # noqa: BLE001 (a port list read mid-unplug: try again soon)
                pass
            self._stop.wait(self.poll_s)

    def scan(self) -> None:
        """Open every Pico not yet open (new, or plugged back in)."""
        assert self.discover is not None
        now = time.monotonic()
        for port in self.discover():
            with self._lock:
                inst = self.instruments.get(port.path) or self._same_board(port)
                if inst is not None and (inst.running or inst.released):
                    continue  # open already, or let go for `attune deploy`
                if self._retry_at.get(port.path, 0.0) > now:
                    continue
                opener = functools.partial(self.opener, port.path)  # (it may be back elsewhere)
                if inst is None:
                    inst = Instrument(self, port.path, opener, serial_number=port.serial_number)
                    self.instruments[inst.id] = inst
                inst.opener = opener
            inst.start()

    def _same_board(self, port: PortInfo) -> Instrument | None:
        """A disconnected instrument with this USB serial number (it came back elsewhere)."""
        if not port.serial_number:
            return None
        for inst in self.instruments.values():
            if inst.serial_number == port.serial_number and not inst.connected:
                return inst
        return None

    # -- called from instrument threads -------------------------------------------------------

    def rejected(self, inst: Instrument, problem: AttuneError) -> None:
        """A port that could not be opened as Attune: looked at again in a while."""
        self._retry_at[inst.id] = time.monotonic() + RETRY_S
        if not inst.ever_connected and not inst.simulated:
            with self._lock:
                if self.instruments.get(inst.id) is inst:
                    del self.instruments[inst.id]
        self.changed()

    def ended(self, inst: Instrument) -> None:
        """A connection ended (its port vanished, or it stopped answering): not at once again."""
        self._retry_at[inst.id] = time.monotonic() + RECONNECT_S

    def start_recorder(self, inst: Instrument, client: Client, profile: str) -> Any:
        """A journal Recorder for `profile` (the client) on `inst`, with the settings in use
        (called from the instrument's thread). Raises AttuneError/JournalError: plain words."""
        if not self.record:
            raise AttuneError("Studio was started with --no-record.")
        from host_tools.journal.recorder import Recorder, settings_of

        channels = inst.to_json()["channels"]
        settings = settings_of(client, channels)
        self.collect_standalone(inst, client, profile)
        info = client.info
        return Recorder(
            self.data_dir,
            profile,
            info.instrument if info else inst.id,
            channels,
            settings,
            cue_window_ms=self.cue_window_ms,
        )

    def collect_standalone(self, inst: Instrument, client: Client, profile: str) -> int:
        """Sessions the instrument logged while played without a computer: stored in the
        journal for `profile`'s client, then cleared on the instrument (`attune record`'s own
        code, host_tools/journal/standalone.py); the pages are told. Quiet when the firmware
        keeps no journal or has no sessions."""
        from host_tools.journal import open_journal
        from host_tools.journal.standalone import NO_SUPPORT, collect_into

        try:
            journal = open_journal(self.data_dir)
            try:
                stored, problems = collect_into(journal, client, profile)
            finally:
                journal.close()
            for problem in problems:
                if problem != NO_SUPPORT:  # quiet without device journal support
                    self.notice(inst, "fault", problem)
        except Exception as e:  # noqa: BLE001 (the sessions stay on the instrument for next time)
            self.notice(
                inst,
                "fault",
                "Sessions played without a computer were not collected ("
                + getattr(e, "message", str(e))
                + "); they stay on the instrument for next time.",
            )
            return 0
        if stored:
            self.notice(
                inst,
                "info",
                "Collected "
                + str(stored)
                + (" session" if stored == 1 else " sessions")
                + " played without a computer into "
                + profile
                + "'s journal.",
            )
        return stored

    def changed(self) -> None:
        """An instrument appeared, went, came back or changed profile: tell every page."""
        self._call(self._send_instruments)

    def emit(self, message: dict[str, Any]) -> None:
        text = json.dumps(message, separators=(",", ":"))
        self._call(self._broadcast, text)

    def emit_line(self, device_id: str, line: str) -> None:
        if any(lis.device_id == device_id for lis in list(self.listeners)):
            self._call(self._to_tools, device_id, line)

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(fn, *args)
            except RuntimeError:  # the loop closed meanwhile (shutting down)
                pass

    # -- in the event loop --------------------------------------------------------------------

    def instruments_json(self) -> list[dict[str, Any]]:
        return [i.to_json() for i in list(self.instruments.values()) if i.ever_connected]

    def instruments_message(self) -> str:
        return json.dumps({"type": "instruments", "instruments": self.instruments_json()})

    def meter_messages(self) -> list[str]:
        """Each connected instrument's meters as last known (a page's first view of them)."""
        out = []
        for inst in list(self.instruments.values()):
            msg = inst.meter_message() if inst.ever_connected else None
            if msg is not None:
                out.append(json.dumps(msg, separators=(",", ":")))
        return out

    def _send_instruments(self) -> None:
        self._broadcast(self.instruments_message())

    def _broadcast(self, text: str) -> None:
        for lis in list(self.listeners):
            if lis.device_id is None:
                lis.put(text)

    def _to_tools(self, device_id: str, line: str) -> None:
        for lis in list(self.listeners):
            if lis.device_id == device_id:
                lis.put(line)

    def find(self, wanted: str | None) -> Instrument:
        """The instrument named (id, name or title); the only one when none is named."""
        insts = [i for i in list(self.instruments.values()) if i.ever_connected]
        if wanted:
            exact = [i for i in insts if i.id == wanted]
            hits = exact or [i for i in insts if i.matches(wanted)]
            if not hits:
                raise NoDevice(
                    "No instrument called '"
                    + wanted
                    + "' is open in Studio. Open: "
                    + (", ".join(i.id for i in insts) or "none")
                    + "."
                )
            live = [i for i in hits if i.connected] or hits
            if len(live) > 1:
                raise SeveralDevices(
                    "Several instruments are called '"
                    + wanted
                    + "': "
                    + ", ".join(i.id for i in live)
                    + ". Name one by its id."
                )
            return live[0]
        if not insts:
            raise NoDevice("Studio has no instrument open yet.")
        live = [i for i in insts if i.connected] or insts
        if len(live) > 1:
            raise SeveralDevices(
                "Several instruments are open in Studio: "
                + ", ".join(i.id for i in live)
                + ". Choose one by its id or name."
            )
        return live[0]

    async def ask(
        self, inst: Instrument, line: str, timeout: float = REQUEST_TIMEOUT_S
    ) -> tuple[dict[str, Any] | None, Refused | None]:
        """Send one line to one instrument; its payload or refusal. Raises AttuneError
        (DeviceTimeout when no reply comes in time)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()

        def settle(result: Any) -> None:
            if not future.done():
                future.set_result(result)

        def done(payload: Any, refused: Any, problem: Any) -> None:
            loop.call_soon_threadsafe(settle, (payload, refused, problem))

        inst.submit(messages.check_line(line), done)
        try:
            payload, refused, problem = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise DeviceTimeout(
                "The instrument " + inst.id + " did not answer '" + line + "' in time."
            ) from None
        if problem is not None:
            raise problem
        return payload, refused

    async def release(self, inst: Instrument, why: str, seconds: float) -> None:
        """Close an instrument's port and leave it closed (for `attune deploy`) until
        `resume` or `seconds` have passed; the pages are told."""
        if inst.simulated:
            raise messages.BadMessage("A simulated instrument has no port to let go of.")
        inst.released_for = why or "another program"
        inst.released_until = time.monotonic() + max(1.0, min(seconds, 3600.0))
        await asyncio.to_thread(inst.stop)
        self.notice(
            inst,
            "info",
            "Studio let go of "
            + inst.id
            + " for "
            + inst.released_for
            + "; it opens it again when that is done.",
        )
        self.changed()

    def resume(self, inst: Instrument) -> None:
        """Studio may open an instrument it let go of again (discovery does, within a second)."""
        was = inst.released
        inst.released_until = 0.0
        self._retry_at.pop(inst.id, None)
        if was:
            self.notice(inst, "info", "Studio is opening " + inst.id + " again.")
        self.changed()

    def notice(self, inst: Instrument, kind: str, text: str) -> None:
        self.emit({"type": "notice", "device": inst.id, "kind": kind, "text": text})

    async def doctor(self, inst: Instrument) -> dict[str, Any]:
        """`attune doctor`'s findings for one instrument, asked through the hub
        (host_tools/doctor.py reads the facts; nothing is re-implemented here)."""
        from host_tools import doctor

        payload, refused = await self.ask(inst, "diagnose")
        if refused is not None or payload is None:  # firmware from before `diagnose`
            status, refused = await self.ask(inst, "status")
            if status is None:
                raise AttuneError("The instrument " + inst.id + " would not say its status.")
            info = inst.client.info if inst.client is not None else None
            payload = doctor.facts_from_status(status, info)
        info = inst.client.info if inst.client is not None else None
        report = await asyncio.to_thread(doctor.playing_report, inst.id, payload, info)
        out = report.to_json()
        out["device"] = inst.id
        out["simulated"] = inst.simulated
        return out

    async def group(self, action: str, key: str = "", value: str = "") -> dict[str, str]:
        """The same request to every connected instrument; each one's reply line."""
        line = "panic" if action == "panic" else "set " + key + " " + value
        insts = [i for i in list(self.instruments.values()) if i.connected]

        async def one(inst: Instrument) -> str:
            try:
                payload, refused = await self.ask(inst, line)
            except AttuneError as e:
                return "ERR unavailable " + e.message
            return messages.reply_line(payload, refused)

        replies = await asyncio.gather(*(one(i) for i in insts))
        return {i.id: r for i, r in zip(insts, replies, strict=True)}
