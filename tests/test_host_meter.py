"""The live meter's drawing and the calibration wizard's less happy paths."""

from __future__ import annotations

import pytest
from host_fake import FakeAttune, plug_in
from rich.console import Console

from host_tools import cli, errors
from host_tools.client import parse_async
from host_tools.meter import LEVEL_MAX, Meter, level_bar
from host_tools.wizard import result_words


def test_bar_is_empty_at_rest_and_full_at_the_top():
    assert level_bar(0, None, 10).plain == "·" * 10
    assert level_bar(LEVEL_MAX, None, 10).plain == "█" * 10


def test_bar_marks_the_trigger_point():
    bar = level_bar(LEVEL_MAX // 4, LEVEL_MAX // 2, 20).plain
    assert bar.index("┃") == 10
    assert bar[:5] == "█" * 5 and bar[5:10] == "·" * 5


def test_meter_follows_presses_faults_and_recovery():
    meter = Meter(["pad", "hand"])
    meter.feed(parse_async("* monitor t=5 pad raw=900 level=9000 trigger=6000 pressed=1"))
    meter.feed(parse_async("* event pad note_on 62 80"))
    meter.feed(parse_async("* fault hand not answering (I2C error)"))
    assert meter.sensors["pad"].pressed and meter.sensors["pad"].level == 9000
    assert meter.sensors["hand"].fault == "not answering (I2C error)"
    assert "pad: note on D4 (62) velocity 80" in meter.events
    meter.feed(parse_async("* info hand recovered"))
    assert meter.sensors["hand"].fault == ""


def test_meter_starts_from_status_faults():
    meter = Meter.from_status(
        ["pad"],
        {"channels": [{"name": "pad", "fault": "unplugged", "pressed": False, "level": 12}]},
    )
    assert meter.sensors["pad"].fault == "unplugged" and meter.sensors["pad"].level == 12
    console = Console(width=120, record=True)
    console.print(meter.render())
    assert "FAULT: unplugged" in console.export_text()


def test_result_words_drop_the_figures_and_the_protocol_hint():
    text = (
        "range=58 sensitivity=82 Suggested range 58 and sensitivity 82. Send 'calibrate "
        "apply' to use them, or 'calibrate cancel'."
    )
    assert result_words(text) == "Suggested range 58 and sensitivity 82."


@pytest.fixture
def pad(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    dev = FakeAttune("squeeze-pad", "Squeeze pad", ("pad",))
    plug_in(monkeypatch, {"/dev/ttyACM0": dev})
    return dev


def test_calibration_that_fails_changes_nothing(pad, capsys):
    pad.calibration_outcome = "failed"
    code = cli.main(["calibrate", "pad", "--yes"])
    out = capsys.readouterr().out
    assert code == errors.FAILED and "The sensor stopped answering." in out
    assert pad.settings.get("pad.range")[0] == "100"


def test_calibration_that_never_finishes_times_out_and_cancels(pad, capsys):
    pad.calibration_outcome = "hang"
    code = cli.main(["calibrate", "pad", "--yes", "--wait", "0.5"])
    err = capsys.readouterr().err
    assert code == errors.TIMEOUT and "did not finish within" in err
    assert pad.requests[-1] == "calibrate cancel"


def test_calibrating_an_unknown_sensor(pad, capsys):
    code = cli.main(["calibrate", "wing", "--yes"])
    err = capsys.readouterr().err
    assert code == errors.REFUSED and "There is no sensor called 'wing'. Sensors: pad." in err


def test_no_answer_at_the_prompt_counts_as_no(pad, capsys, monkeypatch):
    def closed_stdin(self, prompt=""):
        raise EOFError

    monkeypatch.setattr(Console, "input", closed_stdin)
    assert cli.main(["calibrate", "pad"]) == 0
    assert "Nothing was changed" in capsys.readouterr().out
    assert pad.settings.get("pad.range")[0] == "100"
