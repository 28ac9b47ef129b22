"""Start a USB transfer with one call into machine.USBDevice, for the ports that send while
playing (midi/usbport.py, usbserial.py).

Usage: ok = start_transfer(itf, ep, data, done)   # False: the USB stack refused it

usb.device's Interface.submit_xfer checks the endpoint is open and free through a chain of
Python calls (~0.3 ms of a switch press on the emulated Pico) before it ends with
`_dev._usbd.submit_xfer`. The callers know those checks hold (only they send on their
endpoint, one transfer at a time, and only while the host has it open), so this makes just
that last step. A usb-device release without those names gets Interface.submit_xfer instead.
"""

from usb.device import core


def start_transfer(itf, ep, data, done):
    """Queue `data` on endpoint `ep` of interface `itf`; `done(ep, result, nbytes)` runs when it
    ends. Returns False (and leaves no completion waiting) if the USB stack refused it."""
    d = core._dev  # pyright: ignore[reportAttributeAccessIssue]  (not in the stubs)
    usbd = getattr(d, "_usbd", None)
    if usbd is None:
        itf.submit_xfer(ep, data, done)
        return True
    d._ep_cbs[ep] = done
    if usbd.submit_xfer(ep, data):
        return True
    d._ep_cbs[ep] = None
    return False
