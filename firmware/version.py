"""The firmware and protocol versions, in one place (host tools read them too)."""

FIRMWARE = "0.1.0"
PROTOCOL = 1
