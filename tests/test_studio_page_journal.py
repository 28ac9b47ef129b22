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
from test_studio_page import DESKTOP, DOCS_IMG, axe_violations, expect, open_view, shot

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
    assert wait_until(lambda: rec.stats()["cues"] == 2, 15), rec.stats()
    # the client answers: the virtual switch pressed twice
    button = card.get_by_role("button", name="Press switch")
    for _ in range(2):
        button.hover()
        page.mouse.down()
        page.wait_for_function("() => window.attuneSound.held >= 1")  # the instrument plays it
        page.mouse.up()
        page.wait_for_function("() => window.attuneSound.held === 0")
        # past the switch's lockout, by the instrument's clock: 4 more meter frames (8 a second)
        frames = page.evaluate("window.attuneStudio.meterFrames")
        page.wait_for_function("(n) => window.attuneStudio.meterFrames >= n + 4", arg=frames)
    assert wait_until(lambda: rec.stats()["activations"] == 2, 15), rec.stats()
    # each cue's next press came within its window (settled once the presses are over)
    assert wait_until(lambda: rec.stats()["responded"] == 2, 15), rec.stats()
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
    # a session shorter than a minute says so, not "0" minutes
    assert row.get_by_role("cell").nth(0).inner_text() == "under 1"
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


def test_goals_are_added_scored_and_listed_and_the_answer_time_is_set(
    page: Any, studio: Studio
) -> None:
    inst = studio.hub.instruments[SIM]
    if inst.recorder is None:  # run alone: a client with a session
        assert ask(studio, "profile save anna").startswith("OK")
        assert wait_until(lambda: inst.recorder is not None, 15), inst.not_recording
        assert ask(studio, "profile save ben").startswith("OK")
    open_view(page, "Journal")
    # the answer time: shown, set for the session recording now, refused in plain words
    field = page.get_by_label("An answer counts within")
    page.wait_for_function("() => window.attuneStudio.cueWindowShown")  # Studio's, not the HTML's
    assert field.input_value() == "5"
    field.fill("8")
    page.get_by_role("button", name="Set answer time").click()
    page.locator("#message").get_by_text(
        "An answer now counts within 8 seconds of a cue."
    ).wait_for()
    assert studio.hub.cue_window_ms == 8000
    assert wait_until(lambda: inst.recorder is not None, 15)
    assert inst.recorder.cue_window_ms == 8000
    field.fill("45")
    field.press("Enter")  # the keyboard submits too
    page.locator("#message").get_by_text("within 1 to 30 seconds of a cue").wait_for()
    assert studio.hub.cue_window_ms == 8000
    # a goal for anna, scored for today, listed with its GAS words
    page.get_by_role("button", name="Show anna's figures").click()
    goals = page.get_by_role("region", name="anna's goals")
    goals.wait_for()
    goals.get_by_text("No goals yet").wait_for()
    goals.get_by_label("New goal").fill("Starts a note when asked")
    goals.get_by_role("button", name="Add goal").click()
    page.locator("#message").get_by_text("Goal added for anna.").wait_for()
    item = goals.get_by_role("listitem").filter(has_text="Starts a note when asked")
    item.get_by_text("Not scored yet.").wait_for()
    item.get_by_label("Score for today").select_option(label="+1 somewhat more than expected")
    item.get_by_role("button", name="Save score").click()
    page.locator("#message").get_by_text(
        "Scored 'Starts a note when asked': +1 somewhat more than expected."
    ).wait_for()
    # kept with anna's session of today (it ended when ben's profile was loaded)
    page.locator("#message").get_by_text("Kept with the session of").wait_for()
    item = goals.get_by_role("listitem").filter(has_text="Starts a note when asked").first
    item.get_by_text("+1 somewhat more than expected", exact=False).first.wait_for()
    # keyboard only: a second score for today, the select and the button reached by Tab
    select = item.get_by_label("Score for today")
    select.focus()
    select.select_option(value="2")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.locator("#message").get_by_text("+2 much more than expected.").wait_for()
    history = goals.locator(".gas-history li")
    expect(history).to_have_count(2)  # the list is drawn again after the message
    assert "+1 somewhat more" in history.nth(0).inner_text()
    assert "+2 much more" in history.nth(1).inner_text()
    from host_tools.journal import open_journal

    journal = open_journal(studio.data_dir)
    try:
        (goal,) = journal.goals("anna")
        anna = journal.sessions("anna")[-1]["id"]
    finally:
        journal.close()
    assert [s["score"] for s in goal["scores"]] == [1, 2]
    assert [s["session_id"] for s in goal["scores"]] == [anna, anna]
    assert "(session of " in history.nth(0).inner_text()
    # targets a finger can hit
    for target in (field, select, goals.get_by_role("button", name="Add goal")):
        box = target.bounding_box()
        assert box and box["height"] >= 44, box
    goals.scroll_into_view_if_needed()
    shot(page, "journal-goals", docs=True)
    violations = axe_violations(page)
    assert not violations, json.dumps(violations, indent=1)
    # back to the default for other tests
    field.fill("5")
    page.get_by_role("button", name="Set answer time").click()
    page.locator("#message").get_by_text("within 5 seconds").wait_for()


def test_a_goal_scored_during_a_session_is_kept_with_it(page: Any, studio: Studio) -> None:
    inst = studio.hub.instruments[SIM]
    assert ask(studio, "profile save cara").startswith("OK")
    assert wait_until(lambda: inst.recorder is not None and inst.recorder.client == "cara", 15)
    assert wait_until(lambda: inst.recorder.session_id is not None, 15)
    live = inst.recorder.session_id
    open_view(page, "Journal")
    page.get_by_role("button", name="Show cara's figures").click()
    goals = page.get_by_role("region", name="cara's goals")
    goals.get_by_text("No goals yet").wait_for()
    goals.get_by_label("New goal").fill("Plays along with the drum")
    goals.get_by_role("button", name="Add goal").click()
    item = goals.get_by_role("listitem").filter(has_text="Plays along with the drum")
    item.get_by_label("Score for today").select_option(value="0")
    item.get_by_role("button", name="Save score").click()
    page.locator("#message").get_by_text("Kept with the session of").wait_for()
    history = goals.locator(".gas-history li")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("0 the expected level (session of ")
    from host_tools.journal import open_journal

    journal = open_journal(studio.data_dir)
    try:
        (goal,) = journal.goals("cara")
    finally:
        journal.close()
    assert [(s["score"], s["session_id"]) for s in goal["scores"]] == [(0, live)]


def test_the_answer_time_set_on_the_page_is_kept_when_studio_starts_again(
    browser: Any, tmp_path: Any
) -> None:
    def journal_view(studio: Studio) -> tuple[Any, Any]:
        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        page.goto(studio.url)
        open_view(page, "Journal")
        page.wait_for_function("() => window.attuneStudio.cueWindowShown")
        return context, page.get_by_label("An answer counts within")

    studio = Studio(tmp_path, sims=[], discover=None).start_in_thread()
    try:
        context, field = journal_view(studio)
        expect(field).to_have_value("5")
        field.fill("12")
        field.press("Enter")
        field.page.locator("#message").get_by_text("within 12 seconds of a cue.").wait_for()
        context.close()
    finally:
        studio.stop()
    studio = Studio(tmp_path, sims=[], discover=None).start_in_thread()
    try:
        assert studio.hub.cue_window_ms == 12000
        context, field = journal_view(studio)
        expect(field).to_have_value("12")
        context.close()
    finally:
        studio.stop()
