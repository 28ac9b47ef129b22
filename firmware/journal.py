"""Standalone sessions: a compact summary of each session played without a host recording it,
kept in a small power-cut-safe log on flash until a host collects it (`journal`).

Usage: j = Journal(["pad"], ["read_u16"], root="")   # reads journal.log once
       j.pressed(0, onset_ms, hold_ms, peak, level, uptime_ms)  # a press ended, no host
       j.poll(now_ms, quiet)     # between ticks: ends idle sessions, writes when due and quiet
       j.summary(); j.read(seq); j.clear(upto)                  # the `journal` command

A session is play separated by IDLE_END_MS (5 min) without a press, or by a boot; a press the
host saw as a `* act` line (monitor on) is the host's to record and is not counted here.
Write budget (flash wear): a session's new presses are written at the first pause in play
(PAUSE_MS without a press starting or ending), at most once every MIN_GAP_MS (2 min): at most
30 writes an hour; play without pauses is written every SAVE_EVERY_MS (10 min), at a moment
nothing is pressed. A write stalls the loop for some ms, so it never comes mid-press. Most
standalone sessions end with the power switched off: a pause is when their summary is saved.

The file, journal.log (docs/protocol.md "Journal"): text lines, each `<crc32 hex> <json>`:
the header ["attune-journal", layout, next_seq, boots, count], then one record per session
[seq, boot, dur_s, start_s, cut, [[name, unit, count, hold_ms_mean, hold_ms_max, peak_mean,
peak_max, ioi_mean_ms, ioi_sd_ms], ...]], oldest first, at most CAPACITY bytes (the oldest are
dropped). Every write replaces the whole file like store.py's saves: write journal.<seq>.tmp,
then rename it over journal.log (atomic on LittleFS). A power cut part-way leaves the old file
whole and the temporary file named for the session being written: the next start-up reports
that session as cut (its previous save, if any, stays readable).
"""

import json
import os
from time import ticks_diff

from micropython import const
from store import _crc32, file_exists, write_file

LAYOUT = const(1)
CAPACITY = const(4096)  # bytes of journal.log: one LittleFS block, so one erase per write
IDLE_END_MS = const(300000)  # no press for 5 minutes ends a session
PAUSE_MS = const(10000)  # new presses are written after a pause in play this long...
MIN_GAP_MS = const(120000)  # ...at most once in this time (30 writes an hour at most)...
SAVE_EVERY_MS = const(600000)  # ...and without pauses, after this long, when nothing is pressed
_MAX_READ = const(8192)  # a bigger file is read only this far (bounded memory)
_MAGIC = "attune-journal"
_NAME = "journal"

# what the cut flag of a record means
CUT_NONE = const(0)
CUT_PART = const(1)  # the power went while saving a later summary: this is the one before it
CUT_LOST = const(2)  # the power went while saving its first summary: nothing of it is left
_SUM_MAX = const(1 << 29)  # running sums stay small ints (MicroPython's are 31-bit)
_IOI_MAX_MS = const(10000)  # inter-onset gaps up to 10 s count for tempo (as the reports do)


def isqrt(n):
    """The integer square root (Newton), for the inter-onset standard deviation."""
    if n <= 0:
        return 0
    x = n
    y = (x + 1) // 2
    while y < x:
        x = y
        y = (x + n // x) // 2
    return x


def _variance(sq, total, k, mean):
    """The variance of `k` values from their sum and sum of squares, in integers (`mean` is
    total // k). Squaring the floored mean instead (sq // k - mean * mean) is off by up to
    2 * mean: a spread of 0.4 ms read as 41 ms with onsets a second apart. Every term stays a
    small int.

    Usage: sd = isqrt(_variance(sq, total, k, total // k))"""
    r = total - mean * k  # 0 <= r < k: total = mean * k + r
    return (sq - mean * mean * k - 2 * mean * r - r * r // k) // k


def _line(doc):
    text = json.dumps(doc)
    h = hex(_crc32(text.encode()) & 0xFFFFFFFF)[2:]
    return "00000000"[len(h) :] + h + " " + text + "\n"


def _parse(line):
    """The JSON list of one stored line, or None when it fails its checksum or is cut short."""
    if len(line) < 11 or line[-1:] != b"\n" or line[8:9] != b" ":
        return None
    body = line[9:-1]
    try:
        if int(line[:8].decode(), 16) != _crc32(body) & 0xFFFFFFFF:
            return None
        doc = json.loads(body.decode())
    except Exception:  # damaged bytes can fail anywhere: hex, UTF-8, JSON
        return None
    return doc if isinstance(doc, list) and doc else None


def _valid_record(doc):
    return (
        len(doc) >= 6
        and isinstance(doc[0], int)
        and isinstance(doc[5], list)
        and all(isinstance(s, list) and len(s) >= 9 for s in doc[5])
    )


class Session:
    """Running integer sums of one session, per channel. They stay small ints (no heap growth
    in a long session): a sum past _SUM_MAX is halved with its count, which keeps its mean."""

    def __init__(self, seq, boot, n, start_ms, uptime_ms):
        self.seq = seq
        self.boot = boot
        self.start_ms = start_ms
        self.start_s = uptime_ms // 1000
        self.last_ms = start_ms  # the end of the last press
        self.saved_ms = None  # the last write (None: none yet)
        self.dirty = 0  # presses not yet written
        self.count = [0] * n
        self.hold_sum = [0] * n
        self.hold_max = [0] * n
        self.peak_sum = [0] * n
        self.peak_n = [0] * n  # presses in peak_sum (halved with it)
        self.peak_max = [0] * n  # the reading at the press of the highest level...
        self.level_max = [-1] * n  # ...which is this
        self.last_onset = [None] * n
        self.ioi_n = [0] * n
        self.ioi_sum = [0] * n
        self.ioi_sq = [0] * n

    def add(self, i, onset_ms, end_ms, hold_ms, peak, level):
        self.count[i] += 1
        self.hold_sum[i] += hold_ms
        if hold_ms > self.hold_max[i]:
            self.hold_max[i] = hold_ms
        self.peak_sum[i] += peak
        self.peak_n[i] += 1
        if self.peak_sum[i] > _SUM_MAX:
            self.peak_sum[i] >>= 1
            self.peak_n[i] >>= 1
        if level > self.level_max[i]:
            self.level_max[i] = level
            self.peak_max[i] = peak
        last = self.last_onset[i]
        if last is not None:
            d = ticks_diff(onset_ms, last)
            if 0 <= d <= _IOI_MAX_MS:  # a longer gap is a pause, not a tempo
                self.ioi_n[i] += 1
                self.ioi_sum[i] += d
                self.ioi_sq[i] += d * d
                if self.ioi_sq[i] > _SUM_MAX:
                    self.ioi_n[i] >>= 1
                    self.ioi_sum[i] >>= 1
                    self.ioi_sq[i] >>= 1
        self.last_onset[i] = onset_ms
        if ticks_diff(end_ms, self.last_ms) > 0:
            self.last_ms = end_ms
        self.dirty += 1

    def record(self, names, units, cut=CUT_NONE):
        """The stored form: [seq, boot, dur_s, start_s, cut, [sensor rows of played sensors]]."""
        rows = []
        for i in range(len(self.count)):
            n = self.count[i]
            if not n:
                continue
            k = self.ioi_n[i]
            mean = self.ioi_sum[i] // k if k else 0
            sd = isqrt(_variance(self.ioi_sq[i], self.ioi_sum[i], k, mean)) if k else 0
            rows.append(
                [
                    names[i],
                    units[i],
                    n,
                    self.hold_sum[i] // n,
                    self.hold_max[i],
                    self.peak_sum[i] // self.peak_n[i] if self.peak_n[i] else 0,
                    self.peak_max[i],
                    mean,
                    sd,
                ]
            )
        dur = (ticks_diff(self.last_ms, self.start_ms) + 500) // 1000
        return [self.seq, self.boot, dur if dur > 0 else 0, self.start_s, cut, rows]


def as_reply(doc):
    """A stored record as the `journal read` reply object."""
    sensors = []
    for r in doc[5]:
        sensors.append(
            {
                "name": r[0],
                "unit": r[1],
                "count": r[2],
                "hold_ms_mean": r[3],
                "hold_ms_max": r[4],
                "peak_mean": r[5],
                "peak_max": r[6],
                "ioi_mean_ms": r[7],
                "ioi_sd_ms": r[8],
            }
        )
    return {
        "seq": doc[0],
        "boot": doc[1],
        "dur_s": doc[2],
        "start_s": doc[3],
        "cut": doc[4] == CUT_PART,
        "sensors": sensors,
    }


class Log:
    """journal.log on flash: read, and replaced as a whole (atomically) on each write."""

    def __init__(self, root=""):
        self.root = root  # "" (the flash root) or a folder ending in "/"
        self.path = root + _NAME + ".log"
        self.next = 1  # the seq the next new session gets
        self.boots = 0  # the boot number last written
        # [seq, cut flag (CUT_*) or -1 when damaged], oldest first (the records themselves stay
        # on flash: read again when asked for, so RAM holds a few bytes per session)
        self.entries = []
        self.size = 0
        self.cut = None  # (seq, why) of a write the power cut, found at start-up
        self.writes = 0  # files written since start-up (the benchmark counts them)
        self.written = 0  # ... and their bytes
        self.scan()

    def _tmp(self, seq):
        return self.root + _NAME + "." + str(seq) + ".tmp"

    def _lines(self, path):
        """The stored lines of a file (bytes, each with its newline unless cut short)."""
        try:
            f = open(path, "rb")
        except OSError:
            return None
        try:
            data = f.read(_MAX_READ)
        finally:
            f.close()
        out = []
        i = 0
        n = len(data)
        while i < n:
            j = data.find(b"\n", i)
            j = n if j < 0 else j + 1
            out.append(data[i:j])
            i = j
        return out

    def _read(self, lines):
        """(header or None, [[seq, doc or None]]) from stored lines (the first is the header);
        a damaged record gets the seq its place implies (the seqs of a log run up by one)."""
        if not lines:
            return None, []
        head = _parse(lines[0])
        if head is not None and (len(head) < 5 or head[0] != _MAGIC or head[1] != LAYOUT):
            head = None
        docs = []
        for raw in lines[1:]:
            doc = _parse(raw)
            docs.append(doc if doc is not None and _valid_record(doc) else None)
        n = len(docs)
        seqs = [-1] * n
        first = -1
        for k in range(n):
            if docs[k] is not None:
                seqs[k] = docs[k][0]
                if first < 0:
                    first = k
            elif k and seqs[k - 1] >= 0:
                seqs[k] = seqs[k - 1] + 1
        if first < 0 and n:  # nothing readable: number them up to the header's next seq
            first = n - 1
            seqs[first] = (head[2] if head is not None else n + 1) - 1
        k = first - 1
        while k >= 0:
            seqs[k] = seqs[k + 1] - 1
            k -= 1
        return head, [[seqs[k], docs[k]] for k in range(n)]

    def _finished(self, lines):
        """Whether a temporary file holds a whole log (its header counts every record)."""
        if not lines:
            return False
        head, entries = self._read(lines)
        return (
            head is not None
            and head[4] == len(entries)
            and all(e[1] is not None for e in entries)
            and lines[-1][-1:] == b"\n"
        )

    def scan(self):
        """Read journal.log, and finish or report a write the power cut (start-up)."""
        self._recover()
        lines = self._lines(self.path) or []
        head, entries = self._read(lines)
        self.entries = [[e[0], e[1][4] if e[1] is not None else -1] for e in entries]
        self.size = 0
        for raw in lines:
            self.size += len(raw)
        top = 0
        boots = 0
        for seq, doc in entries:
            if seq is not None and seq > top:
                top = seq
            if doc is not None and doc[1] > boots:
                boots = doc[1]
        if head is not None:
            self.next = head[2] if head[2] > top else top + 1
            self.boots = head[3] if head[3] > boots else boots
        else:
            self.next = top + 1
            self.boots = boots
        if self.cut is not None and self.cut[0] >= self.next:
            self.next = self.cut[0] + 1  # the cut session's number is never given again

    def _recover(self):
        """A journal.<seq>.tmp left by a power cut: rename it over the log when it is whole
        (the cut came just before the rename), else remember that session's save was cut."""
        d = self.root[:-1] if self.root else ""
        try:
            files = os.listdir(d) if d else os.listdir()
        except OSError:
            return
        for f in files:
            if not (f.startswith(_NAME + ".") and f.endswith(".tmp")):
                continue
            try:
                seq = int(f[len(_NAME) + 1 : -4])
            except ValueError:
                continue
            path = self.root + f
            if self._finished(self._lines(path)):
                try:
                    os.rename(path, self.path)
                except OSError:
                    pass
            else:
                self.cut = (
                    seq,
                    "The summary of session "
                    + str(seq)
                    + " was being saved when the power went off",
                )

    def find(self, seq):
        """The [seq, flag] entry of `seq`, or None."""
        for e in self.entries:
            if e[0] == seq:
                return e
        return None

    def record(self, seq):
        """The stored record of `seq` (a list), or None when it is damaged or not there."""
        for e in self._read(self._lines(self.path) or [])[1]:
            if e[0] == seq:
                return e[1]
        return None

    def write(self, record=None, upto=None, boots=None, next_seq=None):
        """Replace the log: drop sessions up to `upto`, put `record` (a new or updated
        session) last, mark a cut session, then drop the oldest until it fits CAPACITY.
        Raises OSError when the flash refuses (the old log is then untouched)."""
        lines = self._lines(self.path) or []
        _, old = self._read(lines)
        keep = []  # [seq, stored line bytes]
        body = lines[len(lines) - len(old) :] if old else []
        cut = self.cut
        for k in range(len(old)):
            seq, doc = old[k]
            if seq is None or (upto is not None and seq <= upto):
                continue
            if record is not None and seq == record[0]:
                continue
            raw = body[k]
            if cut is not None and seq == cut[0] and doc is not None and doc[4] == CUT_NONE:
                doc[4] = CUT_PART
                raw = _line(doc).encode()
            keep.append([seq, raw])
        if cut is not None and (upto is None or cut[0] > upto):
            if not any(e[0] == cut[0] for e in keep) and (record is None or record[0] != cut[0]):
                lost = [cut[0], self.boots, 0, 0, CUT_LOST, []]
                keep.append([cut[0], _line(lost).encode()])
        if record is not None:
            keep.append([record[0], _line(record).encode()])
        keep.sort(key=lambda e: e[0])
        if boots is not None and boots > self.boots:
            self.boots = boots
        if next_seq is not None and next_seq > self.next:
            self.next = next_seq
        while True:
            head = _line([_MAGIC, LAYOUT, self.next, self.boots, len(keep)]).encode()
            total = len(head)
            for e in keep:
                total += len(e[1])
            if total <= CAPACITY or not keep:
                break
            keep.pop(0)  # the oldest session makes room
        data = head + b"".join(e[1] for e in keep)
        seq = record[0] if record is not None else self.next
        tmp = self._tmp(seq)
        write_file(tmp, data)  # ENOSPC on a full flash: the old log is untouched
        os.rename(tmp, self.path)
        # the write went through: a stale temporary file of another session is no news now
        if cut is not None:
            stale = self._tmp(cut[0])
            if stale != tmp and file_exists(stale):
                os.remove(stale)
            self.cut = None
        self.writes += 1
        self.written += len(data)
        self.scan()


class Journal:
    """The session being played and the log of earlier ones, for one console."""

    def __init__(self, names, units, root=""):
        self.names = names
        self.units = units
        self.log = Log(root)
        self.boot = self.log.boots + 1  # written with the next save
        self.cur = None  # the Session being played (not written since its last change)
        self.last_ms = None  # the last press start or end seen (hosted ones too)
        self.error = ""  # why the last write failed ("" if it did not)

    # ---- play (between ticks) ----

    def touched(self, now_ms):
        """A press started or ended (hosted or not): a write waits for quiet."""
        self.last_ms = now_ms

    def pressed(self, i, onset_ms, end_ms, hold_ms, peak, level, uptime_ms):
        """A press of channel i ended with no host recording it."""
        cur = self.cur
        if cur is None:
            cur = Session(self.log.next, self.boot, len(self.names), onset_ms, uptime_ms)
            self.log.next += 1
            self.cur = cur
        cur.add(i, onset_ms, end_ms, hold_ms, peak, level)

    def poll(self, now_ms, pressed):
        """Between ticks: write the session's new presses when the budget allows and nothing
        is pressed (see the module's docstring); forget an idle session. True when it wrote."""
        cur = self.cur
        if cur is None:
            return False
        if not cur.dirty:
            if ticks_diff(now_ms, cur.last_ms) >= IDLE_END_MS:
                self.cur = None  # a new press starts a new session
            return False
        if pressed:
            return False
        if cur.saved_ms is None:  # the first write: at its first pause (the gap is met)
            since = ticks_diff(now_ms, cur.start_ms) + MIN_GAP_MS
        else:
            since = ticks_diff(now_ms, cur.saved_ms)
        if since < MIN_GAP_MS:
            return False
        if since < SAVE_EVERY_MS and (
            self.last_ms is not None and ticks_diff(now_ms, self.last_ms) < PAUSE_MS
        ):
            return False
        self.save(now_ms)
        return True

    def save(self, now_ms):
        """Write the session being played now (its summary so far)."""
        cur = self.cur
        if cur is None:
            return
        try:
            self.log.write(cur.record(self.names, self.units), None, self.boot, self.log.next)
            self.error = ""
        except OSError as e:
            self.error = "the flash refused the write (error " + str(e.args[0]) + ")"
        # (a failed write is not retried before the next interval: the flash is spared)
        cur.saved_ms = now_ms
        cur.dirty = 0

    # ---- the command ----

    def _current(self):
        cur = self.cur
        return cur if cur is not None and cur.count and sum(cur.count) else None

    def seqs(self):
        out = [e[0] for e in self.log.entries if e[0] is not None]
        cur = self._current()
        if cur is not None and cur.seq not in out:
            out.append(cur.seq)
        cut = self.log.cut
        if cut is not None and cut[0] not in out:
            out.append(cut[0])
        out.sort()
        return out

    def summary(self):
        seqs = self.seqs()
        return {
            "sessions": len(seqs),
            "first": seqs[0] if seqs else None,
            "last": seqs[-1] if seqs else None,
            "bytes": self.log.size,
            "capacity": CAPACITY,
            "boot": self.boot,
        }

    def read(self, seq):
        """(reply dict, None), (None, "corrupt words") or (None, None) for no such session."""
        cur = self._current()
        cut = self.log.cut
        if cur is not None and cur.seq == seq:
            return as_reply(cur.record(self.names, self.units)), None
        e = self.log.find(seq)
        doc = self.log.record(seq) if e is not None and e[1] >= 0 else None
        if doc is not None:
            if doc[4] == CUT_LOST:
                return None, (
                    "The summary of session "
                    + str(seq)
                    + " was cut short by a power cut while it was being saved; nothing of it is "
                    "left. The other sessions are intact."
                )
            if cut is not None and cut[0] == seq and doc[4] == CUT_NONE:
                doc = list(doc)
                doc[4] = CUT_PART
            return as_reply(doc), None
        if e is not None:
            return None, (
                "The summary of session "
                + str(seq)
                + " is damaged (its checksum does not match) and cannot be read. The other "
                "sessions are intact."
            )
        if cut is not None and cut[0] == seq:
            return None, (cut[1] + "; nothing of it is left. The other sessions are intact.")
        return None, None

    def clear(self, upto):
        """Forget sessions up to `upto` (the host has stored them). Returns how many."""
        n = 0
        for s in self.seqs():
            if s <= upto:
                n += 1
        on_flash = any(e[0] is not None and e[0] <= upto for e in self.log.entries)
        cut = self.log.cut
        if on_flash or (cut is not None and cut[0] <= upto):
            self.log.write(None, upto)  # (raises OSError: then nothing is forgotten)
        cur = self.cur
        if cur is not None and cur.seq <= upto:
            self.cur = None  # its presses were collected: later play is a new session
        return n
