"""Setting values given as text are read the same on CPython as on MicroPython (the simulator
must start on what a Pico accepts, and refuse what it refuses): the table in
tests/micropython/settings_cases.py, which check_settings.py runs in the MicroPython VM."""

import sys
from pathlib import Path

import pytest
import settings as S

sys.path.insert(0, str(Path(__file__).parent / "micropython"))
from settings_cases import CASES  # noqa: E402


@pytest.mark.parametrize("key, text, want", CASES, ids=[repr(c[1]) for c in CASES])
def test_text_is_read_as_on_micropython(key, text, want):
    s = S.Settings(("switch", "pad"))
    why = s.set(key, text)
    assert (None if why is not None else s.get(key)[0]) == want, why


def test_a_stored_profile_micropython_accepts_starts_the_simulated_instrument_too():
    from profiles import apply_values

    s = S.Settings(("switch", "pad"))
    notes = apply_values(s, {"pad.sensitivity": " 7", "pad.melody": "60,64", "scale": "Blues "})
    assert notes == [] and s.get("pad.sensitivity")[0] == "7"
