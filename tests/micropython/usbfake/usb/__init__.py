"""The VM's stand-in for micropython-lib's usb package (see usb/device/core.py)."""
