"""`journal`: the standalone sessions kept on flash (firmware/journal.py); and, between ticks,
each press as it ends: a `* act` line while the monitor is on (the host records it), else
counted in the standalone session.

    * act <sensor> t=<ms at the onset> hold=<ms> vel=<0..127> peak=<reading> level=<0..16383>

`t` is on the `* monitor t=` clock (ticks_ms); `peak` is the sensor's reading at the press's
highest level, in the sensor's own unit (read_u16, mm, Pa; 1 for a switch).
"""

from time import ticks_add, ticks_diff

import protocol
import sensors
from journal import Journal

from commands import between_ticks, code, command, start


def _unit(ch):
    try:
        return sensors.find(ch.sensor_type)["unit"]
    except ValueError:  # a type the registry does not list (tests' fakes)
        return "pressed" if ch.kind == "switch" else "raw"


def _root(con):
    """The flash folder the profiles' store writes to ("" on the Pico: the flash root)."""
    store = getattr(con.profiles, "store", None)
    base = getattr(store, "active_base", "") or ""
    return base[: base.rfind("/") + 1]


class Acts:
    """The onsets of presses in progress on the ms clock, per channel (for holds longer than
    ticks_us reaches, ~9 minutes), and the presses count last seen."""

    def __init__(self, n):
        self.seen = 0
        self.us = [0] * n  # the onset (ticks_us) that `ms` belongs to
        self.ms = [0] * n
        self.known = bytearray(n)


@start
def _start(con):
    chans = con.inst.channels
    con.journal = Journal([ch.name for ch in chans], [_unit(ch) for ch in chans], _root(con))
    con.acts = Acts(len(chans))


@between_ticks(25)
def _presses(con, now_ms):
    inst = con.inst
    act = inst.activity
    acts = con.acts
    j = con.journal
    now_us = inst.now_us
    if act.presses != acts.seen:  # a press started since the last poll: note its onset
        acts.seen = act.presses
        j.touched(now_ms)
        for i in range(len(acts.us)):
            if act.on[i] and (not acts.known[i] or acts.us[i] != act.onset[i]):
                acts.us[i] = act.onset[i]
                acts.ms[i] = ticks_add(now_ms, -(ticks_diff(now_us, act.onset[i]) // 1000))
                acts.known[i] = 1
    if act.n:
        monitor = con.telemetry.monitor_hz
        names = con.settings.names
        uptime = con.stats.uptime_ms
        j.touched(now_ms)
        while act.n:
            k = act.head
            i = act.ch[k]
            t0 = act.t0[k]
            t1 = act.t1[k]
            if acts.known[i] and acts.us[i] == t0:
                onset = acts.ms[i]
            else:
                onset = ticks_add(now_ms, -(ticks_diff(now_us, t0) // 1000))
            end = now_ms if t1 < 0 else ticks_add(now_ms, -(ticks_diff(now_us, t1) // 1000))
            hold = ticks_diff(end, onset)
            if t1 >= 0 and hold < 400000:  # within ticks_us's reach: to the microsecond
                hold = ticks_diff(t1, t0) // 1000
            if hold < 0:
                hold = 0
            if monitor:
                con.write(
                    "* act "
                    + (names[i] if i < len(names) else "?")
                    + " t="
                    + str(onset)
                    + " hold="
                    + str(hold)
                    + " vel="
                    + str(act.vel[k])
                    + " peak="
                    + str(act.raw[k])
                    + " level="
                    + str(act.level[k])
                )
            else:
                up = uptime - ticks_diff(now_ms, onset)  # (uptime at the onset)
                j.pressed(i, onset, end, hold, act.raw[k], act.level[k], up if up > 0 else 0)
            act.pop()
    if j.cur is not None:
        on = act.on
        pressed = 0
        for i in range(len(on)):
            pressed |= on[i]
        j.poll(now_ms, pressed)


def _seq(word):
    try:
        n = int(word)
    except ValueError:
        return None
    return n if n >= 0 else None


@command("journal", "journal", "journal read <seq>", "journal clear <seq>")
def journal(con, rest):
    j = con.journal
    words = rest.split()
    if not words:
        return protocol.ok(j.summary())
    verb = words[0].lower()
    if verb not in ("read", "clear") or len(words) != 2:
        return protocol.err(
            "usage",
            "Use 'journal' for the list of sessions, 'journal read <seq>' for one session, or "
            "'journal clear <seq>' to forget the sessions up to that one.",
        )
    seq = _seq(words[1])
    if seq is None:
        return protocol.err(
            "value", "'" + words[1] + "' is not a session number; 'journal' lists them."
        )
    if verb == "read":
        doc, bad = j.read(seq)
        if doc is not None:
            return protocol.ok(doc)
        if bad is not None:
            return protocol.err("corrupt", bad)
        seqs = j.seqs()
        return protocol.err(
            "value",
            "There is no session "
            + str(seq)
            + " in the journal"
            + (
                " (it holds " + str(seqs[0]) + " to " + str(seqs[-1]) + ")."
                if seqs
                else "; it is empty."
            ),
        )
    try:
        n = j.clear(seq)
    except OSError as e:
        return protocol.err(
            "storage",
            "The journal could not be written (error "
            + code(e)
            + "); nothing was forgotten. Try again.",
        )
    return protocol.ok({"cleared": n})
