"""Activations: each press of every channel, from its onset to its end, kept for the console.

Usage: act = Activity(len(channels))     # one per instrument, shared by its channels
       act.press(ch, now_us)             # a press was recognised (after the mapper played it)
       act.end(ch, now_us)               # it ended: released, faulted, panicked (-1: time unknown)
       while act.n: i = act.head; ...; act.pop()   # between ticks (commands/journal.py)

What a press is: its onset time (ticks_us), its note-on velocity (0 when the mode played no
note-on), the highest conditioned level during it and the sensor's reading at that level (the
channel keeps these two as `peak_level` / `peak_raw` while it is pressed), and its end time.
The hooks run inside the tick, so they only copy integers into preallocated slots: nothing is
allocated, nothing formatted. An ended press waits in a ring of _SLOTS until the console's
between-tick poll takes it (every 4 ms); if the ring is full the press is counted in `lost`.
"""

from micropython import const

_SLOTS = const(16)  # ended presses waiting for the console (one poll normally takes 0-2)


class Activity:
    """The presses in progress (per channel) and the ended ones waiting to be taken (a ring)."""

    def __init__(self, channels):
        n = channels if channels > 0 else 1
        # per channel: 1 while pressed, the onset (ticks_us), the velocity played
        self.on = bytearray(n)
        self.onset = [0] * n
        self.velocity = bytearray(n)
        self.presses = 0  # presses seen since start-up (a poll compares it to find new onsets)
        # the ring of ended presses, oldest at `head`
        self.ch = bytearray(_SLOTS)
        self.t0 = [0] * _SLOTS  # onset, ticks_us
        self.t1 = [0] * _SLOTS  # end, ticks_us (-1: ended between ticks, at the next poll)
        self.vel = bytearray(_SLOTS)
        self.raw = [0] * _SLOTS  # the reading at the highest level
        self.level = [0] * _SLOTS  # the highest level, 0..16383
        self.head = 0
        self.n = 0
        self.lost = 0  # ended presses dropped because nobody took them (ring full)

    def press(self, ch, now_us):
        """`ch` (a Channel) was just pressed and its mapper has played the press."""
        i = ch.index
        self.on[i] = 1
        self.onset[i] = now_us
        m = ch.mapper
        # the velocity the mode played; 0 when the press started no note (cc, bend, pressure;
        # a latch's second press; a full queue)
        self.velocity[i] = m.vel if m.count else 0
        ch.peak_level = ch.level
        ch.peak_raw = ch.raw
        self.presses = (self.presses + 1) & 0xFFFF

    def end(self, ch, now_us):
        """`ch`'s press (if any) ended at now_us (-1: between ticks, e.g. a panic)."""
        i = ch.index
        if not self.on[i]:
            return
        self.on[i] = 0
        n = self.n
        if n >= _SLOTS:
            self.lost += 1
            return
        k = self.head + n
        if k >= _SLOTS:
            k -= _SLOTS
        self.ch[k] = i
        self.t0[k] = self.onset[i]
        self.t1[k] = now_us
        self.vel[k] = self.velocity[i]
        self.raw[k] = ch.peak_raw
        self.level[k] = ch.peak_level
        self.n = n + 1

    def pop(self):
        """Forget the oldest ended press (the one at `head`), once it has been read."""
        if self.n:
            h = self.head + 1
            self.head = h if h < _SLOTS else 0
            self.n -= 1
