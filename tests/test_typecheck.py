"""pyright over firmware/ against MicroPython's own stubs (micropython-rp2-rpi-pico-stubs, plus the
local typings/ for micropython-lib's usb.device): no errors allowed.

pyrightconfig.json points typeshedPath at the venv's site-packages, where
micropython-stdlib-stubs installs a MicroPython typeshed (stdlib/, stubs/): without it CPython's
typeshed would win for `time`, `gc` and `sys` and hide `time.ticks_us` and friends. That path names
the Python version, so this test runs pyright with a copy of the config whose paths point at the
running interpreter's venv.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import mpvm
import pytest

ROOT = mpvm.ROOT
CONFIG = ROOT / "pyrightconfig.json"

# Code the Pico runs fine but CPython's stdlib stubs reject, and the other way round.
CANARY = """\
import gc
import sys
import time

import machine
from micropython import const
from usb.device.midi import MIDIInterface
import usb.device

_N = const(4)
t0 = time.ticks_us()
dt = time.ticks_diff(time.ticks_add(t0, 1000), t0)
used = gc.mem_alloc() + gc.mem_free()
sys.print_exception(ValueError("x"))
adc = machine.ADC(26)
level = adc.read_u16()
midi = MIDIInterface(txlen=64)
queued = midi.send_event(0x9, 0x90, 60, 100)
usb.device.get().init(midi, builtin_driver=True, manufacturer_str="Attune", product_str="x")
t1 = time.monotonic()  # CPython only: must be an error
import logging  # not on the Pico: must be an error
"""
CANARY_ERRORS = {i for i, line in enumerate(CANARY.splitlines(), 1) if "must be an error" in line}


def _pyright() -> str:
    here = Path(sys.executable).parent
    return shutil.which("pyright", path=str(here)) or shutil.which("pyright") or "pyright"


def _effective_config(tmp: Path) -> Path:
    """pyrightconfig.json with absolute paths and this interpreter's site-packages as typeshed."""
    config = json.loads(CONFIG.read_text(encoding="utf-8"))
    site = Path(sysconfig.get_paths()["purelib"])
    if not (site / "stdlib" / "VERSIONS").is_file() or not (site / "machine.pyi").is_file():
        pytest.fail(f"MicroPython stubs are not installed in {site}: pip install -e '.[dev]'",
                    pytrace=False)
    config["typeshedPath"] = str(site)
    config["venvPath"] = str(Path(sys.prefix).parent)
    config["venv"] = Path(sys.prefix).name
    config["stubPath"] = str(ROOT / config.get("stubPath", "typings"))
    config["include"] = [str(ROOT / p) for p in config["include"]]
    for env in config.get("executionEnvironments", []):
        env["root"] = str(ROOT / env["root"])
    path = tmp / "pyrightconfig.json"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def diagnostics(tmp_path_factory):
    """One pyright run over firmware/ and the canary; its error diagnostics."""
    problem = mpvm.pyright_problem()
    if problem:
        mpvm.unavailable(problem)
    tmp = tmp_path_factory.mktemp("pyright")
    canary = tmp / "canary.py"
    canary.write_text(CANARY, encoding="utf-8")
    config = _effective_config(tmp)
    proc = subprocess.run(
        [_pyright(), "-p", str(config), "--outputjson", str(ROOT / "firmware"), str(canary)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        pytest.fail("pyright did not report:\n" + proc.stdout + proc.stderr, pytrace=False)
    return [d for d in report["generalDiagnostics"] if d["severity"] == "error"], canary


def _describe(d) -> str:
    path = Path(d["file"])
    name = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    line = d["range"]["start"]["line"] + 1
    rule = f" ({d['rule']})" if d.get("rule") else ""
    return f"{name}:{line}: {d['message']}{rule}"


def test_firmware_has_no_type_errors(diagnostics):
    errors, canary = diagnostics
    ours = [d for d in errors if Path(d["file"]) != canary]
    assert not ours, f"pyright found {len(ours)} error(s) in firmware/:\n" + "\n".join(
        _describe(d) for d in ours)


def test_micropython_stubs_win_over_cpythons_stdlib(diagnostics):
    errors, canary = diagnostics
    lines = {d["range"]["start"]["line"] + 1 for d in errors if Path(d["file"]) == canary}
    unexpected = [_describe(d) for d in errors
                  if Path(d["file"]) == canary and d["range"]["start"]["line"] + 1
                  not in CANARY_ERRORS]
    assert not unexpected, "MicroPython code rejected: the stubs are not in effect:\n" + "\n".join(
        unexpected)
    assert lines == CANARY_ERRORS, (
        f"CPython-only code on lines {sorted(CANARY_ERRORS - lines)} passed: pyright is not "
        "checking against MicroPython's stdlib")
