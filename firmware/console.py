"""The therapist's console: runs protocol commands (docs/protocol.md) against the playing
instrument, and between ticks sends monitor, event, fault and calibration lines.

Usage: console = Console(instrument, store, info, stats, link.send); link.handler = console.handle
       each loop: inst.tick(t); console.capture(); outputs.send(midi); ...; console.poll(now_ms)
"""

import protocol
import settings
from engine.calibration import Calibration
from micropython import const

_PAGE = const(8)  # parameters per `params` page
_MONITOR_MAX_HZ = const(50)
_EVENTS_PER_POLL = const(8)  # `* event` lines per poll at most
_CHECK_MS = const(50)  # how often sensor faults are looked at
_REBOOT_MS = const(500)  # `maintenance`: time for the reply and the note-offs to leave
_NOTES_MAX = const(10)  # skipped-value notes kept for `status`
_TICKS_MASK = const(0x3FFFFFFF)

MAINTENANCE_FLAG = "maintenance"  # one-shot file: main.py boots without the play loop

COMMANDS = ("hello", "help", "params [offset]", "get <key> | get <sensor> | get global",
            "set <key> <value>", "reset", "profile list", "profile save [name]",
            "profile load <name>", "profile show <name>", "profile delete <name>",
            "profile rename <old> <new>", "status", "monitor <rate_hz> | monitor off",
            "calibrate <sensor> | calibrate apply | calibrate cancel | calibrate", "panic",
            "maintenance", "diagnose")

_TYPES = ("int", "choice", "onoff", "notes")


def _since(now, then):
    """Milliseconds from `then` to `now`, across the wrap of ticks_ms (2**30)."""
    return ((now - then + 0x20000000) & _TICKS_MASK) - 0x20000000


def _code(e):
    return str(e.args[0]) if e.args else "unknown"


def apply_values(s, values):
    """Apply stored values one by one; refused or unknown keys are skipped.

    Returns notes in plain words, one per skipped key. Two passes, so that pairs such as
    velocity_min/velocity_max settle whatever order the keys come in.
    """
    notes = []
    retry = []
    for key in values:
        if s.row(key) is None:
            notes.append("'" + key + "' is not a setting of this instrument and firmware; "
                         "skipped.")
        elif s.set(key, values[key]) is not None:
            retry.append(key)
    for key in retry:
        why = s.set(key, values[key])
        if why is not None:
            notes.append(why + " Skipped.")
    if len(notes) > _NOTES_MAX:
        more = len(notes) - _NOTES_MAX + 1
        notes = notes[:_NOTES_MAX - 1]
        notes.append("... and " + str(more) + " more.")
    return notes


def load_settings(store, s, instrument_defaults=None):
    """At start-up: defaults, then the instrument's defaults, then the active stored profile.

    Returns (profile_name or None, source) with source "saved", "backup" or "defaults"; the
    store keeps the reason and any skipped values for `status`.
    """
    s.reset()
    notes = []
    if instrument_defaults:
        notes = apply_values(s, instrument_defaults)
    source = "defaults"
    reason = ""
    name = store.active()
    if name:
        values, src, why = store.load(name)
        if values is None:
            if src == "missing":
                reason = ("The start-up profile '" + name + "' is not on the flash; playing "
                          "with the defaults.")
            else:
                reason = ("The start-up profile '" + name + "' is damaged and has no good "
                          "backup (" + why + "); playing with the defaults.")
        else:
            notes = notes + apply_values(s, values)
            source = src
            reason = why
    store.profile = name
    store.config = source
    store.reason = reason
    store.notes = notes
    return name, source


class Console:
    """Executes one request line at a time (`handle`) and does the between-tick work (`poll`)."""

    def __init__(self, instrument, store, info, stats, write):
        self.inst = instrument
        self.settings = instrument.settings
        self.store = store
        self.info = info
        self.stats = stats
        self.write = write
        self.unsaved = False  # changes since the last save or load
        self.monitor_hz = 0
        self.cal = None  # the calibration run (running or finished), if any
        self._cal_ch = -1
        self._now = 0
        self._next_check = None  # None: due now
        self._next_monitor = None
        self._reboot = False
        self._reboot_at = -1
        self._faults = [0] * len(instrument.channels)
        # a copy of the packets of the ticks since the last poll, for `* event` lines
        self._ev_buf = bytearray(_EVENTS_PER_POLL * 4)
        self._ev_src = bytearray(_EVENTS_PER_POLL)
        self._ev_n = 0
        self._capturing = False  # True once the runtime calls capture()
        self._commands = {
            "hello": self._hello, "help": self._help, "params": self._params, "get": self._get,
            "set": self._set, "reset": self._reset, "profile": self._profile,
            "status": self._status, "monitor": self._monitor, "calibrate": self._calibrate,
            "panic": self._panic, "maintenance": self._maintenance,
            "diagnose": lambda rest: protocol.ok(__import__("diagnosis").report(self)),
        }

    # ---- requests ----

    def handle(self, line):
        """One request line (bytes) -> its reply line (str, no newline), or None for an empty
        line. Never raises: an unexpected failure becomes `ERR internal`."""
        try:
            cmd, rest, error = protocol.parse(line)
            if error:
                return error
            if not cmd:
                return None
            run = self._commands.get(cmd)
            if run is None:
                return protocol.err("unknown", "'" + cmd + "' is not a command. Send 'help' for "
                                    "the list.")
            return run(rest)
        except Exception as e:  # a bug in a command must not stop the instrument
            return protocol.err("internal", "The command failed unexpectedly (" + repr(e)
                                + "); the instrument plays on.")

    def _busy(self):
        cal = self.cal
        if cal is not None and cal.running:
            return protocol.err("busy", "Calibration of " + cal.name + " is running; wait for "
                                "it to finish or send 'calibrate cancel' first.")
        return None

    def _hello(self, rest):
        info = self.info
        return protocol.ok({"firmware": info.get("firmware", ""), "protocol": protocol.VERSION,
                            "board": info.get("board", ""),
                            "instrument": info.get("instrument", ""),
                            "title": info.get("title", ""),
                            "channels": list(self.settings.names)})

    def _help(self, rest):
        return protocol.ok({"commands": list(COMMANDS)})

    def _params(self, rest):
        rows = settings.GLOBAL + settings.CHANNEL
        total = len(rows)
        offset = 0
        if rest:
            try:
                offset = int(rest)
            except ValueError:
                offset = -1
            if offset < 0 or offset >= total:
                return protocol.err("value", "params takes a start position from 0 to "
                                    + str(total - 1) + ", e.g. params " + str(_PAGE) + ".")
        page = []
        for i in range(offset, min(offset + _PAGE, total)):
            row = rows[i]
            page.append(_describe(row, "global" if i < len(settings.GLOBAL) else "channel"))
        nxt = offset + _PAGE
        return protocol.ok({"total": total, "offset": offset,
                            "next": nxt if nxt < total else None, "params": page})

    def _get(self, rest):
        s = self.settings
        if not rest:
            return protocol.err("usage", "get needs a setting, a sensor or 'global', e.g. get "
                                + s.names[0] + ".sensitivity.")
        if rest == "global" or rest in s.names:
            prefix = "" if rest == "global" else rest + "."
            table = settings.GLOBAL if rest == "global" else settings.CHANNEL
            values = {}
            for row in table:
                values[prefix + row[0]] = s.get(prefix + row[0])[0]
            return protocol.ok({"values": values})
        value, why = s.get(rest)
        if why is not None:
            return protocol.err("key", why)
        return protocol.ok({"key": rest, "value": value})

    def _set(self, rest):
        s = self.settings
        parts = rest.split(None, 1)
        if len(parts) < 2:
            return protocol.err("usage", "set needs a setting and a value, e.g. set "
                                + s.names[0] + ".sensitivity 80.")
        key, value = parts[0], parts[1]
        if s.row(key) is None:
            return protocol.err("key", s.get(key)[1])
        why = s.set(key, value)
        if why is not None:
            return protocol.err("value", why)
        self.unsaved = True
        return protocol.ok({"key": key, "value": s.get(key)[0]})

    def _defaults(self):
        """Every setting to the instrument's defaults (the schema's, then the instrument's)."""
        self.settings.reset()
        extra = self.info.get("defaults")
        return apply_values(self.settings, extra) if extra else []

    def _reset(self, rest):
        busy = self._busy()
        if busy:
            return busy
        self.inst.panic()
        notes = self._defaults()
        st = self.store
        st.config = "defaults"
        st.reason = "Reset to the defaults by command."
        st.notes = notes
        self.unsaved = True
        return protocol.ok({"reset": True})

    # ---- profiles ----

    def _profile(self, rest):
        args = rest.split()
        sub = args[0].lower() if args else ""
        args = args[1:]
        if sub == "list" and not args:
            return protocol.ok({"active": self.store.profile, "profiles": self.store.names()})
        if sub == "save" and len(args) <= 1:
            return self._save(args[0] if args else self.store.profile)
        if sub in ("load", "show", "delete") and len(args) == 1:
            name = args[0]
            if not protocol.valid_name(name):
                return protocol.err("name", protocol.NAME_RULE)
            if sub == "load":
                return self._load(name)
            if sub == "show":
                return self._show(name)
            return self._delete(name)
        if sub == "rename" and len(args) == 2:
            return self._rename(args[0], args[1])
        return protocol.err("usage", "Use: profile list | profile save [name] | profile load "
                            "<name> | profile show <name> | profile delete <name> | profile "
                            "rename <old> <new>.")

    def _read(self, name):
        """(values, source, reason, None) or (None, None, None, ERR reply)."""
        values, source, why = self.store.load(name)
        if values is not None:
            return values, source, why, None
        if source == "missing":
            return None, None, None, protocol.err("notfound", "There is no profile called '"
                                                  + name + "'. Send 'profile list' to see "
                                                  "them.")
        return None, None, None, protocol.err("storage", "Profile '" + name + "' is damaged "
                                              "and has no good backup (" + why + "). Nothing "
                                              "was changed.")

    def _save(self, name):
        st = self.store
        if not name:
            return protocol.err("usage", "No profile is in use yet: give it a name, e.g. "
                                "profile save anna.")
        if not protocol.valid_name(name):
            return protocol.err("name", protocol.NAME_RULE)
        try:
            st.save(name, self.settings.to_dict())
        except OSError as e:
            return protocol.err("storage", "Could not save '" + name + "': the flash refused "
                                "to write (error " + _code(e) + "). The settings in use are "
                                "unchanged, and so is the last saved copy.")
        st.profile = name
        st.config = "saved"
        st.reason = ""
        st.notes = []
        self.unsaved = False
        try:
            st.set_active(name)
        except OSError as e:
            return protocol.err("storage", "Saved '" + name + "', but could not make it the "
                                "start-up profile (error " + _code(e) + ").")
        return protocol.ok({"saved": name})

    def _load(self, name):
        busy = self._busy()
        if busy:
            return busy
        values, source, why, error = self._read(name)
        if error:
            return error
        self.inst.panic()
        notes = self._defaults()
        notes = notes + apply_values(self.settings, values)
        st = self.store
        st.profile = name
        st.config = source
        st.reason = why
        st.notes = notes
        self.unsaved = False
        try:
            st.set_active(name)
        except OSError as e:
            notes.append("Could not make it the start-up profile (error " + _code(e) + ").")
        return protocol.ok({"loaded": name, "from": source, "reason": why, "skipped": notes})

    def _show(self, name):
        values, source, why, error = self._read(name)
        if error:
            return error
        return protocol.ok({"name": name, "values": values, "from": source})

    def _delete(self, name):
        st = self.store
        if not st.exists(name):
            return protocol.err("notfound", "There is no profile called '" + name + "'.")
        try:
            st.delete(name)
            if st.profile == name:
                st.profile = None
                self.unsaved = True
                st.set_active(None)
        except OSError as e:
            return protocol.err("storage", "Could not delete '" + name + "' (error " + _code(e)
                                + "). The settings in use are unchanged.")
        return protocol.ok({"deleted": name})

    def _rename(self, old, new):
        st = self.store
        if not protocol.valid_name(old) or not protocol.valid_name(new):
            return protocol.err("name", protocol.NAME_RULE)
        if old == new or st.exists(new):
            return protocol.err("name", "A profile called '" + new + "' already exists; delete "
                                "it first or choose another name.")
        values, source, why, error = self._read(old)
        if error:
            return error
        try:
            st.rename(old, new)
        except OSError as e:
            return protocol.err("storage", "Could not rename '" + old + "' (error " + _code(e)
                                + "). The settings in use are unchanged.")
        if st.profile == old:
            st.profile = new
        return protocol.ok({"renamed": old, "to": new})

    # ---- state ----

    def _status(self, rest):
        inst = self.inst
        st = self.store
        stats = self.stats
        chans = []
        for ch in inst.channels:
            chans.append({"name": ch.name, "sensor": ch.sensor_type, "kind": ch.kind,
                          "fault": ch.fault_text if ch.fault else None, "pressed": ch.pressed,
                          "level": ch.level})
        cal = self.cal
        return protocol.ok({
            "state": "calibrating" if cal is not None and cal.running else "playing",
            "uptime_s": stats.uptime_ms // 1000, "tick_hz": stats.tick_hz,
            "late_ticks": stats.late_ticks, "config": st.config, "config_reason": st.reason,
            "notes": st.notes, "profile": st.profile, "unsaved": self.unsaved,
            "channels": chans, "midi_dropped": inst.midi.dropped, "errors": inst.errors,
            "mem_free": stats.mem_free, "restarts": stats.restarts, "monitor": self.monitor_hz})

    def _monitor(self, rest):
        if rest.lower() == "off":
            hz = 0
        else:
            try:
                hz = int(rest)
            except ValueError:
                hz = -1
            if hz < 1 or hz > _MONITOR_MAX_HZ:
                return protocol.err("value", "monitor takes a rate from 1 to "
                                    + str(_MONITOR_MAX_HZ) + " (lines a second for each "
                                    "sensor), or off.")
        self.monitor_hz = hz
        self._next_monitor = None
        return protocol.ok({"monitor": hz})

    def _panic(self, rest):
        self.inst.panic()
        return protocol.ok({"panic": True})

    def _maintenance(self, rest):
        try:
            f = open(MAINTENANCE_FLAG, "w")
            try:
                f.write("1")
            finally:
                f.close()
        except OSError as e:
            return protocol.err("storage", "Could not write the maintenance flag (error "
                                + _code(e) + "); the instrument plays on.")
        self.inst.panic()
        self._reboot = True
        self._reboot_at = -1
        return protocol.ok({"maintenance": True})

    # ---- calibration ----

    def _calibrate(self, rest):
        word = rest.lower()
        cal = self.cal
        if not rest:
            if cal is None:
                return protocol.ok({"calibrate": None, "phase": None, "seconds_left": 0,
                                    "message": "", "result": None})
            return protocol.ok({"calibrate": cal.name, "phase": cal.phase,
                                "seconds_left": cal.seconds_left(self._now),
                                "message": cal.message, "result": cal.result})
        if word == "cancel":
            if cal is None or not cal.running and cal.phase != "result":
                return protocol.err("value", "No calibration is running.")
            self.cal = None
            self.write(protocol.notice("calibrate", cal.name + " cancelled Nothing was "
                                       "changed."))
            return protocol.ok({"cancelled": cal.name})
        if word == "apply":
            busy = self._busy()
            if busy:
                return busy
            if cal is None or cal.result is None:
                return protocol.err("value", "There is no calibration result to apply; start "
                                    "one with 'calibrate <sensor>'.")
            r = cal.result
            values = {cal.name + ".range": str(r["range"]),
                      cal.name + ".sensitivity": str(r["sensitivity"])}
            errors = self.settings.apply(values)
            if errors:
                return protocol.err("value", " ".join(errors))
            # no rebaseline: the conditioner already tracks the rest point, and relearning it
            # now would learn a wrong one if the client happens to be pressing
            self.cal = None
            self.unsaved = True
            return protocol.ok({"applied": values})
        busy = self._busy()
        if busy:
            return busy
        names = self.settings.names
        if rest not in names:
            return protocol.err("key", "There is no sensor called '" + rest + "'. Sensors: "
                                + ", ".join(names) + ".")
        i = names.index(rest)
        ch = self.inst.channels[i]
        if ch.kind != "analog":
            return protocol.err("value", "'" + rest + "' is a " + str(ch.kind) + ": only "
                                "analog sensors need calibrating.")
        if ch.fault:
            return protocol.err("value", "The sensor '" + rest + "' is not answering ("
                                + ch.fault_text + "). Check its cable, then try again.")
        self.cal = Calibration(ch)
        self._cal_ch = i
        return protocol.ok({"calibrate": rest, "phase": "rest", "message": self.cal.message})

    # ---- between ticks ----

    def poll(self, now_ms):
        """Between ticks: calibration sampling, fault news, monitor and event lines (from what
        `capture` kept, or else from the packets still queued). Bounded work."""
        self._now = now_ms
        if self._reboot:
            if self._reboot_at < 0:
                self._reboot_at = (now_ms + _REBOOT_MS) & _TICKS_MASK
            elif _since(now_ms, self._reboot_at) >= 0:
                self._reboot = False
                reboot = self.info.get("reboot")
                if reboot is not None:
                    reboot()
                return
        if self._next_check is None or _since(now_ms, self._next_check) >= 0:
            self._next_check = (now_ms + _CHECK_MS) & _TICKS_MASK
            self._check_faults()
        cal = self.cal
        if cal is not None and cal.running:
            ch = self.inst.channels[self._cal_ch]
            if ch.fault:
                change = cal.fail("The sensor stopped answering (" + ch.fault_text + "). Check "
                                  "its cable, then try again.")
            else:
                change = cal.feed(ch.raw, now_ms)
            if change is not None:
                self.write(protocol.notice("calibrate", cal.name + " " + change[0] + " "
                                           + change[1]))
        if self.monitor_hz:
            self._events()
            nxt = self._next_monitor
            if nxt is None or _since(now_ms, nxt) >= 0:
                self._next_monitor = (now_ms + 1000 // self.monitor_hz) & _TICKS_MASK
                self._monitor_lines(now_ms)

    def capture(self):
        """Right after a tick, before its MIDI is sent: copy that tick's packets for the
        `* event` lines (only while monitoring, at most 8 between polls; allocates nothing)."""
        self._capturing = True
        if not self.monitor_hz:
            return
        midi = self.inst.midi
        n = midi.count
        k = self._ev_n
        if n > _EVENTS_PER_POLL - k:
            n = _EVENTS_PER_POLL - k
        src = midi.buf
        dst = self._ev_buf
        i = 0
        while i < n:
            j = i * 4
            d = (k + i) * 4
            dst[d] = src[j]
            dst[d + 1] = src[j + 1]
            dst[d + 2] = src[j + 2]
            dst[d + 3] = src[j + 3]
            self._ev_src[k + i] = midi.src[i]
            i += 1
        self._ev_n = k + n

    def _check_faults(self):
        seen = self._faults
        chans = self.inst.channels
        for i in range(len(chans)):
            ch = chans[i]
            f = ch.fault
            if f != seen[i]:
                if f:
                    self.write(protocol.notice("fault", ch.name + " " + ch.fault_text))
                elif seen[i]:
                    self.write(protocol.notice("info", ch.name + " recovered"))
                seen[i] = f

    def _monitor_lines(self, now_ms):
        t = " t=" + str(now_ms)
        for ch in self.inst.channels:
            self.write("* monitor" + t + " " + ch.name + " raw=" + str(ch.raw) + " level="
                       + str(ch.level) + " trigger=" + str(ch.trigger_level) + " pressed="
                       + str(ch.pressed))

    def _events(self):
        if self._capturing:
            buf = self._ev_buf
            srcs = self._ev_src
            n = self._ev_n
            self._ev_n = 0
        else:  # no capture(): read the tick's packets if they are still queued
            midi = self.inst.midi
            buf = midi.buf
            srcs = midi.src
            n = midi.count
            if n > _EVENTS_PER_POLL:
                n = _EVENTS_PER_POLL
        names = self.settings.names
        for k in range(n):
            i = k * 4
            kind = buf[i + 1] & 0xF0
            d1 = buf[i + 2]
            d2 = buf[i + 3]
            src = srcs[k]
            who = names[src] if src < len(names) else "?"
            if kind == 0x90 and d2:
                text = "note_on " + str(d1) + " " + str(d2)
            elif kind == 0x90 or kind == 0x80:
                text = "note_off " + str(d1) + " " + str(d2)
            elif kind == 0xB0:
                text = "cc " + str(d1) + " " + str(d2)
            elif kind == 0xE0:
                text = "bend " + str((d1 | (d2 << 7)) - 8192)
            elif kind == 0xD0:
                text = "pressure " + str(d1)
            elif kind == 0xA0:
                text = "pressure " + str(d2)
            else:
                continue
            self.write("* event " + who + " " + text)


def _describe(row, scope):
    """One schema row as `params` lists it."""
    kind = row[1]
    d = {"key": row[0], "scope": scope, "type": _TYPES[kind], "min": None, "max": None,
         "choices": None, "default": settings.format_value(row, row[4]), "unit": row[5],
         "help": row[6]}
    if kind == settings.INT or kind == settings.NOTES:
        d["min"] = row[2]
        d["max"] = row[3]
    else:
        d["choices"] = list(row[2])
    return d
