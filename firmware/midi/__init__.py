"""MIDI: the packet queue with its note tracker (packets), and where packets go (outputs)."""
