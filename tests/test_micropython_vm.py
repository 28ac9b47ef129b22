"""The firmware's checks on real MicroPython: every tests/micropython/check_*.py runs once in the
official WebAssembly VM (under Node.js) and each of its `check_...` functions is one test here.

Add a VM suite by adding tests/micropython/check_<topic>.py (see checks.py); nothing else, unless
it imports helpers from outside tests/micropython/: then it lists their folders in a top-level
`VM_PATHS = ("benchmarks/mp",)`. Skips only without Node (never when CI is set).
"""

from __future__ import annotations

import mpvm
import pytest

SCRIPTS = mpvm.check_scripts()
CASES = [(script, name) for script in SCRIPTS for name in mpvm.declared_checks(script)]


@pytest.fixture(scope="session")
def vm_runs():
    mpvm.require_vm()
    return mpvm.run_scripts(SCRIPTS)


@pytest.mark.parametrize(("script", "check"), CASES, ids=[f"{s.stem}.{name}" for s, name in CASES])
def test_check_passes_on_micropython(vm_runs, script, check):
    run = vm_runs[script]
    result = run.results.get(check)
    if result is None:
        why = run.trouble() or "it ran to the end without running this check."
        pytest.fail(f"{check} never ran: {why}", pytrace=False)
    if not result["ok"]:
        printed = "\n".join(run.output[-20:])
        pytest.fail(
            f"{script.name}: {check} failed on MicroPython:\n{result['error']}"
            + (f"\nScript output:\n{printed}" if printed else ""),
            pytrace=False,
        )


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_script_runs_to_the_end_and_reports_every_check(vm_runs, script):
    run = vm_runs[script]
    if run.trouble():
        pytest.fail(run.trouble(), pytrace=False)
    declared = mpvm.declared_checks(script)
    assert declared, f"{script.name} defines no top-level `def check_...():`"
    undeclared = sorted(set(run.results) - set(declared))
    assert not undeclared, (
        f"{script.name} reported checks that are not top-level `def check_...():` functions, "
        f"so pytest cannot list them: {undeclared}"
    )
