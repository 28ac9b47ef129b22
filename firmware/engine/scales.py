"""Scales as semitone steps, and scale-locked note lookup ("no wrong notes").

Usage: note = degree_note(MAJOR_PENTATONIC, 0, 4, 0, 2)   # third note of C major pentatonic: 64
"""

from micropython import const

# Indexes follow settings.SCALES.
MAJOR = const(0)
MAJOR_PENTATONIC = const(3)
CHROMATIC = const(9)

STEPS = (
    b"\x00\x02\x04\x05\x07\x09\x0b",  # major
    b"\x00\x02\x03\x05\x07\x08\x0a",  # natural minor
    b"\x00\x02\x03\x05\x07\x08\x0b",  # harmonic minor
    b"\x00\x02\x04\x07\x09",  # major pentatonic
    b"\x00\x03\x05\x07\x0a",  # minor pentatonic
    b"\x00\x03\x05\x06\x07\x0a",  # blues
    b"\x00\x02\x03\x05\x07\x09\x0a",  # dorian
    b"\x00\x02\x04\x05\x07\x09\x0a",  # mixolydian
    b"\x00\x02\x04\x06\x08\x0a",  # whole tone
    b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b",  # chromatic
)


def fit(note):
    """Move a note by whole octaves into MIDI's 0..127 (its pitch class, so its scale, stays)."""
    while note < 0:
        note += 12
    while note > 127:
        note -= 12
    return note


def degree_note(scale, key, octave, step):
    """The note `step` scale steps (0 = key note, may be negative) above `key` in `octave`.

    `key` is the key's pitch class plus any transpose, in semitones.
    """
    steps = STEPS[scale]
    n = len(steps)
    octs = step // n
    return fit((octave + 1) * 12 + key + octs * 12 + steps[step - octs * n])


def snap(note, scale, key):
    """The nearest scale note at or below `note` (a melody note made to fit the scale)."""
    steps = STEPS[scale]
    pc = (note - key) % 12
    while pc not in steps:
        note -= 1
        pc = (note - key) % 12
    return fit(note)
