"""A Studio hub with one simulated instrument, started for a test module.

Usage: `with running_studio(tmp_path_factory, "combo") as studio: ...` in a module fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from host_tools.hub.instrument import wait_until
from host_tools.hub.studio import Studio


@contextmanager
def running_studio(factory: pytest.TempPathFactory, sim: str, folder: str) -> Iterator[Studio]:
    """Start a Studio (in a thread) serving the simulated `sim`; yield it once the instrument
    `sim-<sim>-1` is connected; stop it and remove its discovery file afterwards."""
    s = Studio(factory.mktemp(folder), sims=[sim], discover=None).start_in_thread()
    s.write_discovery()
    try:
        inst = s.hub.instruments["sim-" + sim + "-1"]
        assert wait_until(lambda: inst.connected, 30), inst.problem
        yield s
    finally:
        s.stop()
        s.remove_discovery()
