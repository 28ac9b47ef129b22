"""Fake `usb.device` for the simulator: `get()` returns the one USB device."""

from .core import get  # noqa: F401
