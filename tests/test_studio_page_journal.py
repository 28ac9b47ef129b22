"""The Studio page's session journal (issue 15) in a real browser: the recording state on each
card, the Cue button and the C key, a note, and the Journal view (clients, a client's figures
with plain captions, the HTML report to download); axe-core on the Journal view.

Screenshots go to out/studio/; ATTUNE_DOCS_IMAGES=1 also refreshes docs/img/studio/.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from test_studio_page import DESKTOP, DOCS_IMG, axe_violations, open_view, shot

from benchmarks.studio_page import OUT
from host_tools.hub.instrument import wait_until
from host_tools.hub.studio import Studio

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="simulated instruments use a pty")

SIM = "sim-combo-1"


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    s = Studio(tmp_path_factory.mktemp("studio-page-journal"), sims=["combo"], discover=None)
    s.start_in_thread()
    try:
        assert wait_until(lambda: s.hub.instruments[SIM].connected, 30)
        yield s
    finally:
        s.stop()


def ask(studio: Studio, line: str) -> str:
    req = urllib.request.Request(
        studio.url + "api/request",
        data=json.dumps({"device": SIM, "line": line}).encode(),
        headers={"X-Attune-Token": studio.token},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())["reply"]


def card_shot(card: Any, name: str) -> None:
    """One card into out/studio/ (and the guide's pictures with ATTUNE_DOCS_IMAGES=1)."""
    OUT.mkdir(parents=True, exist_ok=True)
    page = card.page
    page.set_viewport_size({"width": DESKTOP["width"], "height": 1500})  # the whole card shows
    page.evaluate("window.scrollTo(0, 0)")
    card.screenshot(path=str(OUT / (name + ".png")))
    page.set_viewport_size(DESKTOP)
    if os.environ.get("ATTUNE_DOCS_IMAGES"):
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copy(OUT / (name + ".png"), DOCS_IMG / (name + ".png"))


@pytest.fixture
def page(browser: Any, studio: Studio) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.goto(studio.url)
    p.get_by_role("article", name="Combo").get_by_role("meter", name="pad").wait_for()
    yield p
    context.close()
    assert not errors, errors


def test_cue_button_key_and_note_are_recorded_and_the_journal_view_shows_them(
    page: Any, studio: Studio, tmp_path: Any
) -> None:
    card = page.get_by_role("article", name="Combo")
    inst = studio.hub.instruments[SIM]
    if not inst.status.get("profile"):
        card.get_by_text("Not recording: choose this client's profile.").wait_for()
        assert card.get_by_role("button", name="Cue").is_disabled()
    assert ask(studio, "profile save anna").startswith("OK")
    card.get_by_text("Recording anna's session.").wait_for()
    rec = inst.recorder
    assert rec is not None and rec.client == "anna"
    # the Cue button, then the C key (listed in the key help)
    card.get_by_role("button", name="Cue").click()
    page.locator("#message").get_by_text("Cue marked for anna on Combo.").wait_for()
    assert "C" in page.locator("#key-help").inner_text()
    page.locator("h2#h-instruments").click()  # focus on the page, not in a field
    page.keyboard.press("c")
    assert wait_until(lambda: rec.stats()["cues"] == 2, 5), rec.stats()
    # the client answers: the virtual switch pressed twice
    button = card.get_by_role("button", name="Press switch")
    for _ in range(2):
        button.hover()
        page.mouse.down()
        page.wait_for_timeout(250)
        page.mouse.up()
        page.wait_for_timeout(400)
    assert wait_until(lambda: rec.stats()["activations"] == 2, 5), rec.stats()
    assert rec.stats()["responded"] == 2  # each cue's next press came within its window
    card.get_by_text("2 presses, 2 of 2 cues answered.").wait_for()
    # typing a C in the note field is text, not a cue
    card.get_by_label("Note for this session").fill("Chose the bell herself.")
    card.get_by_role("button", name="Add note").click()
    page.locator("#message").get_by_text("Note kept with anna's session.").wait_for()
    assert rec.stats()["cues"] == 2
    card_shot(card, "journal-card")
    # another profile ends anna's session: the Journal view shows it
    assert ask(studio, "profile save ben").startswith("OK")
    card.get_by_text("Recording ben's session.").wait_for()
    open_view(page, "Journal")
    page.get_by_role("button", name="Show anna's figures").click()
    report = page.get_by_role("region", name="anna: 1 session")
    report.wait_for()
    row = report.get_by_role("row").nth(1)
    assert "2 of 2 (consistent)" in row.inner_text()
    assert page.locator("#journal-captions li").count() >= 1
    live = page.locator("#journal-live")
    live.get_by_text("recording ben's session").wait_for()
    shot(page, "journal", docs=True)
    violations = axe_violations(page)
    assert not violations, json.dumps(violations, indent=1)
    with page.expect_download() as got:
        page.get_by_role("link", name="Download anna's report (HTML)").click()
    path = tmp_path / got.value.suggested_filename
    got.value.save_as(path)
    assert got.value.suggested_filename == "anna-report.html"
    assert "anna" in path.read_text()
