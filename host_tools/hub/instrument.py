"""One instrument the hub owns: its port opened once, its monitor stream kept, and its requests
answered one at a time in a thread of its own (real Picos and simulated ones alike).

Usage: inst = Instrument(hub, "/dev/ttyACM0", opener); inst.start(); inst.submit("status", done)
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from host_tools.client import Client, parse_async
from host_tools.errors import AttuneError, DeviceTimeout, Refused
from host_tools.hub import messages

MONITOR_HZ = 30  # the meter's rate: the page wants 20+ frames a second
READ_SLICE_S = 0.05  # longest wait for a byte before looking for requests (submit ends it)
CHANGING = ("profile", "calibrate", "hello")  # requests after which status is read at once
DEFERRED = ("set", "reset")  # ... read once the requests pause (a slider sends many sets)
IDLE_S = 0.5  # the pause before a deferred status (status takes ~0.1 s, a Pico's far longer)

# done(payload, refused, problem): exactly one of them is set
Done = Callable[[dict[str, Any] | None, Refused | None, AttuneError | None], None]


def _units() -> dict[str, str]:
    try:
        from simulator.world import UNITS

        return dict(UNITS)
    except Exception:  # an installed attune without the simulator: units are only a label
        return {}


UNITS = _units()


class Instrument:
    """A connection to one Attune instrument, run by its own thread.

    opener: returns a Client with the handshake done (device.open_client for a Pico).
    The hub hears about everything through `hub.emit(message)`, `hub.emit_line(id, line)` and
    `hub.changed()`, called from this thread.
    """

    def __init__(
        self,
        hub: Any,
        ident: str,
        opener: Callable[[], Client],
        simulated: bool = False,
        serial_number: str = "",
    ) -> None:
        self.hub = hub
        self.id = ident
        self.opener = opener
        self.simulated = simulated
        self.serial_number = serial_number
        self.client: Client | None = None
        self.connected = False
        self.ever_connected = False
        self.status: dict[str, Any] = {}
        self.params: list[dict[str, Any]] = []
        self.midi_channel = 1
        self.problem = ""  # why the last connection failed or ended, in plain words
        self.requests: queue.Queue[tuple[str, Done]] = queue.Queue()
        self.thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._meter: dict[str, dict[str, Any]] = {}  # each sensor's last meter values
        self._stale_since: float | None = None  # a set changed what status says, not read yet
        self.released_until = 0.0  # monotonic: the port is let go (for `attune deploy`) until
        self.released_for = ""
        self.recorder: Any = None  # the journal's Recorder for the active profile (the client)
        self.not_recording = ""  # why not, in plain words ("" while recording)

    # -- what the hub asks ------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    @property
    def released(self) -> bool:
        return self.released_until > time.monotonic()

    def start(self) -> None:
        self._stop.clear()
        self.thread = threading.Thread(target=self._run, name="instrument " + self.id, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self.thread is not None:
            self.thread.join(timeout=3)

    def submit(self, line: str, done: Done) -> None:
        """Queue a request; `done` is called from the instrument's thread with its outcome."""
        if not self.connected:
            done(None, None, AttuneError(self._not_connected()))
            return
        self.requests.put((line, done))
        client = self.client
        cancel = getattr(client.port, "cancel_read", None) if client is not None else None
        if cancel is not None:
            cancel()  # pyserial: end the thread's wait for bytes now, so the request goes at once

    def send_input(self, sensor: str, value: float) -> None:
        raise AttuneError("Only a simulated instrument has a virtual input; this one is real.")

    def meter_message(self) -> dict[str, Any] | None:
        """Every sensor's meter as last known, for a page that has just connected (a still
        instrument sends a frame only once a second: docs/protocol.md), or None."""
        try:
            chans = [dict(ch) for ch in list(self._meter.values())]
        except RuntimeError:  # (a sensor's first values arrived meanwhile: the next frame shows)
            return None
        if not chans:
            return None
        return {"type": "meter", "device": self.id, "t": None, "channels": chans}

    def to_json(self) -> dict[str, Any]:
        info = self.client.info if self.client is not None else None
        channels = []
        for ch in self.status.get("channels") or []:
            sensor = str(ch.get("sensor", ""))
            channels.append(
                {
                    "name": ch.get("name"),
                    "sensor": sensor,
                    "kind": ch.get("kind") or ("switch" if sensor == "switch" else "analog"),
                    "unit": UNITS.get(sensor, ""),
                }
            )
        profile = self.status.get("profile")
        return {
            "id": self.id,
            "name": info.instrument if info else self.id,
            "title": info.title if info else self.id,
            "player": profile,
            "simulated": self.simulated,
            "connected": self.connected,
            "released": self.released_for if self.released else None,
            "recording": self._recording_json(),
            "not_recording": self.not_recording or None,
            "firmware": info.firmware if info else "",
            "board": info.board if info else "",
            "hello": info.to_json() if info else None,
            "profile": profile,
            "unsaved": bool(self.status.get("unsaved")),
            "channels": channels,
            "params": self.params,
        }

    def _recording_json(self) -> dict[str, Any] | None:
        rec = self.recorder
        if rec is None:
            return None
        return {"client": rec.client, "session_id": rec.session_id, "started": rec.started}

    def matches(self, wanted: str) -> bool:
        """True for the instrument's id, or its name or title in any letter case."""
        if wanted == self.id:
            return True
        info = self.client.info if self.client is not None else None
        return bool(info and info.matches(wanted))

    def _not_connected(self) -> str:
        return (
            "The instrument "
            + self.id
            + " is not connected"
            + ((": " + self.problem) if self.problem else ".")
        )

    # -- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            client = self.opener()
        except AttuneError as e:
            self.problem = e.message
            self.hub.rejected(self, e)
            return
        except Exception as e:  # noqa: BLE001 (a port that vanished while opening)
            self.problem = str(e)
            self.hub.rejected(self, AttuneError(str(e)))
            return
        client.on_async = self._on_line
        port = client.port
        if hasattr(port, "timeout"):
            port.timeout = READ_SLICE_S  # type: ignore[attr-defined]
        self.client = client
        try:
            self._prepare(client)
            self._follow_profile(client)
            self.connected = self.ever_connected = True
            self.problem = ""
            self.hub.changed()
            self._serve(client)
        except (AttuneError, OSError, Exception) as e:  # noqa: BLE001 (unplugged: see below)
            # A Pico pulled out mid-read raises SerialException (an OSError) or gives no answer:
            # either way the port is closed and discovery opens it again when it comes back.
            self.problem = (
                e.message
                if isinstance(e, AttuneError)
                else "the connection was lost (" + str(e) + ")"
            )
        finally:
            was = self.connected
            self.connected = False
            self._end_recording("")
            self._fail_queued()
            close = getattr(port, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 (a vanished port)
                    pass
            self.hub.ended(self)
            if was:
                self.hub.changed()

    def _prepare(self, client: Client) -> None:
        for hz in (MONITOR_HZ, 20, 10):  # a firmware with a lower cap refuses the higher rate
            try:
                got = _in_step(client, "monitor " + str(hz), "monitor")
            except Refused:
                continue
            cap = got.get("max")
            if isinstance(cap, int) and cap > 2 and got.get("monitor", 0) >= cap:
                # clamped to what the link carries: a round a second less leaves the device
                # room for early frames, so a sensor that moves shows within a poll, not a
                # frame period later (docs/protocol.md, Monitor cap)
                _in_step(client, "monitor " + str(cap - 1), "monitor")
            break
        self.status = _in_step(client, "status", "channels")
        self.params = client.parameters()
        self._read_midi_channel(client)

    def _read_midi_channel(self, client: Client) -> None:
        try:
            self.midi_channel = int(client.get("channel"))
        except (Refused, ValueError):
            self.midi_channel = 1

    def _serve(self, client: Client) -> None:
        while not self._stop.is_set():
            try:
                line, done = self.requests.get_nowait()
            except queue.Empty:
                stale = self._stale_since
                if stale is not None and time.monotonic() - stale > IDLE_S:
                    self._refresh_status(client)
                    continue
                got = client.next_async()  # (one wait for bytes, which submit() ends)
                if got is not None:
                    self._on_line(got)
                continue
            self._answer(client, line, done)

    def _refresh_status(self, client: Client) -> None:
        """Read status again; tell the pages when the profile or its unsaved mark changed."""
        self._stale_since = None
        before = (self.status.get("profile"), self.status.get("unsaved"))
        try:
            status = client.status()
        except DeviceTimeout:
            return  # busy (e.g. calibrating): the next change reads it again
        if "channels" in status:
            self.status = status
        if self.status.get("profile") != before[0]:
            self._follow_profile(client)
        if (self.status.get("profile"), self.status.get("unsaved")) != before:
            self.hub.changed()

    # -- the session journal (one Recorder while a profile is active) ------------------------

    def _follow_profile(self, client: Client) -> None:
        """Record for the active profile's client: a new session when the profile changes,
        none without a profile (host_tools/journal; the hub's `record` switch)."""
        profile = self.status.get("profile")
        rec = self.recorder
        if rec is not None and rec.client == profile:
            return
        self._end_recording("")
        if not profile:
            self.not_recording = "Not recording: choose this client's profile."
            return
        try:
            self.recorder = self.hub.start_recorder(self, client, str(profile))
            self.not_recording = ""
        except Exception as e:  # noqa: BLE001 (a damaged journal must not stop the instrument)
            self.not_recording = "Not recording: " + getattr(e, "message", str(e))

    def _end_recording(self, why: str) -> None:
        rec, self.recorder = self.recorder, None
        self.not_recording = why
        if rec is not None:
            try:
                rec.close()
            except Exception:  # noqa: BLE001 (the journal says why in its own problem)
                pass

    def _answer(self, client: Client, line: str, done: Done) -> None:
        word = line.split()[0].lower()
        rest = line[len(word) :].strip()
        if word == "monitor":
            # the hub keeps the stream at its own rate for every page: a tool's `monitor` only
            # says yes (its lines come through the hub's line stream)
            done({"monitor": 0 if rest.lower() == "off" else MONITOR_HZ}, None, None)
            return
        try:
            payload = client.request(line)
        except Refused as e:
            done(None, e, None)
            return
        except DeviceTimeout as e:
            done(None, None, e)
            return
        except BaseException:
            done(None, None, AttuneError("The connection to the instrument was lost."))
            raise
        done(payload, None, None)
        rec = self.recorder
        if rec is not None and word in ("set", "reset"):
            if word == "set":  # as the device stored it
                key, _, value = rest.partition(" ")
                rec.setting(str(payload.get("key", key)), str(payload.get("value", value)))
            else:
                rec.setting("reset", rest or "all")
        if word == "set" and rest.split(" ", 1)[0] == "channel":
            self._read_midi_channel(client)
        if word in CHANGING:
            self._refresh_status(client)
        elif word in DEFERRED:
            self._stale_since = time.monotonic()

    def _fail_queued(self) -> None:
        while True:
            try:
                _, done = self.requests.get_nowait()
            except queue.Empty:
                return
            done(None, None, AttuneError(self._not_connected()))

    # -- lines from the device --------------------------------------------------------------

    def _on_line(self, line: str) -> None:
        rec = self.recorder
        if rec is not None:
            rec.feed(line, time.time() * 1000.0)  # a queue append: never slows the meter
        self.hub.emit_line(self.id, line)
        parsed = parse_async(line)
        kind = parsed.get("kind")
        if kind in ("monitor", "levels"):
            # a frame (every sensor's level and press) or one sensor's whole state (its
            # trigger moved, or its turn): either is shown at once
            chans = messages.meter_frame(self._meter, parsed)
            if chans:
                t = parsed.get("t")
                self.hub.emit({"type": "meter", "device": self.id, "t": t, "channels": chans})
        elif kind == "event":
            note = messages.note_message(self.id, parsed, self.midi_channel)
            if note is not None:
                self.hub.emit(note)
        elif kind == "act":
            pass  # a press that ended: the journal's recorder takes it, it is no notice
        else:
            self.hub.emit(messages.notice_message(self.id, parsed))


def _in_step(client: Client, line: str, key: str) -> dict[str, Any]:
    """A request whose reply must hold `key`: another reply is one left over from before the
    hub opened the port (a tool's, or a handshake answered late), so throw away what is
    pending and ask again."""
    for _ in range(3):
        payload = client.request(line)
        if key in payload:
            return payload
        client.drain(0.3)
    raise DeviceTimeout("The instrument's replies do not match the requests sent to it.")


def wait_until(test: Callable[[], bool], seconds: float) -> bool:
    """Poll `test` until it is true or `seconds` pass (tests and start-up)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if test():
            return True
        time.sleep(0.02)
    return test()
