"""The wiring pictures in docs/img/wiring/ are drawn from the board and instrument JSON: they
regenerate identically, name the pins the JSON names, and are never stale."""

import pytest

from host_tools import diagrams

WIRING = diagrams.WIRING_DIR
REGENERATE = "regenerate them with: python -m host_tools.diagrams"


def test_committed_pictures_match_the_json():
    fresh = diagrams.all_svgs()
    committed = {p.name for p in WIRING.glob("*.svg")}
    assert committed == set(fresh), "docs/img/wiring/ has the wrong files; " + REGENERATE
    stale = [
        name for name, svg in fresh.items() if (WIRING / name).read_text(encoding="utf-8") != svg
    ]
    assert not stale, "stale wiring pictures " + ", ".join(stale) + "; " + REGENERATE


def test_a_picture_is_the_same_text_every_time():
    assert diagrams.diagram_svg("pico", "combo") == diagrams.diagram_svg("pico", "combo")
    assert diagrams.jack_svg() == diagrams.jack_svg()


@pytest.mark.parametrize("inst", diagrams.instruments())
def test_every_pin_in_the_instrument_is_labelled_with_its_header_pin(inst):
    _, conf = diagrams.load("pico", inst)
    svg = diagrams.diagram_svg("pico", inst)
    for ch in conf["channels"]:
        for key in ("pin", "sda", "scl"):
            if key in ch:
                gpio = ch[key]
                label = "GP" + str(gpio) + " · " + str(diagrams.header_pin(gpio))
                label_right = str(diagrams.header_pin(gpio)) + " · GP" + str(gpio)
                assert label in svg or label_right in svg, (inst, ch["name"], key)


def test_the_header_table_covers_every_board_gpio():
    for board in diagrams.boards():
        conf, _ = diagrams.load(board, "big-switch")
        for gpio in conf["gpio"]:
            pin = diagrams.header_pin(gpio)
            assert diagrams.HEADER[pin] == "GP" + str(gpio)
    # the Pico datasheet's pinout, spot-checked
    assert diagrams.header_pin(15) == 20 and diagrams.header_pin(26) == 31
    assert diagrams.HEADER[36] == "3V3(OUT)" and diagrams.HEADER[33] == "AGND"


def test_a_pin_the_board_lacks_is_refused(monkeypatch):
    real = diagrams.load

    def load(board_id, inst_id):
        board, inst = real(board_id, inst_id)
        board["gpio"] = [g for g in board["gpio"] if g != 15]
        return board, inst

    monkeypatch.setattr(diagrams, "load", load)
    with pytest.raises(ValueError, match="GP15"):
        diagrams.diagram_svg("pico", "big-switch")
