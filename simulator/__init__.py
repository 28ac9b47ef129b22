"""Attune's simulator: the unmodified firmware on CPython, with virtual time, simulated sensors,
movement traces, fault injection and MIDI out (files, WAV, plot, a virtual port).

Usage: from simulator.run import Simulation; events = Simulation("combo", trace="t.csv").run()
       python -m simulator --demo          (or `attune sim --demo`)

The firmware never imports this package; `simulator/fakes/` stands in for MicroPython's
`machine`, `micropython`, `usb.device`, `select`, `gc` and `rp2` while it runs.
"""
