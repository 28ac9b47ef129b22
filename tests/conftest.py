"""Test set-up shared by every test: firmware/ and the repo on sys.path, and the two
MicroPython names the pure core needs on CPython (`micropython.const`, `time.ticks_*`); the
same set-up the benchmarks use (benchmarks/engine.py)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.engine import firmware_on_path  # noqa: E402

firmware_on_path()

# Hypothesis' per-example deadline (200 ms) measures the machine, not the code: on a loaded CI
# runner a 0.05 ms example once took 283 ms. The property tests check behaviour; speed has its
# own benchmarks.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("attune", deadline=None)
_hypothesis_settings.load_profile("attune")


# -- a browser for the Studio page tests (tests/test_studio*.py) --------------------------------
# Debian's Chromium (Playwright's own browser download is not available); `make setup` installs
# it. Browser tests skip on a developer's machine without it, never on CI.
import os  # noqa: E402

import pytest  # noqa: E402

from benchmarks.studio_page import CHROMIUM, CHROMIUM_ARGS  # noqa: E402


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session (Playwright, sync API)."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(
                CHROMIUM + " is missing: `make setup` installs it (apt-get install chromium)."
            )
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
