"""A minimal usb.device.core for the VM: the names midi/usbport.py uses (the device singleton
`_dev` with its `_ep_cbs` and low-level `_usbd`, and Interface), nothing that allocates when
a transfer starts or completes, so a check can measure the port's own allocation.

Usage: dev = core.get(); dev.complete(ep)  # the host has read the transfer in flight on ep
"""


class _USBDevice:
    """machine.USBDevice's submit_xfer: remembers the transfer in flight and counts them."""

    def __init__(self):
        self.data = None
        self.transfers = 0

    def submit_xfer(self, ep, data):
        self.data = data
        self.transfers += 1
        return True


class _Device:
    def __init__(self):
        self._ep_cbs = {}
        self._usbd = _USBDevice()

    def complete(self, ep, result=0):
        # what usb.device's _xfer_cb does when the transfer on ep ends
        cb = self._ep_cbs.get(ep, None)
        self._ep_cbs[ep] = None
        if cb is not None:
            cb(ep, result, len(self._usbd.data))


_dev = _Device()


def get():
    return _dev


class Interface:
    def __init__(self):
        pass

    def on_open(self):
        pass

    def on_reset(self):
        pass

    def is_open(self):
        return True

    def submit_xfer(self, ep, data, done_cb=None):
        _dev._ep_cbs[ep] = done_cb
        return _dev._usbd.submit_xfer(ep, data)
