"""The USB drivers (micropython-lib's usb-device-midi, and usb-device-cdc for the serial port
the play loop talks through: firmware/usbserial.py) kept in this computer's cache, so
`attune deploy --offline` can install them without internet: `attune deploy --fetch-deps` fills
it. A board without usb-device-cdc still plays, on MicroPython's built-in serial port (slower).

Usage: fetch(); files = local_copy()   # [(path under /lib on the board, file here), ...]
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from host_tools.errors import DeployFailed

PACKAGE = "usb-device-midi"  # (also names the cache folder)
PACKAGES = (PACKAGE, "usb-device-cdc")
INDEX = "https://micropython.org/pi/v2"  # micropython-lib's package index (what mip uses)
MPY = "6"  # .mpy version 6: MicroPython 1.23 and later (what `mip` picks on such a board)
_MANIFEST = "manifest.json"
_TIMEOUT_S = 20


def cache_dir() -> Path:
    """Where downloads are kept: $ATTUNE_CACHE, else the user's cache folder (platformdirs),
    else ~/.cache/attune."""
    override = os.environ.get("ATTUNE_CACHE")
    if override:
        return Path(override)
    try:
        import platformdirs

        return Path(platformdirs.user_cache_dir("attune", appauthor=False))
    except ImportError:
        return Path.home() / ".cache" / "attune"


def package_dir(cache: Path | None = None) -> Path:
    return (cache or cache_dir()) / (PACKAGE + "-mpy" + MPY)


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as reply:
        return reply.read()


def fetch(index: str | None = None, cache: Path | None = None) -> dict[str, Any]:
    """Download PACKAGES and their dependencies (as `mip install` would) from `index`
    (default INDEX) into the cache; returns the manifest. Raises DeployFailed in plain words
    when offline."""
    index = index or INDEX
    target = package_dir(cache)
    files: dict[str, str] = {}
    versions: dict[str, str] = {}
    todo = [(name, "latest") for name in PACKAGES]
    try:
        while todo:
            name, version = todo.pop(0)
            if name in versions:
                continue
            meta = json.loads(
                _get(index + "/package/" + MPY + "/" + name + "/" + version + ".json")
            )
            versions[name] = str(meta.get("version", version))
            for dest, short_hash in meta.get("hashes", ()):
                data = _get(index + "/file/" + short_hash[:2] + "/" + short_hash)
                if not hashlib.sha256(data).hexdigest().startswith(short_hash):
                    raise DeployFailed(
                        "The download of " + dest + " (" + name + ") was "
                        "damaged. Run attune deploy --fetch-deps again."
                    )
                out = target / "lib" / dest
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(data)
                files[dest] = short_hash
            todo += [(dep, ver) for dep, ver in meta.get("deps", ())]
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise DeployFailed(
            "Could not download "
            + " and ".join(PACKAGES)
            + " from "
            + index
            + " ("
            + str(reason)
            + "). This computer seems to be offline. Connect it to the internet "
            "once and run 'attune deploy --fetch-deps' again; after that, "
            "'attune deploy --offline' needs no internet."
        ) from None
    manifest = {
        "package": PACKAGE,
        "index": index,
        "mpy": MPY,
        "versions": versions,
        "files": files,
    }
    (target / _MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def local_copy(cache: Path | None = None) -> list[tuple[str, Path]]:
    """The cached files as (path on the board, e.g. "lib/usb/device/midi.mpy", file here).
    Raises DeployFailed when --fetch-deps has not been run yet."""
    target = package_dir(cache)
    try:
        manifest = json.loads((target / _MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise DeployFailed(
            "There is no local copy of "
            + PACKAGE
            + " in "
            + str(target)
            + " yet. Run 'attune deploy --fetch-deps' once on a computer with "
            "internet, then 'attune deploy --offline' works without it."
        ) from None
    out = []
    for dest in sorted(manifest.get("files", {})):
        path = target / "lib" / dest
        if not path.is_file():
            raise DeployFailed(
                "The local copy of " + PACKAGE + " in " + str(target) + " is "
                "missing " + dest + ". Run 'attune deploy --fetch-deps' again."
            )
        out.append(("lib/" + dest, path))
    return out
