"""docs/hardware.md agrees with the firmware: the FSR divider options it offers stay clear of
the rail fault, the LPS22's full scale and the GP23 note match the code, and every wiring
picture the docs show exists."""

import json
import re
from pathlib import Path

import pytest
from enginekit import build
from sensors.lps22 import SPAN_PA

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
HARDWARE = (DOCS / "hardware.md").read_text(encoding="utf-8")
ADC_STEP = 16  # one step of the RP2040's 12-bit ADC in read_u16 units


def reading(r_fixed: int, r_fsr: int, r_series: int = 0) -> int:
    """read_u16 of 3V3 -> (series) -> FSR -> pin -> r_fixed -> AGND, for an ideal ADC."""
    return round(65535 * r_fixed / (r_fixed + r_series + r_fsr))


def on_rail():
    pad = build({"pad": [1000]}).channels[0]
    return pad.on_rail


def test_the_documented_rail_threshold_is_the_firmwares():
    rail = on_rail()
    threshold = next(v for v in range(60000, 65536) if rail(v))
    assert f"{threshold:,}".replace(",", " ") in HARDWARE  # "65 408"


@pytest.mark.parametrize("r_fixed, r_series", [(4700, 0), (10000, 0), (47000, 1000)])
def test_documented_fsr_dividers_stay_below_the_rail_fault(r_fixed, r_series):
    rail = on_rail()
    for r_fsr in (3000, 300, 100):  # a firm press to as hard as a hand presses an FSR 406
        # with 8 ADC steps to spare for the ADC's own offset and gain error
        assert not rail(reading(r_fixed, r_fsr, r_series) + 8 * ADC_STEP), (r_fixed, r_fsr)


def test_a_47k_divider_alone_would_reach_the_rail_so_it_is_not_offered():
    assert on_rail()(reading(47000, 100) + 2 * ADC_STEP)
    assert "47 kΩ with 1 kΩ in series" in HARDWARE


def test_the_lps22_full_scale_is_the_firmwares():
    assert SPAN_PA == 10_000
    assert "full level is 10 kPa above rest" in HARDWARE
    assert "126 000 Pa, about 25 kPa above rest" not in HARDWARE


def test_gp23_is_not_advised_and_not_on_any_board():
    for path in (ROOT / "boards").glob("pico*.json"):
        assert 23 not in json.loads(path.read_text(encoding="utf-8"))["gpio"], path.name
    assert "Attune does not use it" in HARDWARE
    assert "driving GP23 high\n  switches" not in HARDWARE


def test_every_instrument_has_its_picture_in_hardware_md():
    for path in (ROOT / "boards" / "instruments").glob("*.json"):
        assert "img/wiring/" + path.stem + "-pico.svg" in HARDWARE, path.stem


def test_every_picture_the_docs_show_exists():
    pages = list(DOCS.glob("*.md")) + [ROOT / "README.md"]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for link in re.findall(r"\((?:docs/)?(img/[^)\s]+)\)", text):
            assert (DOCS / link).is_file(), (page.name, link)


def test_the_arcade_button_is_wired_com_and_no():
    assert "COM to the plug's sleeve and NO" in HARDWARE
    assert "Never NC" in HARDWARE


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to dashes."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


@pytest.mark.parametrize("page", ["getting-started.md", "troubleshooting.md", "hardware.md"])
def test_links_between_the_makers_pages_land_on_a_heading(page):
    text = (DOCS / page).read_text(encoding="utf-8")
    for target, anchor in re.findall(r"\]\(([\w.-]*\.md|)#([\w-]+)\)", text):
        other = (DOCS / target).read_text(encoding="utf-8") if target else text
        slugs = {_slug(h) for h in re.findall(r"^#+ (.+)$", other, re.M)}
        assert anchor in slugs, (page, target, anchor)
