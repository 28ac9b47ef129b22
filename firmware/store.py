"""Profiles on flash: atomic save with a backup and a checksum; load falls back to the backup.

Usage: st = Store("0.1.0"); st.save("anna", s.to_dict()); values, source, why = st.load("anna")

Files (paths relative to the current folder, which is the flash root on the Pico):
  profiles/<name>.json  the profile: {"layout", "firmware", "name", "values", "crc"}
  profiles/<name>.bak   the previous good version
  profiles/<name>.tmp   a save under way (complete and closed before it replaces anything)
  active.json / .bak    the profile to load at start-up, saved the same way
A save writes the temporary file, then moves the current good copy to the backup, then renames
the temporary file over the current name: a power cut after any step leaves a good old or new
copy (docs/protocol.md explains the steps). Slow (a flash erase stalls ~45 ms): call it only
between ticks, only when asked.
"""

import binascii
import json
import os

from micropython import const
from protocol import valid_name

LAYOUT = const(1)  # the stored format; a file of another layout is not misread
_MAX_FILE = const(8192)  # bytes; a bigger file is treated as damaged (bounded memory)
_FOLDER = "profiles"
_ACTIVE = "active"


def _crc32_slow(data):
    """CRC-32 (IEEE), for MicroPython builds without binascii.crc32."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


_crc32 = getattr(binascii, "crc32", None) or _crc32_slow


def _quote(text):
    """A JSON string, escaped the same way on MicroPython and CPython (their json differs)."""
    out = ['"']
    for c in text:
        if " " <= c <= "~" and c != '"' and c != "\\":
            out.append(c)
        else:
            h = hex(ord(c))[2:]
            out.append("\\u" + "0000"[len(h) :] + h)
    out.append('"')
    return "".join(out)


def canonical(values):
    """The canonical JSON of a {key: text} dict: keys sorted, fixed spacing and escaping."""
    parts = []
    for key in sorted(values):
        parts.append(_quote(key) + ": " + _quote(values[key]))
    return "{" + ", ".join(parts) + "}"


def checksum(values):
    """CRC-32 of the canonical JSON of `values`."""
    return _crc32(canonical(values).encode()) & 0xFFFFFFFF


def write_file(path, data):
    """Write bytes to a file whole, or raise OSError(28). Usage: write_file(tmp, data)

    A short write means the flash is full: raise ENOSPC so the caller leaves its old copy
    alone (it writes a temporary file and renames it over the old one only on success).
    """
    f = open(path, "wb")
    try:
        n = f.write(data)
    finally:
        f.close()
    if n is not None and n != len(data):
        raise OSError(28)  # ENOSPC


def file_exists(path):
    """Whether a file is there (MicroPython has no os.path)."""
    try:
        os.stat(path)
        return True
    except OSError:
        return False


class Store:
    """Profiles and the active-profile pointer on flash (files only: the profile in use and
    where it came from are profiles.py's).

    `folder` holds the profiles and `active` names the start-up pointer's files (relative to
    the current folder, the flash root on the Pico).
    """

    def __init__(self, firmware="", folder=_FOLDER, active=_ACTIVE):
        self.firmware = firmware
        self.folder = folder
        self.active_base = active
        self._pointer = None  # last known stored active name ("" = none), None = not read yet

    def _base(self, name):
        return self.folder + "/" + name

    # ---- reading ----

    def _read(self, path):
        """(values, None) from a good file, or (None, why it was refused)."""
        try:
            size = os.stat(path)[6]
        except OSError:
            return None, "missing"
        if size == 0:
            return None, "empty"
        if size > _MAX_FILE:
            return None, "too big (" + str(size) + " bytes)"
        try:
            f = open(path, "rb")
            try:
                data = f.read(_MAX_FILE + 1)
            finally:
                f.close()
        except OSError as e:
            return None, "unreadable (error " + str(e.args[0] if e.args else "") + ")"
        try:
            doc = json.loads(data.decode())
        except Exception:  # garbage can fail anywhere: bad UTF-8, bad JSON, too deep
            return None, "not valid JSON (damaged or cut short)"
        if not isinstance(doc, dict):
            return None, "not a profile"
        layout = doc.get("layout")
        if layout != LAYOUT:
            if isinstance(layout, int) and layout > LAYOUT:
                return None, (
                    "made by newer firmware (layout "
                    + str(layout)
                    + "); this firmware reads layout "
                    + str(LAYOUT)
                )
            return None, "not a profile of a known layout"
        values = doc.get("values")
        if not isinstance(values, dict):
            return None, "has no values"
        for key in values:
            if not isinstance(key, str) or not isinstance(values[key], str):
                return None, "has a value that is not text"
        if doc.get("crc") != checksum(values):
            return None, "damaged (its checksum does not match)"
        return values, None

    def _load(self, base):
        """(values, source, reason) trying base.json, then .bak, then a finished .tmp.

        source is "saved" or "backup"; (None, "missing", reason) if there is no file at all,
        (None, "defaults", reason) if every copy is damaged.
        """
        why = []
        found = False
        for ext, source in ((".json", "saved"), (".bak", "backup"), (".tmp", "backup")):
            values, bad = self._read(base + ext)
            if values is not None:
                if why:
                    return values, source, "; ".join(why) + "; used " + base + ext + "."
                return values, source, ""
            if ext == ".tmp":
                break  # a torn temporary file is an unfinished save, not damage
            if bad != "missing":
                found = True
                why.append(base + ext + " is " + bad)
            elif ext == ".json":
                why.append(base + ".json is missing")
        if not found:
            return None, "missing", "There is nothing saved at " + base + "."
        return None, "defaults", "; ".join(why) + "."

    def load(self, name):
        """A profile's values: (values, "saved"/"backup", reason) or (None, why, reason).

        why is "missing" (no such profile) or "defaults" (every copy is damaged).
        """
        return self._load(self._base(name))

    def names(self):
        """Profiles on flash (with a current or backup copy), sorted."""
        try:
            files = os.listdir(self.folder)
        except OSError:
            return []
        out = []
        for f in files:
            dot = f.rfind(".")
            ext = f[dot:]
            if dot > 0 and (ext == ".json" or ext == ".bak" or ext == ".tmp"):
                name = f[:dot]
                if (
                    name not in out
                    and valid_name(name)
                    and (ext != ".tmp" or self._read(self._base(f))[0] is not None)
                ):
                    out.append(name)
        out.sort()
        return out

    def exists(self, name):
        """True if the profile has a current or backup copy (or a finished save under way)."""
        base = self._base(name)
        return (
            file_exists(base + ".json")
            or file_exists(base + ".bak")
            or self._read(base + ".tmp")[0] is not None
        )

    def active(self):
        """The name of the profile to load at start-up, or None."""
        return self.pointer()[0]

    def pointer(self):
        """The start-up pointer and how it was read: (name or None, source, reason).

        source is "saved", "backup" (active.json missing or damaged: its backup was used),
        "missing" (none set), "defaults" (every copy damaged) or "name" (it holds no usable
        name); reason says which file was refused and why.
        """
        values, source, why = self._load(self.active_base)
        name = values.get("profile", "") if values else ""
        if values is not None and not valid_name(name) and name != "":
            source = "name"
            why = "it names no usable profile"
        if not valid_name(name):
            name = ""
        self._pointer = name
        return name or None, source, why

    # ---- writing (each may raise OSError: the flash refused; the settings in use are unchanged)

    def _commit(self, base, name, values):
        """Atomic save of one document. Step order, and what a power cut after it leaves:
        0 only if base.tmp is the sole good copy: rename it over base.json (see below)
        1 write base.tmp and close it      -> base.json (old) untouched
        2 rename base.json over base.bak   -> base.bak (old) and base.tmp (new), both whole
          (a damaged base.json is removed instead, so it never replaces a good backup)
        3 rename base.tmp over base.json   -> base.json (new) and base.bak (old)
        LittleFS renames atomically, so each step is all or nothing.
        """
        doc = {
            "layout": LAYOUT,
            "firmware": self.firmware,
            "name": name,
            "values": values,
            "crc": checksum(values),
        }
        data = json.dumps(doc).encode()
        tmp = base + ".tmp"
        cur = base + ".json"
        good = self._read(cur)[0] is not None
        if not good and self._read(base + ".bak")[0] is None and self._read(tmp)[0] is not None:
            # step 0: a save cut just before its last rename left its only good copy in
            # base.tmp (load reads it from there); move it to base.json before step 1
            # overwrites base.tmp, or a second cut during that write would lose it
            os.rename(tmp, cur)
            good = True
        write_file(tmp, data)  # step 1
        if good:
            os.rename(cur, base + ".bak")
        elif file_exists(cur):
            os.remove(cur)
        os.rename(tmp, cur)

    def save(self, name, values):
        """Save a profile's values ({key: text}) atomically, keeping the previous as backup."""
        try:
            os.mkdir(self.folder)
        except OSError:
            pass  # already there (or the flash is read-only: the open below says so)
        self._commit(self._base(name), name, values)

    def set_active(self, name):
        """Make `name` (or None) the profile loaded at start-up. Writes only on a change."""
        name = name or ""
        if self._pointer is None:
            self.active()
        if name == self._pointer:
            return
        self._commit(self.active_base, _ACTIVE, {"profile": name})
        self._pointer = name

    def delete(self, name):
        """Remove a profile and its backup. An interrupted delete leaves it loadable."""
        base = self._base(name)
        for ext in (".tmp", ".bak", ".json"):
            if file_exists(base + ext):
                os.remove(base + ext)

    def rename(self, old, new):
        """Copy `old` to `new` (atomically), move the start-up pointer, then delete `old`.

        Returns the source ("saved"/"backup") the values came from, or raises OSError.
        A power cut part way leaves both names, never neither.
        """
        values, source, _ = self.load(old)
        if values is None:
            raise OSError(2)
        self.save(new, values)
        if self.active() == old:
            self.set_active(new)
        self.delete(old)
        return source
