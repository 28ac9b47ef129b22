"""The VM's stand-in for micropython-lib's usb.device (on the Pico it is installed with mip)."""

from . import core


def get():
    return core.get()
