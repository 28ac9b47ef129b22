"""A minimal usb.device.midi for the VM: MIDIInterface's constructor and IN endpoint."""

from .core import Interface


class MIDIInterface(Interface):
    def __init__(self, rxlen=16, txlen=16):
        super().__init__()
        self.ep_in = 0x83
