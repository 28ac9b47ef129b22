"""Fake `usb.device.midi` for the simulator: micropython-lib's MIDIInterface, the same methods
doing the same things (a TX and an RX Buffer, one transfer at a time on each endpoint through
Interface.submit_xfer), on the fake core's simulated host.

TX: `send_event()` queues a 4-byte packet in the `txlen`-byte buffer (False when full: the event
is lost, as on the Pico) and starts a transfer of everything queued if none is pending; the
transfer's callback starts the next. RX: an OUT transfer is kept waiting for the host; what
arrives is handled through micropython.schedule, as on the Pico.

Cost in virtual time (estimates from ARCHITECTURE.md's 0.9 ms per note_on, adjustable on the
world): `usb_send_cost_us` per send_event(), plus the core's `usb_xfer_cost_us` per transfer.
"""

from micropython import const, schedule

from simulator import context as _ctx

from .core import Buffer, Interface, get

_clock, _world = _ctx.require()

_EP_IN_FLAG = const(1 << 7)
_INTERFACE_CLASS_AUDIO = const(0x01)
_INTERFACE_SUBCLASS_AUDIO_CONTROL = const(0x01)
_INTERFACE_SUBCLASS_AUDIO_MIDISTREAMING = const(0x03)
_MIDI_NOTE_OFF = const(0x80)
_MIDI_NOTE_ON = const(0x90)
_MIDI_CONTROL_CHANGE = const(0xB0)
_CIN_NOTE_OFF = const(0x8)
_CIN_NOTE_ON = const(0x9)
_CIN_CONTROL_CHANGE = const(0xB)


class MIDIInterface(Interface):
    def __init__(self, rxlen=16, txlen=16):
        super().__init__()
        self.ep_out = None  # set by desc_cfg (host to device)
        self.ep_in = None  # device to host
        self._rx = Buffer(rxlen)
        self._tx = Buffer(txlen)
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

    def _keep_xfer(self, ep, ready, pend, cb):
        # one transfer at a time on ep, started whenever there is something to move (ready())
        # and the host has configured us
        if self.is_open() and not self.xfer_pending(ep) and ready():
            self.submit_xfer(ep, pend(), cb)

    def _tx_xfer(self):
        # keep one IN transfer going whenever there is data
        self._keep_xfer(self.ep_in, self._tx.readable, self._tx.pend_read, self._tx_cb)

    def _tx_cb(self, ep, res, num_bytes):
        if res == 0:
            self._tx.finish_read(num_bytes)
        self._tx_xfer()

    def _rx_xfer(self):
        # keep one OUT transfer waiting for the host's MIDI
        self._keep_xfer(self.ep_out, self._rx.writable, self._rx.pend_write, self._rx_cb)

    def _rx_cb(self, ep, res, num_bytes):
        if res == 0:
            self._rx.finish_write(num_bytes)
            schedule(self._on_rx, None)
        self._rx_xfer()

    def on_open(self):
        super().on_open()
        self._tx_xfer()
        self._rx_xfer()

    def _on_rx(self, _):
        m = self._rx.pend_read()
        i = 0
        while i <= len(m) - 4:
            self.on_midi_event(m[i] & 0x0F, m[i + 1], m[i + 2], m[i + 3])
            i += 4
        self._rx.finish_read(i)

    def _host_sends(self, cin, midi0, midi1, midi2):
        """Simulator only: the host sends one MIDI event; False if the device was not
        receiving (not open, or its RX buffer full)."""
        return get()._host_out(self.ep_out, bytes((cin, midi0, midi1, midi2)))

    def desc_cfg(self, desc, itf_num, ep_num, strs):
        # the interfaces as micropython-lib lays them out (the class-specific audio and jack
        # descriptors are left out: no simulated host reads them)
        desc.interface(itf_num, 0, _INTERFACE_CLASS_AUDIO, _INTERFACE_SUBCLASS_AUDIO_CONTROL)
        desc.interface(
            itf_num + 1, 2, _INTERFACE_CLASS_AUDIO, _INTERFACE_SUBCLASS_AUDIO_MIDISTREAMING
        )
        self.ep_out = ep_num
        self.ep_in = ep_num | _EP_IN_FLAG
        desc.endpoint(self.ep_in, "bulk", 64, 0)
        desc.endpoint(self.ep_out, "bulk", 64, 0)

    def num_itfs(self):
        return 2

    def num_eps(self):
        return 1
