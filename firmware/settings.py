"""THE settings schema: every tunable, declared once, with type, range, default, unit and help.

Usage: s = Settings(("switch", "pad")); s.set("pad.sensitivity", "80"); s.ch[1].sensitivity

Values live as ints on plain objects (`s.glob`, `s.ch[i]`) that the engine reads every tick,
so a `set` takes effect on the next tick. `s.version` goes up on every change: stages compare
it to recompute derived values outside the per-sample maths.
"""

from engine.modes import MODES as _PLAY_MODES

# Kinds of value. Choices and switches are stored as their index; notes as a bytes of MIDI notes.
INT = 0
CHOICE = 1
ONOFF = 2
NOTES = 3

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
SCALES = (
    "major",
    "minor",
    "harmonic_minor",
    "major_pentatonic",
    "minor_pentatonic",
    "blues",
    "dorian",
    "mixolydian",
    "whole_tone",
    "chromatic",
)
# play modes, named by the registry of engine.modes (a `mode` setting indexes it)
MODES = tuple(m.name for m in _PLAY_MODES)
CHORDS = ("triad", "seventh", "power")
VELOCITY_SOURCES = ("fixed", "speed", "pressure")
CURVES = ("linear", "soft", "hard")
ON_OFF = ("off", "on")

VEL_FIXED = 0
VEL_SPEED = 1
VEL_PRESSURE = 2

MAX_MELODY = 32


def _modes_help():
    # "What a movement does: note, ..., or latch (press on, press again off)." from the modes
    words = []
    for m in _PLAY_MODES:
        words.append(m.name + " (" + m.help + ")" if m.help else m.name)
    return "What a movement does: " + ", ".join(words[:-1]) + ", or " + words[-1] + "."


# (key, kind, low or choices, high, default, unit, help)
# fmt: off
GLOBAL = (
    ("channel", INT, 1, 16, 1, "", "MIDI channel the instrument plays on."),
    ("scale", CHOICE, SCALES, 0, 3, "",
     "Scale every note is locked to, so no note sounds wrong."),
    ("root", CHOICE, NOTE_NAMES, 0, 0, "", "Key note of the scale."),
    ("octave", INT, 1, 7, 4, "", "Octave of the lowest note (4 holds middle C)."),
    ("transpose", INT, -12, 12, 0, "semitones",
     "Moves every note up or down; the scale moves with it."),
    ("velocity_min", INT, 1, 127, 40, "",
     "Quietest note: the softest movement plays this loud."),
    ("velocity_max", INT, 1, 127, 110, "",
     "Loudest note: no movement plays louder, so nothing startles."),
)

CHANNEL = (
    ("enabled", ONOFF, ON_OFF, 0, 1, "", "Whether this sensor plays at all."),
    ("mode", CHOICE, MODES, 0, 0, "", _modes_help()),
    ("sensitivity", INT, 1, 100, 75, "%",
     "How light a touch plays: 100 plays just above the sensor's noise, 1 needs half the range."),
    ("range", INT, 1, 100, 100, "% of sensor",
     "How far the client can move, as a share of the sensor's full span. Calibrate sets it."),
    ("smoothing", INT, 0, 100, 30, "%",
     "Steadies a shaky signal; it adapts, so quick movements stay quick."),
    ("dwell", INT, 0, 1000, 0, "ms",
     "A press must last this long before it plays (adds this much delay). For spasms."),
    ("lockout", INT, 0, 2000, 0, "ms",
     "After a note ends, ignore new presses for this long. For tremor and repeated jerks."),
    ("tremor_guard", ONOFF, ON_OFF, 0, 1, "",
     "Learns the size of a shake and plays only movements bigger than it."),
    ("debounce", INT, 0, 100, 15, "ms",
     "Switches only: ignore contact bounce this long after a change (adds no delay)."),
    ("degree", INT, 1, 22, 1, "",
     "Which note of the scale this sensor plays (1 = the key note; 8 an octave up in most "
     "scales)."),
    ("chord", CHOICE, CHORDS, 0, 0, "", "Chord built on that note in chord mode."),
    ("melody", NOTES, 1, MAX_MELODY, b"\x3c\x3e\x40\x43\x45\x43\x40\x3e", "notes",
     "Sequence mode: the notes played one per press, then from the start again."),
    ("zones", INT, 2, 16, 5, "",
     "Zones mode: how many notes the movement range is split into."),
    ("velocity", CHOICE, VELOCITY_SOURCES, 0, 1, "",
     "How loud a note is: fixed, from the speed of the movement, or from how hard."),
    ("curve", CHOICE, CURVES, 0, 0, "",
     "Loudness response: linear, soft (gentle movements louder) or hard."),
    ("fixed_velocity", INT, 1, 127, 90, "",
     "Loudness used when velocity is fixed (kept between velocity_min and velocity_max)."),
    ("cc", INT, 0, 119, 11, "", "Controller number in cc mode (1 modulation, 11 expression)."),
    ("cc_min", INT, 0, 127, 0, "", "Controller value at rest."),
    ("cc_max", INT, 0, 127, 127, "", "Controller value at full movement."),
    ("invert", ONOFF, ON_OFF, 0, 0, "",
     "Turns the continuous output upside down (cc, bend, pressure, zones)."),
    ("deadband", INT, 0, 20, 1, "steps",
     "Continuous modes: ignore changes this small, so a still hand sends nothing."),
)
# fmt: on


def find(table, key):
    """The schema row for `key` in `table`, or None."""
    for row in table:
        if row[0] == key:
            return row
    return None


def note_name(n):
    """MIDI note number -> 'C4' style name (60 = C4)."""
    return NOTE_NAMES[n % 12] + str(n // 12 - 1)


# Text from serial and from stored profiles is read the same way on MicroPython and CPython:
# their int(), str.strip(), str.split() and str.isdigit() differ (spaces other than ASCII,
# underscores, digits of other scripts), and the simulator must accept exactly what a Pico does.
_SPACE = " \t\r\n"


def _number(text):
    """Decimal ASCII digits with an optional + or - -> int, else None (no spaces inside, no
    underscores, no 0x, no other scripts' digits: the same answer on both interpreters)."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits:
        return None
    n = 0
    for c in digits:
        if c < "0" or c > "9":
            return None
        n = n * 10 + ord(c) - 48
    return -n if text[:1] == "-" else n


def _words(text):
    """`text` split at ASCII spaces, tabs and line ends only."""
    for c in "\t\r\n":
        text = text.replace(c, " ")
    return [w for w in text.split(" ") if w]


def _ascii(text):
    """`text` if it is all ASCII, else "" (which matches no name): .lower() and .upper() of
    other letters differ between the interpreters."""
    for c in text:
        if c > "~":
            return ""
    return text


def parse_note(text):
    """'C4', 'F#3', 'Bb2' or '60' -> MIDI note number, or None."""
    t = _ascii(text.strip(_SPACE))
    if not t:
        return None
    n = _number(t) if t[0] != "+" and t[0] != "-" else None
    if n is not None:
        return n if n <= 127 else None
    name = t[0].upper()
    rest = t[1:]
    if name not in "CDEFGAB":
        return None
    pc = NOTE_NAMES.index(name)
    if rest[:1] == "#":
        pc += 1
        rest = rest[1:]
    elif rest[:1] == "b":
        pc -= 1
        rest = rest[1:]
    octave = _number(rest) if rest[:1] != "+" else None
    if octave is None:
        return None
    n = (octave + 1) * 12 + pc
    return n if 0 <= n <= 127 else None


def _describe(row):
    """Allowed values of a row, in words."""
    kind = row[1]
    if kind == INT:
        return "a whole number from " + str(row[2]) + " to " + str(row[3])
    if kind == NOTES:
        return "1 to " + str(row[3]) + " notes such as C4 D4 E4 or 60 62 64"
    return "one of " + ", ".join(row[2])


def convert(row, value):
    """Check `value` (text, int or bytes) against a schema row.

    Returns (stored_value, None) or (None, reason in plain words).
    """
    key, kind = row[0], row[1]
    if isinstance(value, (bytes, bytearray)) and kind != NOTES:
        try:
            value = bytes(value).decode()
        except Exception:  # not UTF-8 (MicroPython and CPython raise different errors)
            return None, key + " must be " + _describe(row) + "."
    if kind == INT:
        v = value if isinstance(value, int) else _number(str(value).strip(_SPACE))
        if v is None:
            return None, key + " must be " + _describe(row) + ", not '" + str(value) + "'."
        if v < row[2] or v > row[3]:
            return None, key + " must be " + _describe(row) + "; " + str(v) + " is out of range."
        return v, None
    if kind == NOTES:
        if isinstance(value, (bytes, bytearray)):
            notes = bytes(value)
        else:
            parts = _words(str(value).replace(",", " "))
            out = bytearray()
            for p in parts:
                n = parse_note(p)
                if n is None:
                    return None, key + ": '" + p + "' is not a note (use C4, F#3 or 60)."
                out.append(n)
            notes = bytes(out)
        if not 1 <= len(notes) <= row[3] or max(notes) > 127:
            return None, key + " must be " + _describe(row) + "."
        return notes, None
    # CHOICE and ONOFF: accept the name, in any case (on/off also as 1/0, yes/no, true/false)
    names = row[2]
    text = _ascii(str(value).strip(_SPACE)).lower()
    if kind == ONOFF and text in ("1", "true", "yes"):
        text = "on"
    if kind == ONOFF and text in ("0", "false", "no"):
        text = "off"
    for i, name in enumerate(names):
        if text == name.lower():
            return i, None
    return None, key + " must be " + _describe(row) + ", not '" + str(value) + "'."


def format_value(row, v):
    """A stored value as the text a therapist sees (and `set` accepts back)."""
    kind = row[1]
    if kind == INT:
        return str(v)
    if kind == NOTES:
        return " ".join(note_name(n) for n in v)
    return row[2][v]


class Values:
    """A plain holder of one table's values, read as attributes by the engine."""


def _fill(obj, table):
    for row in table:
        setattr(obj, row[0], row[4])


class Settings:
    """All settings of one instrument: `glob` for global keys, `ch[i]` per sensor channel."""

    def __init__(self, channel_names):
        self.names = tuple(channel_names)
        self.glob = Values()
        _fill(self.glob, GLOBAL)
        self.ch = []
        for _ in self.names:
            v = Values()
            _fill(v, CHANNEL)
            self.ch.append(v)
        self.version = 0

    def _locate(self, key):
        """Key -> (holder, row, channel index or -1), or (None, reason, -1)."""
        if "." in key:
            name, sub = key.split(".", 1)
            if name not in self.names:
                return (
                    None,
                    (
                        "There is no sensor called '"
                        + name
                        + "'. Sensors: "
                        + ", ".join(self.names)
                        + "."
                    ),
                    -1,
                )
            row = find(CHANNEL, sub)
            if row is None:
                return None, "'" + sub + "' is not a sensor setting.", -1
            i = self.names.index(name)
            return self.ch[i], row, i
        row = find(GLOBAL, key)
        if row is None:
            hint = ""
            if find(CHANNEL, key) is not None:
                hint = " It is a sensor setting: use " + self.names[0] + "." + key + "."
            return None, "'" + key + "' is not a setting." + hint, -1
        return self.glob, row, -1

    def keys(self):
        """Every key, globals first, then each channel's keys as 'name.key'."""
        out = [row[0] for row in GLOBAL]
        for name in self.names:
            for row in CHANNEL:
                out.append(name + "." + row[0])
        return out

    def row(self, key):
        """The schema row for a full key, or None."""
        holder, row, _ = self._locate(key)
        return row if holder is not None else None

    def get(self, key):
        """(text value, None) or (None, reason)."""
        holder, row, _ = self._locate(key)
        if holder is None:
            return None, row
        return format_value(row, getattr(holder, row[0])), None

    def check(self, key, value):
        """Validate without changing anything: (stored value, None) or (None, reason)."""
        holder, row, i = self._locate(key)
        if holder is None:
            return None, row
        v, err = convert(row, value)
        if err:
            return None, err
        # cross-key rules
        lo_hi = (("velocity_min", "velocity_max"), ("cc_min", "cc_max"))
        for lo, hi in lo_hi:
            if row[0] == lo and v > getattr(holder, hi):
                return None, (
                    lo
                    + " ("
                    + str(v)
                    + ") cannot be above "
                    + hi
                    + " ("
                    + str(getattr(holder, hi))
                    + ")."
                )
            if row[0] == hi and v < getattr(holder, lo):
                return None, (
                    hi
                    + " ("
                    + str(v)
                    + ") cannot be below "
                    + lo
                    + " ("
                    + str(getattr(holder, lo))
                    + ")."
                )
        return v, None

    def set(self, key, value):
        """Validate and apply one setting. Returns None, or the reason it was refused."""
        v, err = self.check(key, value)
        if err:
            return err
        holder, row, _ = self._locate(key)
        setattr(holder, row[0], v)
        self.version += 1
        return None

    def apply(self, values):
        """Apply a dict of key -> value all or nothing. Returns [] or a list of reasons.

        Pairs such as velocity_min/max are checked against each other's new values.
        """
        backup = self.to_dict()
        errors = []
        # twice, so that a new min and a new max are each checked against the other's new value
        for _ in (0, 1):
            errors = []
            for key in values:
                err = self.set(key, values[key])
                if err:
                    errors.append(err)
        if errors:
            self.load_dict(backup)
        return errors

    def to_dict(self):
        """Every value as text, keyed like `set` takes them (what a profile stores)."""
        out = {}
        for key in self.keys():
            out[key] = self.get(key)[0]
        return out

    def load_dict(self, values):
        """Set values known to be valid (e.g. a backup), bypassing the cross-key rules."""
        for key in values:
            holder, row, _ = self._locate(key)
            if holder is not None:
                v, err = convert(row, values[key])
                if err is None:
                    setattr(holder, row[0], v)
        self.version += 1

    def reset(self):
        """Every setting back to its default."""
        _fill(self.glob, GLOBAL)
        for v in self.ch:
            _fill(v, CHANNEL)
        self.version += 1
