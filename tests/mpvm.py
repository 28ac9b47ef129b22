"""Helpers for tests that need Node.js: the MicroPython VM (tests/micropython/run.mjs) and pyright.

A missing tool skips the test on a developer's machine, but fails it when the CI environment
variable is set, so CI can never pass by skipping.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
VM_DIR = ROOT / "tests" / "micropython"
RUNNER = VM_DIR / "run.mjs"
FAKES = VM_DIR / "fakes"
VM_PACKAGE = ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
SCRIPT_TIMEOUT_S = 120


def on_ci() -> bool:
    """True when the CI variable is set to anything but an explicit no."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> NoReturn:
    """Skip for a missing tool, or fail when running on CI."""
    if on_ci():
        pytest.fail(reason + " (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


@functools.cache
def vm_problem() -> tuple[str, bool] | None:
    """Why the MicroPython VM cannot run here, or None; installs the npm package if missing.

    Returns (reason, may_skip): only a missing `node` (or a missing package with no `npm` to
    install it) may skip; a failed install is an error.
    """
    if shutil.which("node") is None:
        return "Node.js (`node`) is not installed: the MicroPython VM checks need it", True
    if VM_PACKAGE.is_dir():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "node_modules is missing and `npm` is not installed to fetch the VM", True
    proc = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0 or not VM_PACKAGE.is_dir():
        return "`npm install` failed:\n" + proc.stdout + proc.stderr, False
    return None


def require_vm() -> None:
    """Skip (or fail on CI) when the VM cannot run; fail outright when installing it failed."""
    problem = vm_problem()
    if problem is None:
        return
    reason, may_skip = problem
    if may_skip:
        unavailable(reason)
    pytest.fail(reason, pytrace=False)


def check_scripts() -> list[Path]:
    """Every tests/micropython/check_*.py: adding such a file is all a new VM suite needs."""
    return sorted(VM_DIR.glob("check_*.py"))


def declared_paths(script: Path) -> tuple[Path, ...]:
    """Extra folders a script asks for, after firmware/ and the fakes.

    A script that needs VM-side helpers outside tests/micropython/ names them, relative to the
    repository root, in a top-level literal: `VM_PATHS = ("benchmarks/mp",)`.
    """
    tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "VM_PATHS"
        ):
            try:
                names = ast.literal_eval(node.value)
            except ValueError:
                names = None
            if not isinstance(names, (tuple, list)) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"{script.name}: VM_PATHS must be a literal tuple of strings")
            return tuple(ROOT / n for n in names)
    return ()


def declared_checks(script: Path) -> list[str]:
    """Names of the top-level `def check_...():` functions of a script, in file order."""
    tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("check_")
    ]


@dataclass
class VMRun:
    """What one check script did in the VM."""

    script: Path
    returncode: int | None = None  # None: killed after the timeout
    results: dict[str, dict] = field(default_factory=dict)  # check name -> its JSON line
    output: list[str] = field(default_factory=list)  # other stdout lines (prints)
    stderr: str = ""
    seconds: float = 0.0

    def trouble(self) -> str:
        """The script's failure in words ("" if it ran to the end)."""
        if self.returncode is None:
            return f"{self.script.name} did not finish within {SCRIPT_TIMEOUT_S} s in the VM."
        if self.returncode != 0:
            text = f"{self.script.name} stopped with exit code {self.returncode} in the VM"
            return text + (":\n" + self.stderr.rstrip() if self.stderr.strip() else ".")
        return ""


def vm_command(
    script: Path, paths: tuple[Path, ...] = (FIRMWARE, FAKES), heap: int | None = None
) -> list[str]:
    """The command that runs one script in the VM with `paths` (firmware root first)."""
    cmd = [shutil.which("node") or "node", str(RUNNER), str(script)]
    for p in paths:
        cmd += ["--path", str(p)]
    if heap is not None:
        cmd += ["--heap", str(heap)]
    return cmd


def _parse(run: VMRun, stdout: str) -> None:
    for line in stdout.splitlines():
        item = None
        if line.startswith("{"):
            try:
                item = json.loads(line)
            except ValueError:
                item = None
        if isinstance(item, dict) and "check" in item and "ok" in item:
            run.results[item["check"]] = item
        else:
            run.output.append(line)


def run_scripts(scripts: list[Path] | tuple[Path, ...]) -> dict[Path, VMRun]:
    """Run check scripts in the VM, all at once (one VM boot each); results by script."""
    started = time.monotonic()
    procs = {
        s: subprocess.Popen(
            vm_command(s, (FIRMWARE, FAKES, *declared_paths(s))),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for s in scripts
    }
    runs = {}
    for script, proc in procs.items():
        run = VMRun(script)
        try:
            out, err = proc.communicate(
                timeout=max(1.0, SCRIPT_TIMEOUT_S - (time.monotonic() - started))
            )
            run.returncode = proc.returncode
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        run.stderr = err
        run.seconds = time.monotonic() - started
        _parse(run, out)
        runs[script] = run
    return runs


@functools.cache
def pyright_problem() -> str | None:
    """Why pyright (a Node program) cannot run here, or None."""
    exe = shutil.which("pyright", path=str(ROOT / ".venv" / "bin")) or shutil.which("pyright")
    if exe is None:
        return "pyright is not installed (pip install -e '.[dev]')"
    try:
        proc = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, timeout=300, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"pyright cannot start: {e}"
    if proc.returncode != 0:
        return "pyright cannot start:\n" + proc.stdout + proc.stderr
    return None
