"""Attune host tools: the `attune` command that talks to an instrument over its USB serial port.

Usage: attune status    (see docs/host-tool.md)
"""
