"""Monophonic tones on a PWM pin, so an instrument can be played with a small speaker and no
computer at all.

Usage: tone = Tone(machine.PWM(machine.Pin(16))); tone.play(midi.buf, i) for each packet
"""

from micropython import const

_VOLUME = const(12000)  # duty (of 65535) at velocity 127; a square wave, kept gentle


class Tone:
    """Plays the newest note; stops when that note ends (last-note priority)."""

    def __init__(self, pwm):
        self.pwm = pwm
        self.note = -1
        # note -> frequency in Hz, computed once (floats only here, never per tick)
        hz = []
        for n in range(128):
            f = int(440 * 2 ** ((n - 69) / 12) + 0.5)
            hz.append(f if f >= 8 else 8)
        self._freq = tuple(hz)
        pwm.duty_u16(0)

    def play(self, buf, i):
        """Follow packet i of a MIDI queue."""
        k = i * 4
        kind = buf[k + 1] & 0xF0
        note = buf[k + 2]
        if kind == 0x90 and buf[k + 3]:
            self.pwm.freq(self._freq[note])
            self.pwm.duty_u16(_VOLUME * buf[k + 3] // 127)
            self.note = note
        elif (
            (kind == 0x80 or kind == 0x90)
            and note == self.note
            # or All Notes Off
            or kind == 0xB0
            and buf[k + 2] == 123
        ):
            self.pwm.duty_u16(0)
            self.note = -1
