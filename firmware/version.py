"""The firmware version, in one place (the protocol version lives in protocol.py)."""

FIRMWARE = "0.1.0"
