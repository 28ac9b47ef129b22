"""`python -m simulator`: the same as `attune sim`."""

import sys

from simulator.cli import main

sys.exit(main())
