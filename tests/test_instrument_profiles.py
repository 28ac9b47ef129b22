"""Every instrument's default profile is valid and plays well out of the box."""

import json
from pathlib import Path

import pytest
from enginekit import build, notes_on, run
from settings import Settings

INSTRUMENTS = sorted((Path(__file__).parents[1] / "boards" / "instruments").glob("*.json"))


@pytest.mark.parametrize("path", INSTRUMENTS, ids=[p.stem for p in INSTRUMENTS])
def test_default_profile_is_accepted_by_the_settings_schema(path):
    conf = json.loads(path.read_text())
    st = Settings([c["name"] for c in conf["channels"]])
    assert st.apply(conf["profile"]) == []


def test_big_switch_walks_through_its_tune_one_note_per_press():
    conf = json.loads((INSTRUMENTS[0].parent / "big-switch.json").read_text())
    taps = ([0] * 200 + [1] * 100) * 5
    inst = build({"switch": taps}, kinds={"switch": "switch"}, settings=conf["profile"])
    notes = [e[3] for e in notes_on(run(inst, len(taps)))]
    assert notes == [60, 62, 64, 67, 69]
