"""Attune firmware entry point: play the instrument described by board.json.

Serial input never stops it: send `maintenance` (as `attune deploy` does) to restart
with the REPL reachable; the next reset plays again (docs/protocol.md).
"""

import runtime

runtime.main()
