"""The Studio page in a real browser (Debian's Chromium through Playwright) against a real
`attune studio` running two simulated instruments: what a therapist does, end to end.

Screenshots go to out/studio/ (look at them); ATTUNE_DOCS_IMAGES=1 also refreshes the guide's
pictures in docs/img/studio/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from benchmarks.studio_page import OUT, ROOT, running_studio

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
DOCS_IMG = ROOT / "docs" / "img" / "studio"
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_studio(["combo", "big-switch"], tmp_path_factory.mktemp("studio")) as h:
        yield h


@pytest.fixture
def page(browser, hub, tmp_path):
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.goto(hub.url)
    combo(p).get_by_role("meter", name="pad").wait_for()
    p.wait_for_function("window.attuneStudio.values.size === 2")
    yield p
    context.close()
    assert not errors, errors


def combo(page):
    return page.get_by_role("article", name="Combo")


def big_switch(page):
    return page.get_by_role("article", name="Big Switch")


def device_id(page, title: str) -> str:
    return page.evaluate(
        "(t) => [...window.attuneStudio.instruments.values()].find(i => i.title === t).id", title
    )


def level(page, dev: str, sensor: str) -> int:
    return page.evaluate(
        "([d, s]) => window.attuneStudio.levels.get(d + '/' + s) ?? -1", [dev, sensor]
    )


def shot(page, name: str, docs: bool = False) -> Path:
    """The whole page into out/studio/; the guide's pictures show the window, as a user sees it."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / (name + ".png")
    page.screenshot(path=str(path), full_page=not docs)
    if docs and os.environ.get("ATTUNE_DOCS_IMAGES"):
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS_IMG / path.name)
    return path


def axe_violations(page) -> list[dict]:
    """axe-core's WCAG 2.x A/AA (2.2 included) and best-practice findings, as the page is now."""
    if not AXE.exists():
        if os.environ.get("CI"):
            pytest.fail(str(AXE) + " is missing: `make setup` installs it (npm install).")
        pytest.skip("axe-core is not installed (npm install)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a',
                'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}});
            return r.violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.slice(0, 4)
                .map(n => n.target.join(' ') + ': ' + n.failureSummary)}));
        }"""
    )


def expect(target):
    """Playwright's `expect` (retries until its condition holds or the timeout passes),
    imported when a test runs, as the browser fixture imports Playwright."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def wait_message(page, text: str) -> None:
    """Until the page's message line says `text`."""
    page.wait_for_function(
        "(t) => document.querySelector('#message').textContent.includes(t)", arg=text
    )


def current(page):
    """The view on screen (the others are hidden)."""
    return page.locator("section.view:not([hidden])")


VIEW_IDS = {"Check-up": "doctor"}


def view_loaded(page, name: str) -> None:
    """Until view `name` shows, with what it fetches when opened (profiles, the journal)."""
    expect(page.locator("#view-" + VIEW_IDS.get(name, name.lower()))).to_be_visible()
    if name == "Profiles":
        page.locator("#profile-list li").first.wait_for()
    if name == "Journal":
        page.wait_for_function(
            "() => ['#journal-empty', '#journal-clients', '#journal-problem']"
            ".some((s) => !document.querySelector(s).hidden)"
        )


def open_view(page, name: str) -> None:
    page.get_by_role("navigation", name="Views").get_by_role("button", name=name).click()


# -- the cases ---------------------------------------------------------------------------------


def test_the_page_loads_with_both_instruments_and_stop_all_sound(page):
    assert page.title() == "Attune Studio"
    assert page.get_by_role("button", name="Stop all sound", exact=True).is_visible()
    for card, sensors in (
        (combo(page), ("switch", "pad", "hand")),
        (big_switch(page), ("switch",)),
    ):
        for s in sensors:
            assert card.get_by_role("meter", name=s, exact=True).is_visible()
        assert card.get_by_text("Simulated").is_visible()
    assert combo(page).get_by_role("slider", name="pad sensitivity").is_visible()
    # a moving sensor's meter moves at Studio's rate, 30 frames a second (the issue asks 20+);
    # a still one gets a frame a second (docs/protocol.md). The pad is moved from the page's
    # virtual input, a step every 20 ms; frames counted over the time that really passed in
    # the page (a busy machine stretches a wait)
    dev = device_id(page, "Combo")
    rate = page.evaluate(
        """([dev]) => new Promise((done) => {
            const s = window.attuneStudio;
            let frames = 0, k = 0;
            const count = (device, ch) => { if (device === dev && ch.name === "pad") frames++; };
            const move = setInterval(() => s.input(dev, "pad", (k++ % 50) / 50), 20);
            setTimeout(() => {
                s.meterListeners.add(count);
                const t0 = performance.now();
                setTimeout(() => {
                    s.meterListeners.delete(count);
                    clearInterval(move);
                    s.input(dev, "pad", 0);
                    done(frames / ((performance.now() - t0) / 1000));
                }, 2000);
            }, 300);
        })""",
        [dev],
    )
    assert rate >= 20, rate
    # (the pad let go: its meter back at rest, and its last note's flash faded, before the
    # guide's picture is taken)
    page.wait_for_function(
        """([d]) => (window.attuneStudio.levels.get(d + '/pad') ?? 0) < 100
            && [...document.querySelectorAll('.meter .flash')].every(
                (f) => getComputedStyle(f).opacity === '0')""",
        arg=[dev],
    )
    shot(page, "instruments", docs=True)


def test_pressing_the_virtual_input_shows_the_note_and_plays_it(page):
    dev = device_id(page, "Combo")
    pad = combo(page).get_by_role("button", name="Press pad")
    pad.hover()
    page.mouse.down()
    meter = combo(page).get_by_role("meter", name="pad", exact=True)
    page.wait_for_function("() => window.attuneSound.lastNote && window.attuneSound.lastNote.held")
    # the note comes at once; the meter at its next frame
    page.wait_for_function(
        "(m) => +m.getAttribute('aria-valuenow') > 30", arg=meter.element_handle()
    )
    assert re.match(r"♪ [A-G]#?-?\d", combo(page).locator(".note-mark").nth(1).inner_text())
    note = page.evaluate("window.attuneSound.lastNote")
    assert note["key"] == dev and 0 < note["velocity"] <= 127
    assert page.evaluate("window.attuneSound.held") >= 1
    shot(page, "playing", docs=True)
    page.mouse.up()
    page.wait_for_function("() => !window.attuneSound.lastNote.held")
    assert "last" in combo(page).locator(".note-mark").nth(1).inner_text()


def test_the_sensitivity_slider_changes_the_device(page, hub):
    dev = device_id(page, "Combo")
    slider = combo(page).get_by_role("slider", name="pad sensitivity")
    trigger_before = page.evaluate(
        "(d) => window.attuneStudio.meters.get(d + '/pad')[0].trigger", dev
    )
    slider.fill("40")
    page.wait_for_function(
        "(d) => window.attuneStudio.values.get(d)['pad.sensitivity'] === '40'", arg=dev
    )
    assert hub.get("pad.sensitivity", "combo") == "40"
    # the trigger line follows (a lower sensitivity needs a bigger movement)
    page.wait_for_function(
        "([d, t]) => window.attuneStudio.meters.get(d + '/pad')[0].trigger > t",
        arg=[dev, trigger_before],
    )
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "(d) => window.attuneStudio.values.get(d)['pad.sensitivity'] === '41'", arg=dev
    )
    assert hub.get("pad.sensitivity", "combo") == "41"
    expect(combo(page).get_by_text("Unsaved changes")).to_be_visible()
    slider.fill("75")
    page.wait_for_function(
        "(d) => window.attuneStudio.values.get(d)['pad.sensitivity'] === '75'", arg=dev
    )


def test_settings_are_plain_words_refusals_show_the_reason_and_undo_works(page, hub):
    open_view(page, "Settings")
    current(page).get_by_label("Instrument", exact=True).select_option(device_id(page, "Combo"))
    pad = page.locator(".setting-group").filter(has_text="Sensor: pad")
    if pad.get_attribute("open") is None:
        pad.locator(":scope > summary").click()
    dwell = pad.get_by_label("Hold before playing")
    assert "milliseconds" in pad.locator('.setting[data-key="pad.dwell"]').inner_text()
    assert not page.get_by_text("pad.dwell").count()  # raw keys only in the advanced view
    dwell.fill("5000")
    dwell.press("Enter")
    err = pad.locator('.setting[data-key="pad.dwell"] .error')
    err.wait_for()
    assert "Not changed" in err.inner_text() and "1000" in err.inner_text()
    assert hub.get("pad.dwell", "combo") == "0"
    dwell.fill("120")
    dwell.press("Enter")
    page.wait_for_function("() => !document.querySelector('#settings-undo').disabled")
    assert hub.get("pad.dwell", "combo") == "120"
    page.get_by_role("button", name="Compare with saved").click()
    expect(page.locator("#compare")).to_be_visible()
    shot(page, "settings", docs=True)
    page.get_by_label("Show setting names (advanced)").check()
    expect(page.get_by_text("Setting name: pad.dwell")).to_be_visible()
    page.get_by_role("button", name="Undo last change").click()
    page.wait_for_function(
        "() => document.querySelector('[data-key=\"pad.dwell\"] input').value === '0'"
    )
    assert hub.get("pad.dwell", "combo") == "0"


def test_calibration_from_start_to_apply(page, hub):
    open_view(page, "Calibrate")
    current(page).get_by_label("Instrument", exact=True).select_option(device_id(page, "Combo"))
    current(page).get_by_label("Sensor", exact=True).select_option("pad")
    page.get_by_role("button", name="Start calibration").click()
    phase = page.locator("#cal-phase")
    page.wait_for_function("() => window.attuneStudio.cal.phase === 'rest'")
    assert "Keep still" in phase.inner_text()
    assert re.fullmatch(r"[1-3] seconds?", page.locator("#cal-count").inner_text())
    assert page.locator("#view-calibrate").get_by_role("meter", name="pad").is_visible()
    page.wait_for_function("() => window.attuneStudio.cal.phase === 'move'")
    assert "move" in phase.inner_text()
    page.locator("#view-calibrate").get_by_label("Move pad").fill("70")
    # the picture shows the movement on the calibration's own meter
    page.wait_for_function(
        "(m) => +m.getAttribute('aria-valuenow') > 30",
        arg=page.locator("#view-calibrate").get_by_role("meter", name="pad").element_handle(),
    )
    shot(page, "calibrate", docs=True)
    page.get_by_role("button", name="Apply the result").wait_for()
    page.locator("#view-calibrate").get_by_label("Move pad").fill("0")
    assert "Done" in phase.inner_text()
    assert "=" not in phase.inner_text() and "calibrate apply" not in phase.inner_text()
    result = page.evaluate("window.attuneStudio.cal.result")
    rows = page.locator("#cal-table tr")
    assert rows.count() == 2 and str(result["sensitivity"]) in rows.nth(1).inner_text()
    shot(page, "calibrate-result", docs=True)
    violations = axe_violations(page)
    assert not violations, json.dumps(violations, indent=1)
    page.get_by_role("button", name="Apply the result").click()
    page.wait_for_function(
        "() => /Applied/.test(document.querySelector('#cal-phase').textContent)"
    )
    assert hub.get("pad.range", "combo") == str(result["range"])
    assert hub.get("pad.sensitivity", "combo") == str(result["sensitivity"])
    page.get_by_role("button", name="Close").click()
    assert page.locator("#cal-panel").is_hidden()


def test_a_profile_is_saved_renamed_exported_imported_and_deleted(page, tmp_path):
    open_view(page, "Profiles")
    current(page).get_by_label("Instrument", exact=True).select_option(device_id(page, "Combo"))
    page.get_by_label("Save the current settings as").fill("anna")
    page.get_by_role("button", name="Save profile").click()
    item = page.locator('#profile-list li[data-profile="anna"]')
    item.wait_for()
    assert "(in use)" in item.inner_text()
    expect(combo(page).locator(".badge.unsaved")).to_be_hidden()
    # rename, through a dialog
    item.get_by_role("button", name="Rename anna").click()
    dialog = page.get_by_role("dialog", name="Rename anna")
    dialog.get_by_label("New name").fill("anna_2")
    dialog.get_by_role("button", name="Rename").click()
    page.locator('#profile-list li[data-profile="anna_2"]').wait_for()
    assert not page.locator('#profile-list li[data-profile="anna"]').count()
    # export: a file like `attune profile export` writes
    with page.expect_download() as dl:
        page.get_by_role("button", name="Export anna_2").click()
    path = tmp_path / "anna_2.json"
    dl.value.save_as(path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "attune-profile" and doc["name"] == "anna_2"
    assert doc["values"]["pad.sensitivity"]
    shot(page, "profiles", docs=True)
    # import under the same name: asks before replacing
    doc["values"]["pad.sensitivity"] = "33"
    path.write_text(json.dumps(doc))
    with page.expect_file_chooser() as fc:
        page.get_by_role("button", name="Import a profile file…").click()
    fc.value.set_files(str(path))
    dialog = page.get_by_role("dialog", name=re.compile("^Import"))
    assert dialog.get_by_label("Profile name").input_value() == "anna_2"
    dialog.get_by_role("button", name="Import").click()
    replace = page.get_by_role("dialog", name="Replace anna_2?")
    replace.get_by_role("button", name="Replace anna_2").click()
    page.wait_for_function(
        "() => /Imported anna_2/.test(document.querySelector('#message').textContent)"
    )
    dev = device_id(page, "Combo")
    assert (
        page.evaluate("(d) => window.attuneStudio.values.get(d)['pad.sensitivity']", dev) == "33"
    )
    # delete, confirmed
    page.get_by_role("button", name="Delete anna_2").click()
    page.get_by_role("dialog", name="Delete anna_2?").get_by_role(
        "button", name="Delete anna_2"
    ).click()
    page.wait_for_function(
        "() => !document.querySelector('#profile-list li[data-profile=\"anna_2\"]')"
    )


def combo_card_unsaved(page) -> bool:
    return combo(page).locator(".badge.unsaved").is_visible()


def test_stop_all_sound_silences_a_held_note(page):
    # held from the keyboard, stopped with Escape
    press = combo(page).get_by_role("button", name="Press pad")
    press.focus()
    page.keyboard.down(" ")
    page.wait_for_function("() => window.attuneSound.held >= 1")
    page.keyboard.press("Escape")
    page.wait_for_function("() => window.attuneSound.held === 0")
    page.keyboard.up(" ")
    # the device reports the release (a meter frame, or the end of the note it played again
    # and the page kept silent) before the next movement, as a hand lets go before it presses
    # again: a dip under the release level that comes back within 50 ms is the same press,
    # and would stay silent, as a press held through "Stop all sound" does
    pad = device_id(page, "Combo") + "/pad"
    page.wait_for_function("(k) => !window.attuneStudio.hushed.has(k)", arg=pad)
    # held by the movement slider (nobody holding a key), stopped with the button
    move = combo(page).get_by_label("Move pad")
    move.fill("100")
    page.wait_for_function("() => window.attuneSound.held >= 1")
    page.get_by_role("button", name="Stop all sound", exact=True).click()
    page.wait_for_function("() => window.attuneSound.held === 0")
    assert "All sound stopped" in page.locator("#message").inner_text()
    # still held: it stays silent while the instrument goes on reporting (4 more meter frames,
    # however long a busy machine takes to send them)
    frames = page.evaluate("window.attuneStudio.meterFrames")
    page.wait_for_function("(n) => window.attuneStudio.meterFrames >= n + 4", arg=frames)
    assert page.evaluate("window.attuneSound.held") == 0
    move.fill("0")


def test_two_instruments_play_at_once(page):
    combo_id = device_id(page, "Combo")
    big_id = device_id(page, "Big Switch")
    combo(page).get_by_label("Move pad").fill("100")
    big_switch(page).get_by_role("button", name="Press switch").hover()
    page.mouse.down()
    page.wait_for_function(
        "(d) => window.attuneStudio.levels.get(d + '/switch') > 8000", arg=big_id
    )
    page.wait_for_function(
        """([a, b]) => { const keys = [...window.attuneSound.voices.keys()];
            return keys.some(k => k.startsWith(a + ':'))
                && keys.some(k => k.startsWith(b + ':')); }""",
        arg=[combo_id, big_id],
    )
    assert level(page, combo_id, "switch") < 100  # each card shows its own instrument
    page.mouse.up()
    combo(page).get_by_label("Move pad").fill("0")
    page.wait_for_function("() => window.attuneSound.held === 0")
    # group controls: one key and scale for everyone
    page.get_by_label("Key", exact=True).select_option("D")
    page.get_by_label("Scale", exact=True).select_option("minor")
    page.get_by_role("button", name="Change key and scale for everyone").click()
    wait_message(page, "Everyone now plays in D minor")
    for dev in (combo_id, big_id):
        values = page.evaluate("(d) => window.attuneStudio.values.get(d)", dev)
        assert values["root"] == "D" and values["scale"] == "minor"


def test_sound_volume_mute_and_timbre(page):
    open_view(page, "Sound")
    page.get_by_label("Volume").fill("30")
    assert page.evaluate("window.attuneSound.volume") == pytest.approx(0.3)
    page.get_by_label("Sound of the notes").select_option("warm")
    page.get_by_role("button", name="Play a test note").click()
    page.wait_for_function("() => window.attuneSound.lastNote.key === 'test'")
    mute = page.get_by_role("button", name="Mute")
    mute.click()
    assert mute.get_attribute("aria-pressed") == "true" and page.evaluate(
        "window.attuneSound.muted"
    )
    page.get_by_role("button", name="Sound is muted").click()
    assert not page.evaluate("window.attuneSound.muted")
    assert "Notes come from Studio" in page.locator("#sound-source").inner_text()


@pytest.mark.parametrize(
    "view", ["Instruments", "Settings", "Calibrate", "Profiles", "Sound", "Journal", "Check-up"]
)
def test_axe_finds_no_violations(page, view):
    open_view(page, view)
    if view == "Settings":
        page.get_by_label("Show setting names (advanced)").check()
    if view == "Profiles":
        page.locator("#profile-list li").first.wait_for()
    violations = axe_violations(page)
    assert not violations, json.dumps(violations, indent=1)


def test_reduced_motion_means_no_flash(browser, hub):
    context = browser.new_context(viewport=DESKTOP, reduced_motion="reduce")
    page = context.new_page()
    try:
        page.goto(hub.url)
        combo(page).get_by_role("meter", name="pad").wait_for()
        page.evaluate(
            """() => { window.flashes = 0; new MutationObserver(() => {
                if (document.querySelector('.meter.note')) window.flashes++; })
                .observe(document.body, {attributes: true, subtree: true}); }"""
        )
        combo(page).get_by_role("button", name="Press switch").hover()
        page.mouse.down()
        page.wait_for_function("() => window.attuneSound.held >= 1")
        # the note's meter frames have come (a flash would show on them)
        frames = page.evaluate("window.attuneStudio.meterFrames")
        page.wait_for_function("(n) => window.attuneStudio.meterFrames >= n + 2", arg=frames)
        page.mouse.up()
        assert page.evaluate("window.flashes") == 0
    finally:
        context.close()


def test_axe_finds_no_violations_in_a_dialog(page):
    open_view(page, "Profiles")
    page.get_by_label("Save the current settings as").fill("ben")
    page.get_by_role("button", name="Save profile").click()
    page.get_by_role("button", name="Rename ben").click()
    violations = axe_violations(page)
    page.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="Delete ben").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete ben").click()
    assert not violations, json.dumps(violations, indent=1)


@pytest.mark.parametrize(
    "name, viewport, scale",
    [
        ("zoom200", {"width": 640, "height": 450}, 2),  # a 1280 px window at 200 % zoom
        ("tablet", {"width": 768, "height": 1024}, 1),
    ],
)
def test_200_percent_zoom_and_tablet_width_reflow(browser, hub, name, viewport, scale):
    context = browser.new_context(viewport=viewport, device_scale_factor=scale)
    page = context.new_page()
    page.goto(hub.url)
    combo(page).get_by_role("meter", name="pad").wait_for()
    try:
        views = (
            "Instruments",
            "Settings",
            "Calibrate",
            "Profiles",
            "Sound",
            "Journal",
            "Check-up",
        )
        for view in views:
            open_view(page, view)
            view_loaded(page, view)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (view, overflow)
            shot(page, name + "-" + view.lower(), docs=name == "tablet" and view == "Instruments")
        # every control is at least 44 by 44 CSS pixels (WCAG 2.5.8 asks 24; we keep 44)
        small = page.evaluate(
            """() => [...document.querySelectorAll('button, select, input, summary')]
                .filter(e => e.offsetParent !== null && !e.classList.contains('visually-hidden'))
                .map(e => [e.textContent.trim() || e.id || e.type,
                    (e.type === 'checkbox' ? e.closest('label') || e : e).getBoundingClientRect()])
                .filter(([, r]) => r.width < 44 || r.height < 44)
                .map(([n, r]) => n + ' ' + Math.round(r.width) + 'x' + Math.round(r.height))"""
        )
        assert not small, small
    finally:
        context.close()
