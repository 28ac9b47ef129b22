"""The version of the firmware and of the host tools, in one place: pyproject.toml and
host_tools/firmware.py read it from here (the protocol version lives in protocol.py)."""

FIRMWARE = "0.1.0"
