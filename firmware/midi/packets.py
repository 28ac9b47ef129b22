"""MIDI encoding into a preallocated queue of USB-MIDI event packets, with a note tracker.

Usage: out = MidiOut(); out.note_on(0, 60, 90, src=1); ...; runtime sends out.buf[:4*out.count]

Every note-on that leaves is counted per (MIDI channel, note); `panic()` turns off whatever is
counted, so no note can be left sounding. Note-offs have reserved room in the queue: when it is
nearly full, note-ons and controllers are refused (and counted in `dropped`), never note-offs.

The MIDI channels played on since their last reset are kept in a mask (`used`); `reset()` puts
their musical state back to rest (pitch bend centred, channel pressure and modulation zeroed),
so nothing left by one mode, channel or profile detunes the next. Resets use the reserve too;
what does not fit is owed and queued by `consume()` before anything else can be.
"""

from micropython import const

_CAPACITY = const(48)  # packets; a tick rarely makes more than a handful
_RESERVE = const(16)  # slots only note-offs may use
_CIN_NOTE_OFF = const(0x08)
_CIN_NOTE_ON = const(0x09)
_CIN_CC = const(0x0B)
_CIN_PRESSURE = const(0x0D)
_CIN_BEND = const(0x0E)
_BEND_CENTRE = const(8192)
_CC_MODULATION = const(1)
_CC_RESET_ALL = const(121)  # Reset All Controllers
_CC_ALL_NOTES_OFF = const(123)


class MidiOut:
    """A queue of 4-byte USB-MIDI packets (cable 0) and the notes now sounding."""

    def __init__(self):
        self.buf = bytearray(_CAPACITY * 4)
        self.src = bytearray(_CAPACITY)  # which sensor channel made each packet
        self.count = 0
        self.dropped = 0
        self.sounding = bytearray(16 * 128)  # note-on count per (channel, note)
        self.active = 0  # notes sounding, all channels
        self.used = 0  # bit n: MIDI channel n had a note, bend, pressure or controller since reset
        self._owed = 0  # channels whose reset did not fit in the queue yet
        self._owed_all = 0  # ... and whose Reset All Controllers (a panic's) did not
        # whoever plays into this queue and remembers what it sent (a continuous mode): told
        # by its `was_reset()` when the channels went back to rest
        self.players = []

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
        self.used |= 1 << ch
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
        if self._put(_CIN_CC, 0xB0 | ch, control, value, src, _CAPACITY - _RESERVE):
            self.used |= 1 << ch
            return True
        return False

    def bend(self, ch, value, src=0):
        """Queue a pitch bend; `value` 0..16383, 8192 = centre."""
        if self._put(_CIN_BEND, 0xE0 | ch, value & 0x7F, value >> 7, src, _CAPACITY - _RESERVE):
            self.used |= 1 << ch
            return True
        return False

    def pressure(self, ch, value, src=0):
        """Queue channel pressure (aftertouch) 0..127."""
        if self._put(_CIN_PRESSURE, 0xD0 | ch, value, 0, src, _CAPACITY - _RESERVE):
            self.used |= 1 << ch
            return True
        return False

    def panic(self):
        """Note-off for every sounding note, then All Notes Off on every channel that had one,
        and every used channel reset (`reset()`) with Reset All Controllers too.

        Returns True when everything was queued; if the queue filled up, the rest stays counted
        (or owed) and the caller sends what is queued and calls panic() again.
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
            if had:
                self.used |= 1 << ch  # (a note outlives the reset of its channel)
                if not self._put(_CIN_CC, 0xB0 | ch, _CC_ALL_NOTES_OFF, 0, 255, _CAPACITY):
                    done = False
            ch += 1
        if done:
            self.active = 0
        self._owed_all |= self.used
        return self.reset() and done

    def reset(self):
        """Every channel used since its last reset back to rest: pitch bend centred, channel
        pressure and modulation (CC 1) zeroed. Returns True when all of it was queued; what
        did not fit is owed, and queued by consume() as packets leave, ahead of anything new.
        The players (`players`) then forget what they sent."""
        used = self.used
        if used:
            self.used = 0
            self._owed |= used
        done = self._settle()
        if used:
            for p in self.players:
                p.was_reset()
        return done

    def _settle(self):
        # queue the owed resets, a whole channel's at a time (3 packets, 4 with a panic's
        # Reset All Controllers), in the full queue like note-offs
        owed = self._owed
        if not owed:
            return True
        every = self._owed_all
        ch = 0
        while ch < 16:
            bit = 1 << ch
            if owed & bit:
                need = 4 if every & bit else 3
                if self.count + need > _CAPACITY:
                    return False
                b = 0xB0 | ch
                if every & bit:
                    self._put(_CIN_CC, b, _CC_RESET_ALL, 0, 255, _CAPACITY)
                self._put(_CIN_BEND, 0xE0 | ch, 0, _BEND_CENTRE >> 7, 255, _CAPACITY)
                self._put(_CIN_PRESSURE, 0xD0 | ch, 0, 0, 255, _CAPACITY)
                self._put(_CIN_CC, b, _CC_MODULATION, 0, 255, _CAPACITY)
                owed &= ~bit
                every &= ~bit
                self._owed = owed
                self._owed_all = every
            ch += 1
        return True

    def consume(self, n):
        """Forget the first `n` packets (they were sent); later ones move to the front."""
        left = self.count - n
        if left <= 0:
            self.count = 0
            if self._owed:
                self._settle()
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
        if self._owed:
            self._settle()
