"""Fake `usb.device.midi` for the simulator, with micropython-lib's MIDIInterface API and its
internals that fast senders use (`_tx` Buffer, `_tx_xfer()`).

TX: `send_event()` queues a 4-byte packet in the `txlen`-byte buffer (False when full: the event
is lost, as on the Pico); `_tx_xfer()` starts a transfer. The simulated host takes up to 64
bytes (16 packets, one bulk packet) at every 1 ms USB frame while it is reading; each packet
that leaves goes to the world's MIDI sinks with the frame's virtual time.

Cost in virtual time (estimates from ARCHITECTURE.md's 0.9 ms per note_on, adjustable on the
world): `usb_send_cost_us` per send_event(), `usb_xfer_cost_us` per transfer started by the
firmware.
"""

from micropython import const, schedule

from simulator import context as _ctx

from .core import Buffer, Interface

_clock, _world = _ctx.require()

_FRAME_US = const(1000)
_BYTES_PER_FRAME = const(64)

_MIDI_NOTE_OFF = const(0x80)
_MIDI_NOTE_ON = const(0x90)
_MIDI_CONTROL_CHANGE = const(0xB0)
_CIN_NOTE_OFF = const(0x8)
_CIN_NOTE_ON = const(0x9)
_CIN_CONTROL_CHANGE = const(0xB)


class MIDIInterface(Interface):
    def __init__(self, rxlen=16, txlen=16):
        super().__init__()
        self.ep_out = None
        self.ep_in = None
        self._rx = Buffer(rxlen)
        self._tx = Buffer(txlen)
        self._xfer = False  # an IN transfer is waiting for the host
        self.dropped = 0  # simulator only: events refused because the buffer was full

    # Received MIDI (host -> device): override on_midi_event or the three helpers.
    def on_midi_event(self, cin, midi0, midi1, midi2):
        ch = midi0 & 0x0F
        if cin == _CIN_NOTE_ON:
            self.on_note_on(ch, midi1, midi2)
        elif cin == _CIN_NOTE_OFF:
            self.on_note_off(ch, midi1, midi2)
        elif cin == _CIN_CONTROL_CHANGE:
            self.on_control_change(ch, midi1, midi2)

    def on_note_on(self, channel, pitch, vel):
        pass

    def on_note_off(self, channel, pitch, vel):
        pass

    def on_control_change(self, channel, controller, value):
        pass

    # Like micropython-lib's, these helpers do not return send_event()'s result.
    def note_on(self, channel, pitch, vel=0x40):
        self.send_event(_CIN_NOTE_ON, _MIDI_NOTE_ON | channel, pitch, vel)

    def note_off(self, channel, pitch, vel=0x40):
        self.send_event(_CIN_NOTE_OFF, _MIDI_NOTE_OFF | channel, pitch, vel)

    def control_change(self, channel, controller, value):
        self.send_event(_CIN_CONTROL_CHANGE, _MIDI_CONTROL_CHANGE | channel, controller, value)

    def send_event(self, cin, midi0, midi1=0, midi2=0):
        """Queue one USB-MIDI event packet; False when the TX buffer is full (event lost)."""
        w = self._tx.pend_write()
        if len(w) < 4:
            self.dropped += 1
            return False
        cost = _world.usb_send_cost_us
        if cost:
            _clock.advance(cost)
        w[0] = cin
        w[1] = midi0
        w[2] = midi1
        w[3] = midi2
        self._tx.finish_write(4)
        self._tx_xfer()
        return True

    def _tx_xfer(self):
        # Keep one IN transfer going whenever there is data and the host has configured us.
        if self._open and not self._xfer and self._tx.readable():
            self._xfer = True
            cost = _world.usb_xfer_cost_us
            if cost:
                _clock.advance(cost)
            _clock.call_at((_clock.now // _FRAME_US + 1) * _FRAME_US, self._frame,
                           firmware=True)

    def _frame(self):
        """One USB frame: the host reads up to 64 bytes if it is reading at all."""
        if not self._open:
            self._xfer = False
            return
        if _world.usb_host_reading:
            tx = self._tx
            data = tx.pend_read()
            n = min(len(data), _BYTES_PER_FRAME) & ~3
            now = _clock.now
            out = _world.midi_out
            i = 0
            while i < n:
                out(now, data[i] & 0x0F, data[i + 1], data[i + 2], data[i + 3])
                i += 4
            tx.finish_read(n)
        if self._tx.readable():
            _clock.call_at(_clock.now + _FRAME_US, self._frame, firmware=True)
        else:
            self._xfer = False

    def on_open(self):
        super().on_open()
        self._tx_xfer()

    def on_reset(self):
        super().on_reset()
        self._xfer = False

    def _host_sends(self, cin, midi0, midi1, midi2):
        """Simulator only: a MIDI event from the host, handled like the real driver's RX path
        (through micropython.schedule)."""
        schedule(lambda _: self.on_midi_event(cin, midi0, midi1, midi2), None)

    def num_itfs(self):
        return 2

    def num_eps(self):
        return 1
