"""`attune ports`, `attune doctor` and `attune deploy` while Attune Studio holds a Pico's port:
they say so in plain words and go through Studio (or ask it to let go) instead of failing with
a busy port; and Studio's doctor panel endpoint (GET /api/doctor)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from host_fake import attune
from test_hub_devices import PATH, Cable

from host_tools import deploy as deploy_mod
from host_tools import device
from host_tools.errors import AttuneError, PortBusy
from host_tools.hub import remote
from host_tools.hub.instrument import wait_until
from host_tools.hub.studio import Studio


@pytest.fixture
def held(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Studio, Cable]]:
    """Studio holding a (fake) Pico on PATH; the command line finds this Studio and sees the
    same Pico on USB, whose port it cannot open (Studio has it)."""
    cable = Cable()
    monkeypatch.setenv(remote.DATA_ENV, str(tmp_path))
    studio = Studio(tmp_path, discover=cable.discover, opener=cable.open, poll_s=0.05)
    studio.start_in_thread()
    studio.write_discovery()
    monkeypatch.setattr(device, "list_pico_ports", cable.discover)

    def busy(path: str) -> Any:
        raise PortBusy(path + " is in use by another program.")

    monkeypatch.setattr(device, "open_serial", busy)
    try:
        assert wait_until(lambda: PATH in studio.hub.instruments, 5)
        assert wait_until(lambda: studio.hub.instruments[PATH].connected, 5)
        yield studio, cable
    finally:
        studio.stop()
        studio.remove_discovery()


def test_ports_lists_a_pico_studio_holds_as_in_use_by_studio(
    held: tuple[Studio, Cable], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = attune(capsys, "ports")
    assert code == 0, err
    assert PATH in out and "Combo" in out and "in use by Studio" in out
    assert "busy" not in out and "another program" not in out
    code, out, err = attune(capsys, "ports", "--json")
    (row,) = json.loads(out)
    assert row["studio"] is True and row["attune"] is True and row["instrument"] == "combo"


def test_doctor_goes_through_studio(
    held: tuple[Studio, Cable], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = attune(capsys, "doctor", "--json")
    (report,) = json.loads(out)["devices"]
    assert report["state"] == "playing", report
    assert "through Attune Studio" in report["target"]
    assert not any(f["cause"] == "port_busy" for f in report["findings"])
    code, out, err = attune(capsys, "doctor", "--port", PATH)
    assert "through Attune Studio" in out and "in use by another program" not in out


def test_doctor_explains_when_studio_cannot_reach_the_instrument(
    held: tuple[Studio, Cable], monkeypatch: pytest.MonkeyPatch
) -> None:
    from host_tools import doctor

    def no_hub(device_name: str | None, timeout: float) -> None:
        raise AttuneError("The instrument did not answer.")

    monkeypatch.setattr(remote, "connect", no_hub)
    (report,) = doctor.examine(PATH)
    (finding,) = report.problems
    assert finding.cause == "studio_unreachable" and "Attune Studio holds" in finding.text
    assert "stop Studio" in finding.fix


def test_deploy_asks_studio_to_let_go_and_studio_opens_it_again(
    held: tuple[Studio, Cable], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    studio, cable = held
    inst = studio.hub.instruments[PATH]
    seen: dict[str, Any] = {}

    def maintenance(port: str, timeout: float, say: Any) -> bool:
        # deploy's first touch of the port: Studio must have closed it by now
        seen["connected"] = inst.connected
        seen["released"] = studio.hub.instruments_json()[0]["released"]
        return False

    monkeypatch.setattr(deploy_mod, "request_maintenance", maintenance)
    monkeypatch.setattr(deploy_mod, "run", lambda cmd, what, timeout: None)
    monkeypatch.setattr(deploy_mod, "mpremote_command", lambda: ["mpremote"])
    monkeypatch.setattr(deploy_mod, "build_stage", lambda plan, on_file=None: [])
    from rich.console import Console

    code = deploy_mod.deploy("pico", "combo", Console(file=open("/dev/null", "w")))
    assert code == 0
    assert seen == {"connected": False, "released": "attune deploy"}
    assert wait_until(lambda: inst.connected, 5)  # Studio opened it again after the deploy
    assert cable.opened == 2


def test_deploy_refuses_with_how_to_proceed_when_studio_will_not_let_go(
    held: tuple[Studio, Cable], monkeypatch: pytest.MonkeyPatch
) -> None:
    studio, _ = held

    async def refuse(inst: Any, why: str, seconds: float) -> None:
        raise AttuneError("The instrument is calibrating.")

    monkeypatch.setattr(studio.hub, "release", refuse)
    with pytest.raises(AttuneError) as caught:
        remote.release(PATH, "attune deploy")
    text = caught.value.message
    assert "Attune Studio has " + PATH + " open" in text and "calibrating" in text
    assert "Stop Studio" in text and "attune deploy again" in text


def test_a_malformed_release_is_refused_and_changes_nothing(held: tuple[Studio, Cable]) -> None:
    studio, _ = held
    for body in ({"device": PATH, "for": "a\nnewline"}, {"device": PATH, "seconds": "ever"}):
        req = urllib.request.Request(
            studio.url + "api/release",
            data=json.dumps(body).encode(),
            headers={"X-Attune-Token": studio.token},
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(req, timeout=5)
        assert caught.value.code == 400
    assert studio.hub.instruments[PATH].connected


def test_the_doctor_panel_endpoint_gives_doctors_findings(held: tuple[Studio, Cable]) -> None:
    studio, _ = held
    req = urllib.request.Request(
        studio.url + "api/doctor?device=" + PATH, headers={"X-Attune-Token": studio.token}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        doc = json.loads(r.read())
    assert doc["device"] == PATH and doc["state"] == "playing"
    assert doc["findings"] and all(
        f["level"] in ("ok", "info", "problem") for f in doc["findings"]
    )
