"""Runs at power-up before main.py: start USB MIDI once, so the Pico enumerates a single time
as "Attune <instrument>" with its serial port kept for the therapist's tools.

The serial port is usbserial's (micropython-lib usb-device-cdc: chunked, never waits), with the
REPL on it too (os.dupterm); on a maintenance boot, or without that package, it is MicroPython's
built-in one, so mpremote and `attune deploy` always meet the port they know.
"""

try:
    import json
    import os

    from midi.outputs import UsbMidi
    from system import MAINTENANCE_FLAG

    with open("board.json") as f:
        _title = json.load(f)["instrument"].get("title", "instrument")
    _serial = None
    try:
        os.stat(MAINTENANCE_FLAG)  # (main.py removes it)
    except OSError:
        try:
            import usbserial

            _serial = usbserial.start()
        except ImportError:
            pass  # usb-device-cdc not installed: the built-in port
    UsbMidi.start("Attune " + _title, _serial)
    if _serial is not None and hasattr(os, "dupterm"):
        os.dupterm(_serial)  # print() and, if the instrument cannot start, the REPL
except Exception as e:  # never brick the board: main.py retries and reports
    print("Attune: USB MIDI not started:", e)
