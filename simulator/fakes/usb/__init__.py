"""Fake `usb` package for the simulator (micropython-lib's usb-device packages)."""
