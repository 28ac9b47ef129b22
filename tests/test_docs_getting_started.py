"""Every command in docs/getting-started.md is accounted for, and the ones that need no Pico, no
network and no change to the computer are run exactly as written (a first-time maker types them).

Commands that need the `attune doctor` / `attune maintenance` / `deploy --offline` work (branch
`doctor`) run here as soon as this checkout's `attune` has them; until then they are skipped.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "docs" / "getting-started.md"
ATTUNE = ("attune", ".venv/bin/attune", ".venv\\Scripts\\attune")

# Not run here, and why. Matched as prefixes of the command as written.
SETUP = (
    "py -m pip",
    "py -m pipx",
    "pipx ",
    "sudo ",
    "brew ",
    "python3 -m venv",
    ".venv/bin/pip ",
)  # installs software or changes the computer
NEEDS_PICO = (
    "cp ",
    "fluidsynth ",
    "aconnect ",
    "attune ports",
    "attune status",
    "attune maintenance",
    "attune panic",
)  # a Pico, its BOOTSEL drive or a synth
NEEDS_NETWORK = ("--fetch-deps",)  # options that download
# Options and commands from the doctor branch (issue 16): run once this `attune` knows them.
DOCTOR_BRANCH = ("doctor", "maintenance", "--offline", "--fetch-deps", "--wiring", "--sim")


def commands() -> list[str]:
    """Every command line in the page's sh and powershell blocks, as written."""
    text = PAGE.read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```(?:sh|powershell)\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(line)
    return out


def _words(cmd: str) -> list[str]:
    words = shlex.split(cmd, posix=True)
    if words and words[0] in ATTUNE:
        words[0] = "attune"
    return words


def why_not_run(cmd: str) -> str:
    """'' when the test runs `cmd`; else the reason it cannot run here."""
    words = _words(cmd)
    norm = " ".join(words)
    if cmd.startswith(SETUP):
        return "installs software or changes the computer"
    if any(w in NEEDS_NETWORK for w in words):
        return "needs the internet"
    if norm.startswith(NEEDS_PICO):
        return "needs a Pico (or its BOOTSEL drive, or a synth)"
    if words[:2] == ["attune", "doctor"] and "--sim" not in words:
        return "needs a Pico"
    if words[:2] == ["attune", "deploy"] and not {"--stage", "--dry-run"} & set(words):
        return "needs a Pico"
    if words[0] != "attune":
        return "unknown: classify it in tests/test_docs_getting_started.py"
    return ""


def _known_to_attune(words: list[str]) -> bool:
    """Whether this checkout's `attune` has the subcommand and options the words use."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    choices = getattr(sub, "choices", None) or {}
    if words[1] not in choices:
        return False
    if words[1] in ("sim", "bench"):
        return True  # handed on whole to the simulator / benchmarks (their own parsers)
    known = set(choices[words[1]]._option_string_actions)
    return all(w in known for w in words[2:] if w.startswith("--"))


def test_every_command_on_the_page_is_accounted_for():
    cmds = commands()
    assert any(c.startswith("attune sim --demo") for c in cmds)
    unknown = [c for c in cmds if why_not_run(c).startswith("unknown")]
    assert not unknown, unknown
    # the attune commands the page names all exist (once the doctor branch is in)
    for c in cmds:
        words = _words(c)
        if (
            words[0] == "attune"
            and words[1:] != ["--help"]
            and not any(w in DOCTOR_BRANCH for w in words)
        ):
            assert _known_to_attune(words), c


RUNNABLE = [c for c in commands() if not why_not_run(c)]


@pytest.mark.parametrize("cmd", RUNNABLE)
def test_command_runs_as_written(cmd, tmp_path):
    words = _words(cmd)
    if words[1:] != ["--help"] and not _known_to_attune(words):
        assert any(w in DOCTOR_BRANCH for w in words), cmd
        pytest.skip("needs the doctor branch (issue 16): " + cmd)
    attune = Path(sys.executable).parent / ("attune.exe" if os.name == "nt" else "attune")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [str(attune), *words[1:]],
        cwd=tmp_path,
        env=env,
        timeout=120,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, cmd + "\n" + done.stdout[-2000:] + done.stderr[-2000:]
    if "--stage" in words:
        assert (tmp_path / words[words.index("--stage") + 1] / "board.json").is_file()
    if "--demo" in words:
        assert (tmp_path / "out" / "demo.wav").is_file()
