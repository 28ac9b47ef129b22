"""Local stub for micropython-lib `usb-device-midi` (usb.device.midi), as Attune uses it.

send_event() returns False when the TX buffer is full and the event is lost; the note_on,
note_off and control_change helpers call it but return None, so they cannot report a loss.
"""

from .core import Buffer, Interface

class MIDIInterface(Interface):
    ep_out: int | None
    ep_in: int | None
    # Private in micropython-lib; firmware/usbmidi.py batches a tick's packets through them.
    _rx: Buffer
    _tx: Buffer
    def __init__(self, rxlen: int = 16, txlen: int = 16) -> None:
        """rxlen/txlen: receive and transmit buffer sizes in bytes (4 bytes per event)."""
    def send_event(self, cin: int, midi0: int, midi1: int = 0, midi2: int = 0) -> bool:
        """Queue one USB-MIDI event packet; False if the TX buffer is full (event dropped)."""
    def note_on(self, channel: int, pitch: int, vel: int = 0x40) -> None: ...
    def note_off(self, channel: int, pitch: int, vel: int = 0x40) -> None: ...
    def control_change(self, channel: int, controller: int, value: int) -> None: ...
    def _tx_xfer(self) -> None:
        """Start an IN transfer of whatever the TX buffer holds, if none is pending."""
    # Callbacks for received MIDI: override in a subclass.
    def on_midi_event(self, cin: int, midi0: int, midi1: int, midi2: int) -> None: ...
    def on_note_on(self, channel: int, pitch: int, vel: int) -> None: ...
    def on_note_off(self, channel: int, pitch: int, vel: int) -> None: ...
    def on_control_change(self, channel: int, controller: int, value: int) -> None: ...
