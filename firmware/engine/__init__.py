"""The engine: one channel's pipeline, stage by stage.

conditioning (rest, noise, smoothing -> level) -> gestures (press, release, strength)
-> mapper + modes (scale lock, what a press plays) -> midi.packets (the queue the outputs send).
"""
