"""A minimal usb.device.cdc for the VM: the CDCInterface names firmware/usbserial.py builds on
(its endpoints, the host's line state, xfer_pending), open and with a host holding the port,
so a check can measure the port's own allocation (see core.py)."""

from usb.device.core import Interface, _dev


class CDCInterface(Interface):
    def __init__(self, timeout=0, txbuf=1, rxbuf=64):
        super().__init__()
        self.ep_d_in = 0x82
        self.ep_d_out = 0x02
        self._line_state = 1  # DTR: a program has the port open

    def xfer_pending(self, ep):
        return _dev._ep_cbs.get(ep) is not None
