"""The Studio page's Check-up view (`attune doctor` through the hub) and Web MIDI (notes straight
from an instrument's USB MIDI port), in a real browser against a Studio in this process holding a
simulated combo and a (fake) Pico on USB.

Screenshots go to out/studio/; ATTUNE_DOCS_IMAGES=1 also refreshes docs/img/studio/.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import serial
from host_fake import FakeAttune, FakeSerial
from test_studio_page import DESKTOP, axe_violations, open_view, shot

from firmware.version import FIRMWARE
from host_tools.client import Client
from host_tools.device import PortInfo
from host_tools.hub.instrument import wait_until
from host_tools.hub.studio import Studio

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="simulated instruments use a pty")

PICO = "/dev/ttyACM5"
SIM = "sim-combo-1"


def open_pico(path: str) -> Client:
    """A fake Pico called "Classroom Pad" (the real console on a simulated instrument)."""

    class Port(FakeSerial):
        def read(self, size: int = 1) -> bytes:
            if not self.out:
                time.sleep(0.01)  # about real time: the fake's clock moves on each idle read
            return super().read(size)

    if path != PICO:
        raise serial.SerialException("No such file")
    client = Client(Port(FakeAttune(title="Classroom Pad")), timeout=2.0)
    client.hello(path)
    return client


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    data = tmp_path_factory.mktemp("studio-tools")
    s = Studio(
        data,
        sims=["combo"],
        discover=lambda: [PortInfo(PICO, "Pico", "E66B", 0x2E8A, 5)],
        opener=open_pico,
        poll_s=0.2,
    ).start_in_thread()
    try:
        hub = s.hub
        assert wait_until(lambda: hub.instruments[SIM].connected, 30)
        assert wait_until(lambda: PICO in hub.instruments and hub.instruments[PICO].connected, 10)
        yield s
    finally:
        s.stop()


# A fake Web MIDI: one input named as the Pico enumerates ("Attune <title>"); the test delivers
# messages with window.fakeMidi.send([status, data1, data2]).
FAKE_MIDI = """
(() => {
  const input = { id: "in-1", name: "Attune Classroom Pad", manufacturer: "Attune",
    type: "input", state: "connected", onmidimessage: null };
  const access = { inputs: new Map([["in-1", input]]), outputs: new Map(), sysexEnabled: false,
    addEventListener() {}, removeEventListener() {} };
  window.fakeMidi = { asked: 0,
    send(bytes) {
      if (input.onmidimessage) input.onmidimessage({ data: new Uint8Array(bytes) });
    } };
  Object.defineProperty(navigator, "requestMIDIAccess", { configurable: true,
    value: async () => { window.fakeMidi.asked += 1; return access; } });
})();
"""

# counts what the synth is asked to play, per instrument
SPY = """() => { const s = window.attuneSound; window.played = [];
  const on = s.noteOn.bind(s);
  s.noteOn = (dev, note, vel) => {
    window.played.push([dev, note, vel]);
    return on(dev, note, vel);
  };
}"""


# every text the note marks show, from now on
MARKS = """() => { window.marks = [];
  new MutationObserver(() => { for (const m of document.querySelectorAll('.note-mark'))
    window.marks.push(m.textContent); })
    .observe(document.body, {childList: true, characterData: true, subtree: true}); }"""


@pytest.fixture
def page(browser: Any, studio: Studio) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP)
    context.add_init_script(FAKE_MIDI)
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.goto(studio.url)
    p.get_by_role("article", name="Classroom Pad").get_by_role("meter", name="pad").wait_for()
    p.get_by_role("article", name="Combo").get_by_role("meter", name="pad").wait_for()
    yield p
    context.close()
    assert not errors, errors


def test_notes_come_straight_from_web_midi_and_are_not_played_twice(page: Any, studio: Studio):
    page.wait_for_function("window.attuneStudio.midiBound.size === 1")
    assert page.evaluate("[...window.attuneStudio.midiBound.entries()]") == [
        [PICO, "Attune Classroom Pad"]
    ]
    page.evaluate(SPY)
    page.evaluate(MARKS)
    # a note the fake Pico's own (noisy) sensors never play: F7
    page.evaluate("window.fakeMidi.send([0x90, 101, 100])")
    assert page.evaluate("window.played") == [[PICO, 101, 100]]
    assert page.evaluate("window.attuneSound.held") >= 1
    # the hub reports the same note from the instrument's serial line: shown, not played again
    note = {"type": "note", "device": PICO, "sensor": "pad", "kind": "note_on", "channel": 1}
    studio.hub.emit(dict(note, note=101, velocity=100, value=None, hub_ms=time.time() * 1000))
    page.wait_for_function("window.marks.some((t) => t.includes('F7'))")
    assert page.evaluate("window.played") == [[PICO, 101, 100]]
    page.evaluate("window.fakeMidi.send([0x80, 101, 0])")
    page.wait_for_function("window.attuneSound.held === 0")
    # a simulated instrument has no USB MIDI: its notes still come from the hub and play
    studio.hub.emit(
        dict(note, device=SIM, note=64, velocity=90, value=None, hub_ms=time.time() * 1000)
    )
    page.wait_for_function("window.played.length === 2")
    assert page.evaluate("window.played")[1] == [SIM, 64, 90]
    assert page.evaluate("window.attuneStudio.midiNotes") == 1
    open_view(page, "Sound")
    text = page.locator("#sound-source").inner_text()
    assert "straight from USB MIDI: Classroom Pad (Attune Classroom Pad)" in text


def test_the_check_up_view_shows_doctors_findings_in_plain_words(page: Any):
    card = page.get_by_role("article", name="Combo")
    card.get_by_role("button", name="Check-up").click()
    summary = page.locator("#doctor-summary")
    page.wait_for_function(
        "() => document.querySelector('#doctor-summary').textContent.includes(':')"
        " && !document.querySelector('#doctor-summary').textContent.includes('Checking')"
    )
    doc = page.evaluate("window.attuneStudio.doctor")
    assert doc["device"] == SIM and doc["state"] == "playing"
    items = page.get_by_role("list", name=summary.inner_text()).get_by_role("listitem")
    assert items.count() == len(doc["findings"]) > 0
    first = doc["findings"][0]
    assert first["text"] in items.first.inner_text()
    assert summary.inner_text().startswith("Combo: ")
    # a simulated instrument says so, with its firmware, not the simulator's Python version
    shown = page.locator("#doctor-findings").inner_text()
    assert "simulated instrument: firmware " + FIRMWARE + " runs on this computer" in shown
    assert "MicroPython" not in shown and sys.version.split()[0] not in shown
    shot(page, "checkup", docs=True)
    violations = axe_violations(page)
    assert not violations, json.dumps(violations, indent=1)
    # another instrument, from the view's own picker
    page.get_by_role("region", name="Check-up").get_by_label("Instrument").select_option(PICO)
    page.get_by_role("button", name="Check this instrument").click()
    page.wait_for_function(
        "() => document.querySelector('#doctor-summary').textContent.startsWith('Classroom')"
    )
    assert summary.inner_text().startswith("Classroom Pad: "), summary.inner_text()
    assert page.evaluate("window.attuneStudio.doctor.device") == PICO
