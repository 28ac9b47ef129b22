"""Local stub for micropython-lib `usb-device-midi` (usb.device.midi), as Attune uses it.

send_event() returns False when the TX buffer is full and the event is lost; the note_on,
note_off and control_change helpers call it but return None, so they cannot report a loss.
"""

from .core import Interface

class MIDIInterface(Interface):
    # Endpoint addresses, set when the device is configured (usb.device init); the IN one
    # (device to host) is what a subclass submits its own transfers on.
    ep_out: int
    ep_in: int
    def __init__(self, rxlen: int = 16, txlen: int = 16) -> None:
        """rxlen/txlen: receive and transmit buffer sizes in bytes (4 bytes per event)."""
    def send_event(self, cin: int, midi0: int, midi1: int = 0, midi2: int = 0) -> bool:
        """Queue one USB-MIDI event packet; False if the TX buffer is full (event dropped)."""
    def note_on(self, channel: int, pitch: int, vel: int = 0x40) -> None: ...
    def note_off(self, channel: int, pitch: int, vel: int = 0x40) -> None: ...
    def control_change(self, channel: int, controller: int, value: int) -> None: ...
    # Callbacks for received MIDI: override in a subclass.
    def on_midi_event(self, cin: int, midi0: int, midi1: int, midi2: int) -> None: ...
    def on_note_on(self, channel: int, pitch: int, vel: int) -> None: ...
    def on_note_off(self, channel: int, pitch: int, vel: int) -> None: ...
    def on_control_change(self, channel: int, controller: int, value: int) -> None: ...
