"""Profiles on flash: atomic saves that survive a power cut at any step, and loads that fall back
to the backup, then to the defaults, saying why."""

import json
import os

import pytest
import store as store_mod
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store import Store, checksum

OLD = {"pad.sensitivity": "70", "pad.range": "100", "scale": "major"}
NEW = {"pad.sensitivity": "85", "pad.range": "40", "scale": "blues"}


@pytest.fixture
def flash(tmp_path, monkeypatch):
    """An empty flash: the current folder, as on the Pico."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_raw(path, data):
    with open(path, "wb") as f:
        f.write(data)


# ---- power cuts ---------------------------------------------------------------------------


class PowerCut(BaseException):
    """Not an Exception: nothing in the store may catch it, as nothing survives a real cut."""


class CutFile:
    def __init__(self, flash, f, writing):
        self._flash = flash
        self._f = f
        self._writing = writing

    def write(self, data):
        self._flash.step("write", self._f, data)
        return self._f.write(data)

    def read(self, *a):
        self._flash.alive()
        return self._f.read(*a)

    def close(self):
        if self._writing:
            self._flash.step("close")
        else:
            self._flash.alive()
        self._f.close()


class Flash:
    """Wraps every file operation the store makes; power goes off at mutating step `cut_at`.

    With `partial`, a cut that lands on a write leaves that many bytes of it written (a torn
    write); reading steps never count, but nothing at all works once the power is off.
    """

    def __init__(self, cut_at=None, partial=None):
        self.cut_at = cut_at
        self.partial = partial
        self.steps = []
        self.dead = False
        self.cut_during = None

    def alive(self):
        if self.dead:
            raise PowerCut()

    def step(self, name, f=None, data=None):
        self.alive()
        if self.cut_at is not None and len(self.steps) == self.cut_at:
            self.dead = True
            self.cut_during = name
            if name == "write" and self.partial is not None:
                f.write(data[: self.partial(len(data))])
                f.close()
            raise PowerCut()
        self.steps.append(name)

    # the `os` functions the store uses
    def rename(self, a, b):
        self.step("rename " + a + " -> " + b)
        os.rename(a, b)

    def remove(self, p):
        self.step("remove " + p)
        os.remove(p)

    def mkdir(self, p):
        self.step("mkdir " + p)
        os.mkdir(p)

    def stat(self, p):
        self.alive()
        return os.stat(p)

    def listdir(self, p):
        self.alive()
        return os.listdir(p)

    def open(self, path, mode="r"):
        writing = "w" in mode or "a" in mode
        if writing:
            self.step("open " + path)
        else:
            self.alive()
        return CutFile(self, open(path, mode), writing)


def wrapped(monkeypatch, flash):
    monkeypatch.setattr(store_mod, "os", flash)
    monkeypatch.setattr(store_mod, "open", flash.open, raising=False)


def steps_of_a_save(monkeypatch, prepare, action):
    """The mutating steps an uninterrupted `action` takes (after `prepare`)."""
    prepare()
    flash = Flash()
    with monkeypatch.context() as m:
        wrapped(m, flash)
        action(Store("test"))
    return flash.steps


def clear(folder):
    for name in os.listdir(folder):
        p = os.path.join(folder, name)
        if os.path.isdir(p):
            clear(p)
            os.rmdir(p)
        else:
            os.remove(p)


def cut_everywhere(flash_dir, monkeypatch, prepare, action, check):
    """Run `action` once for every step it takes, with the power cut at that step (and, on a
    write, also after a torn write of 0, 1, half and all but one byte); `check` after each."""
    n = len(steps_of_a_save(monkeypatch, prepare, action))
    assert n >= 3
    torn = (None, lambda k: 0, lambda k: 1, lambda k: k // 2, lambda k: k - 1)
    runs = 0
    for cut_at in range(n + 1):
        for partial in torn:
            clear(flash_dir)
            prepare()
            flash = Flash(cut_at, partial)
            with monkeypatch.context() as m:
                wrapped(m, flash)
                try:
                    action(Store("test"))
                except PowerCut:
                    pass
            if cut_at == n:
                assert not flash.dead
            check(Store("test"), flash)  # after the restart: the real flash, a fresh store
            runs += 1
            if flash.cut_during != "write":
                break  # the torn variants only differ on a write
    return runs


def test_a_power_cut_at_every_step_of_a_save_leaves_the_old_or_the_new_profile(flash, monkeypatch):
    def prepare():
        Store("test").save("anna", OLD)

    def check(st, f):
        values, source, why = st.load("anna")
        assert values in (OLD, NEW), (f.steps, f.cut_during, why)

    assert cut_everywhere(flash, monkeypatch, prepare, lambda st: st.save("anna", NEW), check) >= 6


def test_a_power_cut_during_a_save_that_already_has_a_backup_keeps_a_good_copy(flash, monkeypatch):
    def prepare():
        st = Store("test")
        st.save("anna", {"scale": "minor"})
        st.save("anna", OLD)

    def check(st, f):
        assert st.load("anna")[0] in (OLD, NEW), (f.steps, f.cut_during)

    cut_everywhere(flash, monkeypatch, prepare, lambda st: st.save("anna", NEW), check)


def test_a_power_cut_during_the_first_save_leaves_no_profile_or_the_new_one(flash, monkeypatch):
    def check(st, f):
        values, source, _ = st.load("anna")
        if values is None:
            assert source == "missing", (f.steps, f.cut_during)
            assert st.names() == [] and not st.exists("anna")
        else:
            assert values == NEW
            assert st.names() == ["anna"]

    cut_everywhere(flash, monkeypatch, lambda: None, lambda st: st.save("anna", NEW), check)


def test_a_power_cut_while_saving_over_a_damaged_profile_keeps_its_good_backup(flash, monkeypatch):
    def prepare():
        st = Store("test")
        st.save("anna", {"scale": "minor"})
        st.save("anna", OLD)  # anna.bak = minor, anna.json = OLD
        write_raw("profiles/anna.json", b'{"layout": 1, "values": {"sca')  # now damaged

    def check(st, f):
        assert st.load("anna")[0] in ({"scale": "minor"}, NEW), (f.steps, f.cut_during)

    cut_everywhere(flash, monkeypatch, prepare, lambda st: st.save("anna", NEW), check)


def test_a_power_cut_while_changing_the_start_up_profile_keeps_the_old_or_new_pointer(
    flash, monkeypatch
):
    def prepare():
        Store("test").set_active("anna")

    def check(st, f):
        assert st.active() in ("anna", "ben"), (f.steps, f.cut_during)

    cut_everywhere(flash, monkeypatch, prepare, lambda st: st.set_active("ben"), check)


def test_a_power_cut_during_a_rename_leaves_the_profile_under_one_name_or_both(flash, monkeypatch):
    def prepare():
        st = Store("test")
        st.save("anna", OLD)
        st.set_active("anna")

    def check(st, f):
        found = [n for n in ("anna", "ann2") if st.load(n)[0] == OLD]
        assert found, (f.steps, f.cut_during)
        assert st.active() in found

    cut_everywhere(flash, monkeypatch, prepare, lambda st: st.rename("anna", "ann2"), check)


def test_the_save_steps_are_write_temp_then_backup_then_rename(flash, monkeypatch):
    steps = steps_of_a_save(
        monkeypatch, lambda: Store("test").save("anna", OLD), lambda st: st.save("anna", NEW)
    )
    assert steps == [
        "mkdir profiles",
        "open profiles/anna.tmp",
        "write",
        "close",
        "rename profiles/anna.json -> profiles/anna.bak",
        "rename profiles/anna.tmp -> profiles/anna.json",
    ]


# ---- saving and loading -------------------------------------------------------------------


def test_a_saved_profile_loads_back_from_the_saved_copy(flash):
    st = Store("0.1.0")
    st.save("anna", OLD)
    assert st.load("anna") == (OLD, "saved", "")
    doc = json.loads((flash / "profiles" / "anna.json").read_text())
    assert doc == {
        "layout": 1,
        "firmware": "0.1.0",
        "name": "anna",
        "values": OLD,
        "crc": checksum(OLD),
    }


def test_saving_again_keeps_the_previous_version_as_backup(flash):
    st = Store("t")
    st.save("anna", OLD)
    st.save("anna", NEW)
    assert st.load("anna")[0] == NEW
    os.remove("profiles/anna.json")
    values, source, why = st.load("anna")
    assert (values, source) == (OLD, "backup")
    assert "anna.json is missing" in why


@pytest.mark.parametrize(
    "damage, words",
    [
        (b"", "empty"),
        (b'{"layout": 1, "firmware": "t", "name": "anna", "val', "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"[1, 2, 3]", "not a profile"),
        (b'{"layout": 7, "values": {}, "crc": 0}', "newer firmware"),
        (b'{"values": {}, "crc": 0}', "layout"),
        (b'{"layout": 1, "values": {"a": 5}, "crc": 0}', "not text"),
        (b'{"layout": 1, "values": {"scale": "minor"}, "crc": 12345}', "checksum"),
        (b" " * 9000, "too big"),
    ],
)
def test_a_damaged_profile_falls_back_to_its_backup_and_says_why(flash, damage, words):
    st = Store("t")
    st.save("anna", OLD)
    st.save("anna", NEW)
    write_raw("profiles/anna.json", damage)
    values, source, why = st.load("anna")
    assert (values, source) == (OLD, "backup")
    assert words in why


def test_a_truncated_profile_falls_back_at_every_length(flash):
    st = Store("t")
    st.save("anna", OLD)
    st.save("anna", NEW)
    good = (flash / "profiles" / "anna.json").read_bytes()
    for n in range(len(good)):
        write_raw("profiles/anna.json", good[:n])
        assert st.load("anna")[:2] == (OLD, "backup"), n


def test_a_profile_with_no_good_copy_gives_the_defaults_with_every_reason(flash):
    st = Store("t")
    st.save("anna", OLD)
    st.save("anna", NEW)
    write_raw("profiles/anna.json", b"junk")
    write_raw("profiles/anna.bak", b"")
    values, source, why = st.load("anna")
    assert (values, source) == (None, "defaults")
    assert "anna.json is not valid JSON" in why and "anna.bak is empty" in why


def test_a_missing_profile_is_reported_missing(flash):
    assert Store("t").load("nobody")[:2] == (None, "missing")


def test_a_finished_temporary_file_is_used_when_nothing_else_is_left(flash):
    st = Store("t")
    st.save("anna", NEW)
    os.rename("profiles/anna.json", "profiles/anna.tmp")
    assert st.load("anna")[:2] == (NEW, "backup")


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=600))
def test_any_garbage_in_a_profile_file_never_raises(flash, garbage):
    s = Store("t")
    s.save("anna", OLD)
    write_raw("profiles/anna.bak", garbage)
    write_raw("profiles/anna.json", garbage)
    values, source, _ = s.load("anna")
    assert values is None and source == "defaults" or values is not None


def test_the_checksum_ignores_key_order_and_sees_any_change():
    a = {"b": "1", "a": "2"}
    assert checksum(a) == checksum({"a": "2", "b": "1"})
    assert checksum(a) != checksum({"a": "2", "b": "3"})
    assert checksum({"a": '\u00e9"\\'}) != checksum({"a": '?"\\'})


def test_the_checksum_is_the_crc32_of_the_canonical_json():
    import binascii

    values = {"pad.mode": "note", "channel": "1"}
    text = '{"channel": "1", "pad.mode": "note"}'
    assert store_mod.canonical(values) == text
    assert checksum(values) == binascii.crc32(text.encode())
    assert store_mod._crc32_slow(text.encode()) == binascii.crc32(text.encode())


# ---- listing, deleting, renaming, the start-up pointer ---------------------------------------


def test_profiles_are_listed_sorted_and_odd_files_are_ignored(flash):
    st = Store("t")
    assert st.names() == []
    st.save("ben", OLD)
    st.save("anna", OLD)
    write_raw("profiles/notes.txt", b"x")
    write_raw("profiles/bad name.json", b"x")
    assert st.names() == ["anna", "ben"]


def test_a_profile_left_only_as_backup_is_still_listed(flash):
    st = Store("t")
    st.save("anna", OLD)
    os.rename("profiles/anna.json", "profiles/anna.bak")
    assert st.names() == ["anna"]


def test_deleting_removes_the_profile_and_its_backup(flash):
    st = Store("t")
    st.save("anna", OLD)
    st.save("anna", NEW)
    st.delete("anna")
    assert st.names() == [] and os.listdir("profiles") == []
    assert not st.exists("anna")


def test_renaming_moves_the_values_and_the_start_up_pointer(flash):
    st = Store("t")
    st.save("anna", OLD)
    st.set_active("anna")
    assert st.rename("anna", "anna2") == "saved"
    assert st.names() == ["anna2"]
    assert Store("t").active() == "anna2"
    assert st.load("anna2")[0] == OLD


def test_the_start_up_pointer_survives_a_damaged_file_through_its_backup(flash):
    st = Store("t")
    assert st.active() is None
    st.set_active("anna")
    st.set_active("ben")
    assert Store("t").active() == "ben"
    write_raw("active.json", b"{{{")
    assert Store("t").active() == "anna"


def test_setting_the_same_start_up_profile_again_writes_nothing(flash, monkeypatch):
    st = Store("t")
    st.set_active("anna")
    before = os.stat("active.json").st_mtime_ns
    with monkeypatch.context() as m:
        wrapped(m, Flash(cut_at=0))  # any write would cut the power
        st.set_active("anna")
    assert os.stat("active.json").st_mtime_ns == before


def test_a_bad_name_in_the_start_up_pointer_is_ignored(flash):
    st = Store("t")
    st._commit("active", "active", {"profile": "../etc"})
    assert Store("t").active() is None


def test_a_read_only_flash_raises_and_leaves_the_saved_profile_intact(flash, monkeypatch):
    st = Store("t")
    st.save("anna", OLD)

    def refuse(*a, **k):
        raise OSError(30, "Read-only file system")

    with monkeypatch.context() as m:
        m.setattr(store_mod, "open", refuse, raising=False)
        with pytest.raises(OSError):
            st.save("anna", NEW)
    assert st.load("anna") == (OLD, "saved", "")


def test_a_full_flash_raises_and_leaves_the_saved_profile_intact(flash, monkeypatch):
    st = Store("t")
    st.save("anna", OLD)
    real_open = open

    class Short:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            return self.f.write(data[:10])

        def read(self, *a):
            return self.f.read(*a)

        def close(self):
            self.f.close()

    with monkeypatch.context() as m:
        m.setattr(store_mod, "open", lambda p, mode="r": Short(real_open(p, mode)), raising=False)
        with pytest.raises(OSError):
            st.save("anna", NEW)
    assert st.load("anna") == (OLD, "saved", "")


# ---- where the files go ---------------------------------------------------------------------


def test_a_store_keeps_its_profiles_and_start_up_pointer_where_it_is_told(flash):
    one = Store("t", folder="one/profiles", active="one/active")
    two = Store("t", folder="two/profiles", active="two/active")
    os.mkdir("one")
    os.mkdir("two")
    one.save("anna", OLD)
    one.set_active("anna")
    assert os.path.exists("one/active.json") and not os.path.exists("active.json")
    assert Store("t", folder="one/profiles", active="one/active").active() == "anna"
    assert two.active() is None and two.names() == []
    assert Store("t").active() is None  # the default place (the flash root) is untouched


def test_the_store_holds_files_only():
    st = Store("t")
    for session_state in ("profile", "config", "reason", "notes", "unsaved"):
        assert not hasattr(st, session_state)  # profiles.Profiles keeps those


# ---- sequences of operations, with the power cut at any step of any of them -------------------
# As SQLite tests crash recovery: a random sequence of saves, renames, deletes and start-up
# pointer changes runs on one flash; any operation may be cut at any of its steps (a write torn
# at any length), and the board then restarts with a fresh Store. After every operation the
# flash is checked against a model of what each name may hold: a profile once completely saved
# is never lost, and never holds another save's values.

NAMES = ("anna", "ben", "cleo")
TORN = (None, lambda k: 0, lambda k: 1, lambda k: k // 2, lambda k: k - 1)
MISSING = "missing"


def _observe(store):
    """What the flash holds now: name -> values serial (or MISSING), and the pointer."""
    seen = {}
    for name in NAMES:
        values, source, why = store.load(name)
        assert source != "defaults", ("every copy of " + name + " is damaged", why)
        seen[name] = MISSING if values is None else values["serial"]
    assert store.names() == sorted(n for n in NAMES if seen[n] != MISSING)
    return seen, store.active()


def run_sequence(flash_dir, monkeypatch, ops):
    """Run `ops` [(kind, a, b, cut_at, torn)], checking the flash after each; returns (the
    operations run, those cut by the power) (a failed check raises AssertionError)."""
    clear(flash_dir)
    model = dict.fromkeys(NAMES, MISSING)  # name -> the serial it must load as
    pointer = None
    store = Store("test")
    ran = cuts = 0
    for serial, (kind, a, b, cut_at, torn) in enumerate(ops):
        if kind == "rename" and (model[a] == MISSING or model[b] != MISSING or a == b):
            continue  # the console refuses these before the store is asked
        if kind == "delete" and model[a] == MISSING:
            continue
        allowed = {n: {model[n]} for n in NAMES}
        pointers = {pointer}
        if kind == "save":
            allowed[a].add(str(serial))
        elif kind == "delete":
            allowed[a].add(MISSING)
        elif kind == "rename":
            allowed[a].add(MISSING)
            allowed[b].add(model[a])
            if pointer == a:
                pointers.add(b)
        elif kind == "active":
            pointers.add(a)
        flash = Flash(cut_at, torn)
        ran += 1
        with monkeypatch.context() as m:
            wrapped(m, flash)
            try:
                if kind == "save":
                    store.save(a, {"serial": str(serial), "scale": "blues"})
                elif kind == "delete":
                    store.delete(a)
                elif kind == "rename":
                    store.rename(a, b)
                else:
                    store.set_active(a)
            except PowerCut:
                pass
        if flash.dead:
            cuts += 1
            store = Store("test")  # the restart
        seen, now = _observe(Store("test"))
        where = (ops[: serial + 1], flash.steps, flash.cut_during)
        if not flash.dead:  # completed: exactly the new state
            if kind == "save":
                model[a] = str(serial)
            elif kind == "delete":
                model[a] = MISSING
            elif kind == "rename":
                model[b], model[a] = model[a], MISSING
                pointer = b if pointer == a else pointer
            else:
                pointer = a
            assert seen == model and now == pointer, where
            continue
        for name in NAMES:
            assert seen[name] in allowed[name], (name, seen, allowed, where)
        if kind == "rename":
            assert MISSING in (seen[b], seen[a]) or seen[a] == seen[b], where
            assert (seen[a], seen[b]) != (MISSING, MISSING), ("rename lost it", where)
        assert now in pointers, (now, pointers, where)
        model, pointer = seen, now  # after the restart, what loads is what was kept
    return ran, cuts


def _op(kind, a, b, cut, torn):
    return (kind, a, b, cut, TORN[torn])


OPS = st.builds(
    _op,
    st.sampled_from(("save", "save", "rename", "delete", "active")),
    st.sampled_from(NAMES),
    st.sampled_from(NAMES),
    st.one_of(st.none(), st.integers(0, 12)),
    st.integers(0, len(TORN) - 1),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(OPS, min_size=1, max_size=12))
def test_random_sequences_with_power_cuts_never_lose_a_saved_profile(flash, monkeypatch, ops):
    run_sequence(flash, monkeypatch, ops)


def test_two_cuts_in_a_row_on_a_new_profile_keep_it(flash, monkeypatch):
    # the first cut just before the new profile's final rename (step 4: its .tmp is whole),
    # the second during the next save's write of the .tmp: the profile must survive both
    ops = [("save", "anna", None, 4, None), ("save", "anna", None, 2, TORN[3])]
    assert run_sequence(flash, monkeypatch, ops) == (2, 2)
    assert Store("t").load("anna")[0] == {"serial": "0", "scale": "blues"}


def test_seeded_sequences_with_power_cuts_figures_for_docs(flash, monkeypatch):
    """The figures docs/reliability.md quotes: 500 seeded sequences of 12 operations, each
    operation cut with probability 1/2 at one of its first 14 steps (0 profiles lost)."""
    import random

    rng = random.Random(11)
    ran = cuts = 0
    for _ in range(500):
        ops = [
            _op(
                rng.choice(("save", "save", "rename", "delete", "active")),
                rng.choice(NAMES),
                rng.choice(NAMES),
                rng.randrange(14) if rng.random() < 0.5 else None,
                rng.randrange(len(TORN)),
            )
            for _ in range(12)
        ]
        r, c = run_sequence(flash, monkeypatch, ops)
        ran += r
        cuts += c
    print("sequences 500, operations", ran, "power cuts", cuts, "profiles lost 0")
    assert (ran, cuts) == (4309, 668)  # the figures docs/reliability.md quotes


# ---- a damaged start-up pointer is reported ---------------------------------------------------


def _boot():
    """A fresh start-up on the flash in the current folder: the console's `status`."""
    from console_kit import Kit

    kit = Kit()
    kit.profiles.load_startup()
    return json.loads(kit.ask("status")[3:])


@pytest.mark.parametrize("damage", [b"{{{", b"", b'{"layout": 1, "values": {"profile": "ben"}'])
def test_a_damaged_start_up_pointer_is_reported_in_status(flash, damage):
    st = Store("t")
    st.save("anna", OLD)
    st.save("ben", NEW)
    st.set_active("anna")
    st.set_active("ben")  # active.bak now names anna: another client's profile
    assert _boot()["config"] == "saved" and _boot()["config_reason"] == ""
    write_raw("active.json", damage)
    status = _boot()
    assert status["profile"] == "anna"
    assert status["config"] == "backup"
    reason = status["config_reason"]
    assert "record of which profile to start with" in reason and "active.json" in reason
    assert "'anna'" in reason and "profile load" in reason


def test_a_start_up_pointer_with_every_copy_damaged_plays_the_defaults_and_says_so(flash):
    st = Store("t")
    st.save("anna", OLD)
    st.set_active("anna")
    st.set_active("ben")
    write_raw("active.json", b"junk")
    write_raw("active.bak", b"junk")
    status = _boot()
    assert (status["profile"], status["config"]) == (None, "defaults")
    assert "record of which profile to start with is damaged" in status["config_reason"]


def test_no_start_up_pointer_at_all_is_a_plain_first_start(flash):
    status = _boot()
    assert (status["profile"], status["config"], status["config_reason"]) == (
        None,
        "defaults",
        "",
    )


def test_a_damaged_pointer_whose_backup_names_a_deleted_profile_says_both(flash):
    st = Store("t")
    st.save("ben", NEW)
    st.set_active("anna")
    st.set_active("ben")
    write_raw("active.json", b"{{{")  # the backup names anna, which is not on the flash
    status = _boot()
    assert (status["profile"], status["config"]) == ("anna", "defaults")
    reason = status["config_reason"]
    assert "record of which profile to start with" in reason
    assert "'anna'" in reason and "not on the flash" in reason
