"""Text a therapist or a stored profile may give a setting, and what firmware/settings.py must
make of it on BOTH interpreters: check_settings.py runs these in the MicroPython VM and
tests/test_settings_text.py on CPython (their int(), strip(), split() and isdigit() differ).

Each case: (key, text, the stored value as `get` shows it, or None for refused).
"""

CASES = (
    ("pad.sensitivity", "80", "80"),
    ("pad.sensitivity", " 7", "7"),
    ("pad.sensitivity", "7 ", "7"),
    ("pad.sensitivity", "\t9\r\n", "9"),
    ("pad.sensitivity", "+5", "5"),
    ("pad.sensitivity", "07", "7"),
    ("transpose", "-3", "-3"),
    ("transpose", "-0", "0"),
    ("pad.sensitivity", "0x10", None),
    ("pad.sensitivity", "1_0", None),
    ("pad.sensitivity", "1__0", None),  # MicroPython's int() takes this, CPython's does not
    ("pad.sensitivity", "_1", None),  # ... and this
    ("pad.sensitivity", "\u0663", None),  # Arabic-Indic 3: CPython's int() takes it
    ("pad.sensitivity", "\uff17", None),  # fullwidth 7: CPython's int() takes it
    ("pad.sensitivity", "\u00a07", None),  # no-break space: CPython's strip() removes it
    ("pad.sensitivity", "\u20037", None),
    ("pad.sensitivity", "5.0", None),
    ("pad.sensitivity", "1e1", None),
    ("pad.sensitivity", "--5", None),
    ("pad.sensitivity", "", None),
    ("pad.sensitivity", " ", None),
    ("pad.sensitivity", "7 7", None),
    ("scale", " Blues ", "blues"),
    ("scale", "\u00a0blues", None),
    ("pad.mode", "NOTE", "note"),
    ("pad.mode", "\u212aeys", None),  # Kelvin sign: CPython lowers it to k
    ("pad.enabled", "yes", "on"),
    ("pad.melody", "C4 E4 G4", "C4 E4 G4"),
    ("pad.melody", "60,64\t67", "C4 E4 G4"),
    ("pad.melody", "C4\u2003E4", None),  # an em space is not a separator on MicroPython
    ("pad.melody", "\u0663\u0660", None),  # CPython's isdigit() takes these digits
    ("pad.melody", "\u00b2", None),  # superscript 2: isdigit() on CPython, int() refuses
    ("pad.melody", "C-1 G9", "C-1 G9"),
    ("pad.melody", "C+4", None),
    ("pad.melody", "+60", None),
)
