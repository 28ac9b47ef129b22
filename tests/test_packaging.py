"""A wheel of this repository works on its own: built like `pip install .` builds it, installed
into a fresh virtual environment, `attune sim --demo` and `attune deploy --stage` run from a folder
that is not the checkout. Also: one version for the firmware, the tools and the package.

The fresh environment gets the wheel with --no-deps and sees the test's own site-packages through
a .pth line (so nothing is downloaded): only the wheel can supply firmware/, boards/ and the
simulator's fakes, which is the point.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

from host_tools import firmware
from host_tools.cli import VERSION

ROOT = Path(__file__).resolve().parents[1]
# What a checkout has that the build does not read (and could be large or not ours).
NOT_SOURCES = (
    ".git",
    ".venv",
    "node_modules",
    "build",
    "dist",
    "out",
    "*.egg-info",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
)
BIN = "Scripts" if sys.platform == "win32" else "bin"


def _run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n"
            f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}",
            pytrace=False,
        )
    return proc


def _can_build_offline() -> bool:
    """Setuptools new enough for pyproject.toml (77+) here: build without fetching a build env."""
    try:
        major, minor = importlib.metadata.version("setuptools").split(".")[:2]
    except importlib.metadata.PackageNotFoundError:
        return False
    return (int(major), int(minor)) >= (77, 0)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Build the wheel from a copy of the checkout and install it in a fresh venv; yields
    (wheel path, the venv's bin folder, an environment without the checkout on PYTHONPATH)."""
    started = time.perf_counter()
    tmp = tmp_path_factory.mktemp("packaging")
    src = tmp / "src"
    # A copy, not the checkout: setuptools' build/ would otherwise keep files that are gone.
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    # Nothing of the checkout's on the path: only the wheel may supply our code.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")
    }
    isolation = ["--no-build-isolation"] if _can_build_offline() else []
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            *isolation,
            src,
            "-w",
            tmp / "dist",
        ],
        cwd=tmp,
        env=env,
    )
    wheel = next((tmp / "dist").glob("attune-*.whl"))

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp, env=env)
    python = venv / BIN / ("python.exe" if sys.platform == "win32" else "python")
    site = _run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cwd=tmp,
        env=env,
    ).stdout.strip()
    # --ignore-installed: install, whatever else claims to be attune; never uninstall anything.
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--ignore-installed",
            wheel,
        ],
        cwd=tmp,
        env=env,
    )
    # Then our dependencies, already installed here, after the venv's own site-packages (only
    # now: pip would take this checkout's editable install for the wheel, already there).
    Path(site, "_attune_test_deps.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    print(f"wheel built and installed in {time.perf_counter() - started:.1f} s")
    yield wheel, venv / BIN, env


def test_the_wheel_carries_firmware_boards_and_fakes(installed):
    wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    want = {
        "attune/firmware/main.py",
        "attune/firmware/version.py",
        "attune/firmware/engine/gestures.py",
        "attune/boards/pico.json",
        "attune/boards/pico2.json",
        "attune/boards/instruments/combo.json",
        "simulator/fakes/machine.py",
        "simulator/fakes/usb/device/midi.py",
    }
    assert want <= names, sorted(want - names)
    # Every firmware and board file, by pattern: nothing added later is left behind.
    for folder in ("firmware", "boards"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                rel = "attune/" + path.relative_to(ROOT).as_posix()
                assert rel in names, f"{rel} is missing from the wheel"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_installed_attune_finds_its_own_firmware(installed, tmp_path):
    _, bin_dir, env = installed
    python = next(p for p in bin_dir.iterdir() if p.name.startswith("python"))
    where = _run(
        [
            python,
            "-c",
            "from host_tools import firmware as f; "
            "print(f.INSTALLED, f.FIRMWARE_DIR, f.BOARDS_DIR, f.BUILD_DIR)",
        ],
        cwd=tmp_path,
        env=env,
    ).stdout.split()
    assert where[0] == "True", where
    venv = bin_dir.parent.resolve()
    for path in where[1:3]:
        assert Path(path).is_relative_to(venv), f"{path} is not inside the fresh venv {venv}"
    assert not Path(where[3]).is_relative_to(venv), "deploy would stage inside site-packages"
    shown = _run([bin_dir / "attune", "--version"], cwd=tmp_path, env=env).stdout.strip()
    assert shown == "attune " + VERSION


def test_installed_attune_runs_the_demo_from_any_folder(installed, tmp_path):
    _, bin_dir, env = installed
    _run([bin_dir / "attune", "sim", "--demo"], cwd=tmp_path, env=env)
    for suffix in (".mid", ".wav", ".png", ".jsonl"):
        assert (tmp_path / "out" / ("demo" + suffix)).stat().st_size > 0, suffix


def test_installed_attune_stages_a_deploy_from_any_folder(installed, tmp_path):
    _, bin_dir, env = installed
    stage = tmp_path / "stage"
    _run(
        [
            bin_dir / "attune",
            "deploy",
            "--stage",
            stage,
            "--board",
            "pico",
            "--instrument",
            "combo",
        ],
        cwd=tmp_path,
        env=env,
    )
    staged = {p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file()}
    assert "main.py" in staged, sorted(staged)
    assert any(name.endswith(".mpy") for name in staged), sorted(staged)


# -- one version --------------------------------------------------------------------------------


def test_the_tools_report_the_firmwares_version():
    text = (firmware.FIRMWARE_DIR / "version.py").read_text(encoding="utf-8")
    found = re.search(r'^FIRMWARE = "([^"]+)"$', text, re.MULTILINE)
    assert found, 'firmware/version.py must keep a plain FIRMWARE = "x.y.z" line'
    assert VERSION == firmware.version() == found.group(1)


def test_pyproject_reads_its_version_from_the_firmware():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^dynamic = \["version"\]', text, re.MULTILINE), "a static version is back"
    assert not re.search(r"^version = \"", text, re.MULTILINE)
    assert 'version = { attr = "firmware.version.FIRMWARE" }' in text


def test_the_wheel_has_the_firmwares_version(installed):
    wheel, _, _ = installed
    assert wheel.name.startswith("attune-" + firmware.version() + "-"), wheel.name
