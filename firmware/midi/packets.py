"""MIDI encoding into a preallocated queue of USB-MIDI event packets, with a note tracker.

Usage: out = MidiOut(); out.note_on(0, 60, 90, src=1); ...; runtime sends out.buf[:4*out.count]

Every note-on that leaves is counted per (MIDI channel, note); `panic()` turns off whatever is
counted, so no note can be left sounding. Note-offs have reserved room in the queue: when it is
nearly full, note-ons and controllers are refused (and counted in `dropped`), never note-offs.
"""

from micropython import const

_CAPACITY = const(48)  # packets; a tick rarely makes more than a handful
_RESERVE = const(16)  # slots only note-offs may use
_CIN_NOTE_OFF = const(0x08)
_CIN_NOTE_ON = const(0x09)
_CIN_CC = const(0x0B)
_CIN_PRESSURE = const(0x0D)
_CIN_BEND = const(0x0E)


class MidiOut:
    """A queue of 4-byte USB-MIDI packets (cable 0) and the notes now sounding."""

    def __init__(self):
        self.buf = bytearray(_CAPACITY * 4)
        self.src = bytearray(_CAPACITY)  # which sensor channel made each packet
        self.count = 0
        self.dropped = 0
        self.sounding = bytearray(16 * 128)  # note-on count per (channel, note)
        self.active = 0  # notes sounding, all channels

    def _put(self, cin, status, d1, d2, src, limit):
        n = self.count
        if n >= limit:
            self.dropped += 1
            return False
        i = n * 4
        b = self.buf
        b[i] = cin
        b[i + 1] = status
        b[i + 2] = d1
        b[i + 3] = d2
        self.src[n] = src
        self.count = n + 1
        return True

    def note_on(self, ch, note, vel, src=0):
        """Queue a note-on (velocity 1..127). Returns False if there was no room."""
        if vel < 1:
            vel = 1
        elif vel > 127:
            vel = 127
        if not self._put(_CIN_NOTE_ON, 0x90 | ch, note, vel, src, _CAPACITY - _RESERVE):
            return False
        k = ch * 128 + note
        c = self.sounding[k]
        if c < 255:
            self.sounding[k] = c + 1
        self.active += 1
        return True

    def note_off(self, ch, note, src=0):
        """End one note-on of (ch, note). The note-off is sent when its last holder lets go, so
        two sensors sharing a note do not cut each other off."""
        k = ch * 128 + note
        c = self.sounding[k]
        if c == 0:
            return True
        self.sounding[k] = c - 1
        self.active -= 1
        if c == 1:
            return self._put(_CIN_NOTE_OFF, 0x80 | ch, note, 0, src, _CAPACITY)
        return True

    def cc(self, ch, control, value, src=0):
        """Queue a control change."""
        return self._put(_CIN_CC, 0xB0 | ch, control, value, src, _CAPACITY - _RESERVE)

    def bend(self, ch, value, src=0):
        """Queue a pitch bend; `value` 0..16383, 8192 = centre."""
        return self._put(_CIN_BEND, 0xE0 | ch, value & 0x7F, value >> 7, src, _CAPACITY - _RESERVE)

    def pressure(self, ch, value, src=0):
        """Queue channel pressure (aftertouch) 0..127."""
        return self._put(_CIN_PRESSURE, 0xD0 | ch, value, 0, src, _CAPACITY - _RESERVE)

    def panic(self):
        """Note-off for every sounding note, then All Notes Off on every channel that had one.

        Returns True when everything was queued; if the queue filled up, the rest stays counted
        and the caller sends what is queued and calls panic() again.
        """
        s = self.sounding
        done = True
        ch = 0
        while ch < 16:
            had = False
            k = ch * 128
            end = k + 128
            while k < end:
                if s[k]:
                    if self._put(_CIN_NOTE_OFF, 0x80 | ch, k & 127, 0, 255, _CAPACITY):
                        self.active -= s[k]
                        s[k] = 0
                        had = True
                    else:
                        done = False
                k += 1
            if had and not self._put(_CIN_CC, 0xB0 | ch, 123, 0, 255, _CAPACITY):
                done = False
            ch += 1
        if done:
            self.active = 0
        return done

    def consume(self, n):
        """Forget the first `n` packets (they were sent); later ones move to the front."""
        left = self.count - n
        if left <= 0:
            self.count = 0
            return
        b = self.buf
        s = self.src
        i = 0
        while i < left:
            j = (n + i) * 4
            k = i * 4
            b[k] = b[j]
            b[k + 1] = b[j + 1]
            b[k + 2] = b[j + 2]
            b[k + 3] = b[j + 3]
            s[i] = s[n + i]
            i += 1
        self.count = left
