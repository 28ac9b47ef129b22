"""Runs at power-up before main.py: start USB MIDI once, so the Pico enumerates a single time
as "Attune <instrument>" with its serial port kept for the therapist's tools."""

try:
    import json

    from midi.outputs import UsbMidi

    with open("board.json") as f:
        _title = json.load(f)["instrument"].get("title", "instrument")
    UsbMidi.start("Attune " + _title)
except Exception as e:  # never brick the board: main.py retries and reports
    print("Attune: USB MIDI not started:", e)
