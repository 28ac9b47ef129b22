"""The one place the host tools reach into `firmware/`: pure modules (settings, protocol) are
imported from there rather than rewritten. Usage: settings = firmware.module("settings")
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

REPO_DIR = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = REPO_DIR / "firmware"
BOARDS_DIR = REPO_DIR / "boards"


def add_to_path() -> None:
    """Make firmware modules importable; appended, so they never shadow a host module."""
    path = str(FIRMWARE_DIR)
    if path not in sys.path:
        sys.path.append(path)
    if "micropython" not in sys.modules:
        # settings names the play modes from engine.modes, whose constants come from
        # `micropython.const`: on a host it is the identity
        shim = ModuleType("micropython")
        shim.const = lambda x: x  # type: ignore[attr-defined]
        sys.modules["micropython"] = shim


def module(name: str) -> ModuleType:
    """Import a pure firmware module (`settings`, `protocol`) by name."""
    add_to_path()
    return importlib.import_module(name)
