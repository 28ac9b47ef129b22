"""Local stub for micropython-lib `usb-device` (usb.device): the runtime USB device."""

from . import core as core
from .core import get as get
