"""The one place the host tools and the simulator find `firmware/` and `boards/`, and reach into
the firmware: pure modules (settings, protocol, version) are imported from there rather than
rewritten. Usage: settings = firmware.module("settings")

In a checkout (or an editable install) both folders sit beside host_tools/; an installed wheel
carries them as attune/firmware and attune/boards (pyproject.toml's package-dir).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

REPO_DIR = Path(__file__).resolve().parent.parent  # the checkout; site-packages when installed
_PACKAGED = REPO_DIR / "attune"
INSTALLED = (_PACKAGED / "firmware" / "main.py").is_file()
DATA_DIR = _PACKAGED if INSTALLED else REPO_DIR
FIRMWARE_DIR = DATA_DIR / "firmware"
BOARDS_DIR = DATA_DIR / "boards"


def _cache_dir() -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


# Where generated files go (deploy's staging folder): build/ in a checkout, never site-packages.
BUILD_DIR = _cache_dir() / "attune" if INSTALLED else REPO_DIR / "build"


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
    """Import a pure firmware module (`settings`, `protocol`, `version`) by name."""
    add_to_path()
    return importlib.import_module(name)


def version() -> str:
    """The one version of the firmware and the tools: firmware/version.py's FIRMWARE, which
    pyproject.toml reads too. Loaded from the file under a private name, so whatever else is
    called `version` on sys.path cannot answer instead."""
    spec = importlib.util.spec_from_file_location(
        "_attune_firmware_version", FIRMWARE_DIR / "version.py"
    )
    if spec is None or spec.loader is None:
        raise RuntimeError(f"Cannot read the firmware version from {FIRMWARE_DIR}.")
    found = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(found)
    return found.FIRMWARE
