"""Attune firmware entry point: play the instrument described by board.json.

Hold Ctrl-C in a serial terminal (or use `attune deploy`) to stop it and reach the REPL.
"""

import runtime

runtime.main()
