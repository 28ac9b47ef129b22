"""pyright, no errors allowed, in two environments (two configs, run side by side):

- pyrightconfig.json: the host side (host_tools/, simulator/, benchmarks/) against CPython's
  typeshed and the venv's packages;
- pyrightconfig.firmware.json: firmware/ (and the MicroPython benchmark scripts in benchmarks/mp/)
  against MicroPython's own stubs (micropython-rp2-rpi-pico-stubs, plus the local typings/ for
  micropython-lib's usb.device).

The firmware run needs typeshedPath pointed at the venv's site-packages, where
micropython-stdlib-stubs installs a MicroPython typeshed (stdlib/, stubs/): without it CPython's
typeshed would win for `time`, `gc` and `sys` and hide `time.ticks_us` and friends. That path
names the Python version, so neither config holds it: `make typecheck` passes it as
--typeshedpath, and this test runs pyright with copies of the configs whose paths are absolute and
point at the running interpreter's venv.
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
HOST_CONFIG = ROOT / "pyrightconfig.json"
FIRMWARE_CONFIG = ROOT / "pyrightconfig.firmware.json"
HOST_DIRS = ("host_tools", "simulator", "benchmarks")

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


def _site() -> Path:
    site = Path(sysconfig.get_paths()["purelib"])
    if not (site / "stdlib" / "VERSIONS").is_file() or not (site / "machine.pyi").is_file():
        pytest.fail(
            f"MicroPython stubs are not installed in {site}: pip install -e '.[dev]'",
            pytrace=False,
        )
    return site


def _effective_config(config_file: Path, tmp: Path) -> Path:
    """A copy of a config with absolute paths and this interpreter's venv."""
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["venvPath"] = str(Path(sys.prefix).parent)
    config["venv"] = Path(sys.prefix).name
    if "stubPath" in config:
        config["stubPath"] = str(ROOT / config["stubPath"])
    for key in ("include", "extraPaths"):
        config[key] = [str(ROOT / p) for p in config.get(key, [])]
    config["exclude"] = [
        p if p.startswith("**") else str(ROOT / p) for p in config.get("exclude", [])
    ]
    for env in config.get("executionEnvironments", []):
        env["root"] = str(ROOT / env["root"])
        env["extraPaths"] = [str(ROOT / p) for p in env.get("extraPaths", [])]
    # A folder of its own: pyright also checks what lies beside its config.
    path = tmp / config_file.stem / config_file.name
    path.parent.mkdir()
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


def _report(proc: subprocess.CompletedProcess) -> list[dict]:
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        pytest.fail("pyright did not report:\n" + proc.stdout + proc.stderr, pytrace=False)
    # a config whose files pyright did not find would pass with nothing checked
    assert report["summary"]["filesAnalyzed"] > 0, report["summary"]
    return [d for d in report["generalDiagnostics"] if d["severity"] == "error"]


@pytest.fixture(scope="module")
def diagnostics(tmp_path_factory):
    """Both pyright runs, side by side (each is one Node process): their error diagnostics,
    as {"host": [...], "firmware": [...]}, and the canary's path."""
    problem = mpvm.pyright_problem()
    if problem:
        mpvm.unavailable(problem)
    tmp = tmp_path_factory.mktemp("pyright")
    firmware = _effective_config(FIRMWARE_CONFIG, tmp)
    canary = firmware.parent / "canary.py"
    canary.write_text(CANARY, encoding="utf-8")
    included = json.loads(firmware.read_text(encoding="utf-8"))["include"]
    runs = {
        "firmware": [
            _pyright(),
            "-p",
            str(firmware),
            "--typeshedpath",
            str(_site()),
            "--outputjson",
            *included,
            str(canary),
        ],
        # the repository's own config (a copy elsewhere would find no files and no packages),
        # with this interpreter's packages
        "host": [
            _pyright(),
            "-p",
            str(HOST_CONFIG),
            "--pythonpath",
            sys.executable,
            "--outputjson",
        ],
    }
    procs = {
        name: subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for name, cmd in runs.items()
    }
    done = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=600)
        done[name] = _report(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done, canary


def _describe(d) -> str:
    path = Path(d["file"])
    name = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    line = d["range"]["start"]["line"] + 1
    rule = f" ({d['rule']})" if d.get("rule") else ""
    return f"{name}:{line}: {d['message']}{rule}"


def test_firmware_has_no_type_errors(diagnostics):
    errors, canary = diagnostics
    ours = [d for d in errors["firmware"] if Path(d["file"]) != canary]
    assert not ours, f"pyright found {len(ours)} error(s) in firmware/:\n" + "\n".join(
        _describe(d) for d in ours
    )


def test_host_tools_and_simulator_have_no_type_errors(diagnostics):
    errors, _ = diagnostics
    ours = errors["host"]
    assert not ours, f"pyright found {len(ours)} error(s) in {', '.join(HOST_DIRS)}:\n" + (
        "\n".join(_describe(d) for d in ours)
    )


def test_micropython_stubs_win_over_cpythons_stdlib(diagnostics):
    errors, canary = diagnostics
    errors = errors["firmware"]
    lines = {d["range"]["start"]["line"] + 1 for d in errors if Path(d["file"]) == canary}
    unexpected = [
        _describe(d)
        for d in errors
        if Path(d["file"]) == canary and d["range"]["start"]["line"] + 1 not in CANARY_ERRORS
    ]
    assert not unexpected, "MicroPython code rejected: the stubs are not in effect:\n" + "\n".join(
        unexpected
    )
    assert lines == CANARY_ERRORS, (
        f"CPython-only code on lines {sorted(CANARY_ERRORS - lines)} passed: pyright is not "
        "checking against MicroPython's stdlib"
    )


def test_the_configs_cover_everything_for_any_python():
    host = json.loads(HOST_CONFIG.read_text(encoding="utf-8"))
    firmware = json.loads(FIRMWARE_CONFIG.read_text(encoding="utf-8"))
    assert set(HOST_DIRS) <= set(host["include"]), host["include"]
    assert "firmware" in firmware["include"], firmware["include"]
    for config in (HOST_CONFIG, FIRMWARE_CONFIG):
        text = config.read_text(encoding="utf-8")
        # `make PY=python3.12 typecheck` must work: the venv's python sets the version.
        assert "pythonVersion" not in text and "python3." not in text, config.name
