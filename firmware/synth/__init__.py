"""Musical mapping and MIDI: scales, modes, encoding and note tracking."""
