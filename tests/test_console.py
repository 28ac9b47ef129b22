"""The therapist's console: every command against a playing instrument, with the replies and the
asynchronous lines a host tool sees."""

import json
import os

import protocol
import pytest
import settings as schema
import system as system_mod
from console_kit import Kit
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from profiles import Profiles, apply_values
from settings import Settings
from store import Store


def load_settings(store, s, defaults):
    """Start-up loading as the runtime does it: ((name, config), the Profiles)."""
    profiles = Profiles(store, s, defaults)
    return profiles.load_startup(), profiles


@pytest.fixture
def kit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    k = Kit()
    k.play(300)  # baselines learned
    return k


def ok(reply):
    assert reply is not None and reply.startswith("OK "), reply
    return json.loads(reply[3:])


def err(reply, code):
    assert reply is not None and reply.startswith("ERR " + code + " "), reply
    return reply[len("ERR " + code + " ") :]


def press(kit, name, value, ms=60):
    kit.sensors[name].value = value
    kit.play(ms)


# ---- hello, help, params --------------------------------------------------------------------


def test_hello_names_firmware_protocol_board_instrument_and_sensors(kit):
    assert ok(kit.ask("hello")) == {
        "firmware": "0.1.0",
        "protocol": 1,
        "board": "pico",
        "instrument": "combo",
        "title": "Combo",
        "channels": ["switch", "pad", "hand"],
    }


def test_help_lists_every_command(kit):
    commands = ok(kit.ask("help"))["commands"]
    for word in (
        "hello",
        "params",
        "get",
        "set",
        "reset",
        "profile save",
        "status",
        "monitor",
        "calibrate",
        "panic",
        "maintenance",
    ):
        assert any(c.startswith(word) for c in commands), word


def test_params_pages_through_the_whole_schema(kit):
    seen = []
    offset = 0
    while offset is not None:
        page = ok(kit.ask("params " + str(offset)))
        assert page["total"] == len(schema.GLOBAL) + len(schema.CHANNEL)
        assert page["offset"] == offset and len(page["params"]) <= 8
        seen += page["params"]
        offset = page["next"]
    assert [p["key"] for p in seen] == [r[0] for r in schema.GLOBAL + schema.CHANNEL]
    sens = next(p for p in seen if p["key"] == "sensitivity")
    assert sens == {
        "key": "sensitivity",
        "scope": "channel",
        "type": "int",
        "min": 1,
        "max": 100,
        "choices": None,
        "default": "75",
        "unit": "%",
        "help": schema.find(schema.CHANNEL, "sensitivity")[6],
    }
    scale = next(p for p in seen if p["key"] == "scale")
    assert scale["scope"] == "global" and scale["type"] == "choice"
    assert scale["choices"] == list(schema.SCALES) and scale["min"] is None
    melody = next(p for p in seen if p["key"] == "melody")
    assert melody["type"] == "notes" and melody["default"].startswith("C4 D4 E4")


@pytest.mark.parametrize("arg", ["-1", "999", "x", "1.5"])
def test_params_with_a_bad_offset_names_the_allowed_range(kit, arg):
    assert "from 0 to" in err(kit.ask("params " + arg), "value")


# ---- get and set ------------------------------------------------------------------------------


def test_get_one_setting_a_sensor_or_the_globals(kit):
    assert ok(kit.ask("get pad.sensitivity")) == {"key": "pad.sensitivity", "value": "75"}
    pad = ok(kit.ask("get pad"))["values"]
    assert pad["pad.mode"] == "note" and len(pad) == len(schema.CHANNEL)
    glob = ok(kit.ask("get global"))["values"]
    assert glob["scale"] == "major_pentatonic" and len(glob) == len(schema.GLOBAL)


def test_get_an_unknown_key_or_nothing_is_refused(kit):
    assert "no sensor called 'foot'" in err(kit.ask("get foot.mode"), "key")
    err(kit.ask("get"), "usage")


def test_set_changes_the_setting_the_engine_reads_on_the_next_tick(kit):
    before = kit.inst.channels[1].trigger_level
    assert ok(kit.ask("set pad.sensitivity 95")) == {"key": "pad.sensitivity", "value": "95"}
    assert kit.settings.ch[1].sensitivity == 95
    kit.play(1)
    assert kit.inst.channels[1].trigger_level < before  # a lighter touch plays, from now on


def test_set_reports_the_value_as_stored(kit):
    assert ok(kit.ask("set pad.melody c4, 62 E4"))["value"] == "C4 D4 E4"
    assert ok(kit.ask("set hand.invert YES"))["value"] == "on"


def test_set_out_of_range_names_the_allowed_range_and_changes_nothing(kit):
    reason = err(kit.ask("set pad.sensitivity 500"), "value")
    assert "from 1 to 100" in reason
    assert kit.settings.ch[1].sensitivity == 75
    assert not ok(kit.ask("status"))["unsaved"]


def test_set_an_unknown_key_or_without_a_value_is_refused(kit):
    err(kit.ask("set pad.loudness 5"), "key")
    err(kit.ask("set tempo 5"), "key")
    err(kit.ask("set pad.range"), "usage")


def test_changing_the_note_while_it_sounds_leaves_no_note_hanging(kit):
    press(kit, "pad", 40000)
    assert kit.sounding()
    for line in (
        "set pad.degree 3",
        "set scale blues",
        "set octave 5",
        "set pad.mode chord",
        "set channel 2",
        "set transpose -3",
    ):
        ok(kit.ask(line))
        kit.play(20)
    press(kit, "pad", 2000, ms=200)
    assert kit.sounding() == set()
    assert kit.inst.midi.active == 0


def test_reset_releases_notes_first_then_restores_the_instruments_defaults(kit):
    ok(kit.ask("set pad.sensitivity 90"))
    ok(kit.ask("set switch.velocity speed"))
    press(kit, "pad", 40000)
    panics = kit.panics
    assert ok(kit.ask("reset")) == {"reset": True}
    assert kit.panics == panics + 1
    assert kit.settings.ch[1].sensitivity == 75
    assert kit.settings.get("switch.velocity")[0] == "fixed"  # the instrument's own default
    status = ok(kit.ask("status"))
    assert status["config"] == "defaults" and status["unsaved"]


# ---- profiles ---------------------------------------------------------------------------------


def test_a_saved_profile_is_listed_made_active_and_loads_back(kit):
    ok(kit.ask("set pad.sensitivity 90"))
    assert ok(kit.ask("status"))["unsaved"]
    assert ok(kit.ask("profile save anna")) == {"saved": "anna"}
    assert ok(kit.ask("profile list")) == {"active": "anna", "profiles": ["anna"]}
    status = ok(kit.ask("status"))
    assert (status["profile"], status["config"], status["unsaved"]) == ("anna", "saved", False)
    ok(kit.ask("set pad.sensitivity 20"))
    panics = kit.panics
    loaded = ok(kit.ask("profile load anna"))
    assert loaded == {"loaded": "anna", "from": "saved", "reason": "", "skipped": []}
    assert kit.panics == panics + 1
    assert kit.settings.ch[1].sensitivity == 90
    assert not ok(kit.ask("status"))["unsaved"]
    assert Store("x").active() == "anna"


def test_profile_save_without_a_name_saves_the_active_profile(kit):
    err(kit.ask("profile save"), "usage")
    ok(kit.ask("profile save anna"))
    ok(kit.ask("set pad.range 50"))
    assert ok(kit.ask("profile save")) == {"saved": "anna"}
    assert ok(kit.ask("profile show anna"))["values"]["pad.range"] == "50"


def test_profile_show_gives_the_stored_values_without_applying_them(kit):
    ok(kit.ask("set pad.range 50"))
    ok(kit.ask("profile save anna"))
    ok(kit.ask("set pad.range 60"))
    shown = ok(kit.ask("profile show anna"))
    assert shown["name"] == "anna" and shown["values"]["pad.range"] == "50"
    assert kit.settings.ch[1].range == 60


def test_a_damaged_profile_loads_from_its_backup_and_status_says_so(kit):
    ok(kit.ask("set pad.range 50"))
    ok(kit.ask("profile save anna"))
    ok(kit.ask("set pad.range 60"))
    ok(kit.ask("profile save anna"))
    with open("profiles/anna.json", "wb") as f:
        f.write(b'{"layout": 1, "val')
    loaded = ok(kit.ask("profile load anna"))
    assert loaded["from"] == "backup" and "not valid JSON" in loaded["reason"]
    assert kit.settings.ch[1].range == 50
    status = ok(kit.ask("status"))
    assert status["config"] == "backup" and "anna.json" in status["config_reason"]


def test_a_profile_with_no_good_copy_is_refused_and_nothing_changes(kit):
    ok(kit.ask("profile save anna"))
    ok(kit.ask("set pad.range 60"))
    for ext in (".json", ".bak"):
        if os.path.exists("profiles/anna" + ext):
            with open("profiles/anna" + ext, "wb") as f:
                f.write(b"\x00\xff")
    panics = kit.panics
    assert "damaged" in err(kit.ask("profile load anna"), "storage")
    assert kit.settings.ch[1].range == 60 and kit.panics == panics


def test_profile_commands_on_a_missing_profile_say_notfound(kit):
    err(kit.ask("profile load ghost"), "notfound")
    err(kit.ask("profile show ghost"), "notfound")
    err(kit.ask("profile delete ghost"), "notfound")
    err(kit.ask("profile rename ghost ghoul"), "notfound")


@pytest.mark.parametrize("name", ["../x", "a/b", "x" * 25, "a.json", "..", "a\\b"])
def test_profile_names_with_paths_or_odd_characters_are_refused(kit, name):
    for cmd in ("profile save ", "profile load ", "profile show ", "profile delete "):
        assert "letters, digits" in err(kit.ask(cmd + name), "name")
    err(kit.ask("profile rename anna " + name), "name")
    assert not os.path.exists("x") and os.listdir(".") in ([], ["profiles"])


def test_a_profile_name_with_unicode_is_refused_before_it_is_read(kit):
    err(kit.ask("profile save \u00e4nna".encode()), "encoding")


def test_deleting_the_active_profile_leaves_the_settings_and_no_start_up_profile(kit):
    ok(kit.ask("set pad.range 50"))
    ok(kit.ask("profile save anna"))
    assert ok(kit.ask("profile delete anna")) == {"deleted": "anna"}
    assert ok(kit.ask("profile list")) == {"active": None, "profiles": []}
    assert kit.settings.ch[1].range == 50
    assert Store("x").active() is None


def test_renaming_moves_the_profile_and_keeps_it_active(kit):
    ok(kit.ask("profile save anna"))
    ok(kit.ask("profile save ben"))
    err(kit.ask("profile rename anna ben"), "name")
    assert ok(kit.ask("profile rename ben carl")) == {"renamed": "ben", "to": "carl"}
    assert ok(kit.ask("profile list")) == {"active": "carl", "profiles": ["anna", "carl"]}
    assert Store("x").active() == "carl"


def test_a_read_only_flash_refuses_the_save_and_keeps_the_settings(kit, monkeypatch):
    ok(kit.ask("profile save anna"))
    ok(kit.ask("set pad.range 40"))

    def read_only(*a, **k):
        raise OSError(30, "Read-only file system")

    with monkeypatch.context() as m:
        m.setattr(kit.store, "save", read_only)
        reason = err(kit.ask("profile save anna"), "storage")
    assert "error 30" in reason and "unchanged" in reason
    assert kit.settings.ch[1].range == 40
    assert ok(kit.ask("status"))["unsaved"]
    assert ok(kit.ask("profile show anna"))["values"]["pad.range"] == "100"


def test_unknown_keys_and_refused_values_in_a_stored_profile_are_skipped_with_notes(kit):
    values = kit.settings.to_dict()
    values["pad.sparkle"] = "on"  # from a newer firmware
    values["foot.mode"] = "note"  # a sensor this instrument does not have
    values["pad.range"] = "900"  # refused by this schema
    values["pad.sensitivity"] = "33"
    kit.store.save("anna", values)
    loaded = ok(kit.ask("profile load anna"))
    assert kit.settings.ch[1].sensitivity == 33
    assert kit.settings.ch[1].range == 100
    skipped = " ".join(loaded["skipped"])
    assert "'pad.sparkle'" in skipped and "'foot.mode'" in skipped and "900" in skipped
    assert ok(kit.ask("status"))["notes"] == loaded["skipped"]


def test_a_profile_with_swapped_velocity_limits_loads_whatever_the_key_order(kit):
    values = {"velocity_max": "30", "velocity_min": "20"}
    kit.store.save("soft", values)
    assert ok(kit.ask("profile load soft"))["skipped"] == []
    assert (kit.settings.glob.velocity_min, kit.settings.glob.velocity_max) == (20, 30)


# ---- status, monitor, events, faults ---------------------------------------------------------


def test_status_reports_the_loop_the_channels_and_the_configuration(kit):
    kit.stats.late_ticks = 3
    s = ok(kit.ask("status"))
    assert s["state"] == "playing" and s["tick_hz"] == 1000 and s["late_ticks"] == 3
    assert s["uptime_s"] == 0 and s["mem_free"] == 150000
    assert (s["config"], s["profile"], s["unsaved"]) == ("defaults", None, False)
    cond = kit.inst.channels[1].cond
    assert s["channels"][1] == {
        "name": "pad",
        "sensor": "fsr",
        "kind": "analog",
        "fault": None,
        "pressed": 0,
        "level": 0,
        "learned": {
            "noise": cond.noise_level,
            "move": 0,
            "shake": 0,
            "trigger": cond.trigger_level,
            "auto": 0,
            "speed": 0,
        },
    }
    assert s["midi_dropped"] == 0 and s["errors"] == 0 and s["monitor"] == 0


def frames(lines):
    return [x for x in lines if x.startswith("* levels ")]


def details(lines, name=""):
    return [x for x in lines if x.startswith("* monitor ") and " " + name in x]


def sweep(kit, sensor, ms, step):
    # a level that keeps moving: the pad's reading rises by `step` a ms
    for _ in range(ms):
        kit.sensors[sensor].value += step
        kit.tick()


def test_monitor_sends_a_frame_of_every_sensor_at_the_chosen_rate(kit):
    assert ok(kit.ask("monitor 5")) == {"monitor": 5, "max": 32}
    kit.lines.clear()
    kit.play(1000)
    first = list(kit.lines)
    frame = frames(first)
    # all still: the first frame, then one a second (a round with nothing moved is skipped)
    assert len(frame) == 1
    # fixed widths (zero-padded: the device rewrites one buffer's digits in place)
    t = frame[0].split("=")[1].split()[0]
    assert len(t) == 10 and int(t) <= kit.t_ms
    assert frame[0] == "* levels t=" + t + " switch=00000,0 pad=00000,0 hand=00000,0"
    kit.lines.clear()
    sweep(kit, "pad", 1000, 30)  # moving: 5 rounds a second, one line for all 3 sensors...
    moving = [int(x.split()[2][2:]) for x in frames(kit.lines)]
    assert max(b - a for a, b in zip(moving, moving[1:], strict=False)) <= 200 + 4  # (polls)
    # ...and between two rounds at most one early frame for the moving level, one for the
    # press that began
    assert 5 <= len(moving) <= 2 * 5 + 1, moving
    # each sensor's whole state: at once when the monitor starts, then in turn every 250 ms
    mon = details(first)
    assert [x.split()[3] for x in mon[:3]] == ["switch", "pad", "hand"]
    assert 6 <= len(mon) <= 7 and "raw=2000" in mon[1] and "pressed=0" in mon[1]
    kit.lines.clear()
    kit.play(2100)  # still again: one a second
    assert len(frames(kit.lines)) == 2
    assert ok(kit.ask("monitor off")) == {"monitor": 0, "max": 32}
    kit.lines.clear()
    kit.play(500)
    assert kit.lines == []


@pytest.mark.parametrize("rate", ["0", "51", "fast", ""])
def test_monitor_refuses_a_rate_outside_1_to_50(kit, rate):
    assert "from 1 to 50" in err(kit.ask("monitor " + rate), "value")


def test_a_monitor_rate_above_what_the_link_carries_is_clamped_to_the_cap(kit):
    # 3 sensors: frames of 62 bytes; the link carries 32 a second beside the `* monitor` lines
    # (commands/telemetry.max_rate)
    assert ok(kit.ask("monitor 50")) == {"monitor": 32, "max": 32}
    assert ok(kit.ask("status"))["monitor"] == 32
    kit.lines.clear()
    for k in range(1000):  # a pad that keeps moving (a round with nothing moved is skipped)
        kit.sensors["pad"].value = 2000 + (k * 37) % 38000
        kit.tick()
    assert 31 <= len(frames(kit.lines)) <= 33
    # (the first second also carries every sensor's `* monitor` line at once: measured after)
    kit.lines.clear()
    for k in range(2000):
        kit.sensors["pad"].value = 2000 + (k * 37) % 38000
        kit.tick()
    assert 63 <= len(frames(kit.lines)) <= 65
    mon = [x for x in kit.lines if x.startswith(("* monitor ", "* levels "))]
    assert sum(len(x) + 1 for x in mon) <= 2 * 2400


@hsettings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, (1 << 30) - 1),
            st.lists(st.tuples(st.integers(-5, 20000), st.booleans()), min_size=3, max_size=3),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_a_frame_rewritten_in_place_always_reads_as_if_written_afresh(frames_in):
    # only changed digits are rewritten (t's high digits every 10 s, a level when it moves):
    # whatever came before, each frame is the whole truth, in fixed widths
    kit = Kit()
    tel = kit.console.telemetry
    chans = kit.inst.channels
    sent = []
    kit.console.write_frame = lambda buf: sent.append(bytes(buf).decode())
    for t, values in frames_in:
        for ch, (level, pressed) in zip(chans, values, strict=True):
            ch.level, ch.pressed = level, int(pressed)
        tel.frame(t)
        want = "* levels t=%010d" % t + "".join(  # noqa: UP031
            " %s=%05d,%d" % (ch.name, v if 0 <= v <= 16383 else 0, p)  # noqa: UP031
            for ch, (v, p) in zip(chans, values, strict=True)
        )
        assert sent[-1].rstrip() == want


def test_the_monitor_cap_falls_with_more_sensors_and_stays_within_1_to_50():
    from commands.telemetry import frame_bytes, max_rate

    def pads(n):
        return [b"pad" + str(k + 1).encode() for k in range(n)]

    # a frame: "* levels t=<10 digits>" and " padN=16383,1" a sensor
    assert frame_bytes(pads(4)) == len("* levels t=1234567890" + " pad1=16383,1" * 4 + "\n")
    assert frame_bytes(pads(4), 64) == 127  # usbserial's port: 2 packets, the last a byte short
    assert [max_rate(pads(n)) for n in (1, 2, 4, 8, 12)] == [50, 42, 27, 16, 11]
    assert max_rate([]) == 50 and max_rate(pads(1000)) == 1
    assert max_rate(pads(12), 4800) == 24  # usbserial's port, if it took the bytes as they are
    assert max_rate(pads(4), 4800, 64) == 34  # ...in whole packets, as it does
    assert max_rate(pads(12), 4800, 64) == 23


def test_monitor_lines_carry_the_release_point_and_the_top_of_the_noise_band(kit):
    ok(kit.ask("monitor 10"))
    kit.lines.clear()
    kit.play(200)
    pad = details(kit.lines, "pad ")[-1]
    fields = dict(w.split("=") for w in pad.split()[4:])
    assert set(fields) == {"raw", "level", "trigger", "pressed", "release", "noise", "move"}
    cond = kit.inst.channels[1].cond
    assert int(fields["release"]) == cond.release_level < int(fields["trigger"])
    assert 0 < int(fields["noise"]) == cond.noise_level < int(fields["release"])
    switch = details(kit.lines, "switch ")[-1]
    assert switch.endswith(" noise=0") and len(pad) < 100


def test_a_trigger_point_that_moves_is_sent_at_once(kit):
    # a therapist dragging the sensitivity slider sees the trigger line follow
    ok(kit.ask("monitor 5"))
    kit.play(1100)
    kit.lines.clear()
    old = kit.inst.channels[1].cond.trigger_level
    assert ok(kit.ask("set pad.sensitivity 20"))
    t0 = kit.t_ms
    kit.tick()  # (settings are taken in at the next tick)
    new = kit.inst.channels[1].cond.trigger_level
    assert new != old
    while not details(kit.lines, "pad ") and kit.t_ms - t0 < 100:
        kit.tick()
    assert kit.t_ms - t0 <= 25 and "trigger=" + str(new) + " " in details(kit.lines, "pad ")[0]


def test_a_sensor_that_moves_between_rounds_brings_the_next_frame_early(kit):
    ok(kit.ask("monitor 2"))
    kit.play(1100)  # rounds at 0, 500 and 1000 ms
    # still sensors: the first round, then one a second (a round with nothing moved is skipped)
    assert len(frames(kit.lines)) == 2
    last = int(frames(kit.lines)[-1].split()[2][2:])
    kit.play(last + 200 - kit.t_ms)  # between two rounds (500 ms apart)
    kit.lines.clear()
    t0 = kit.t_ms
    kit.sensors["pad"].value = 40000
    for _ in range(30):
        kit.tick()
        if frames(kit.lines):
            break
    early = frames(kit.lines)
    assert early and kit.t_ms - t0 <= 20, (kit.t_ms - t0, kit.lines)
    fields = dict(w.split("=") for w in early[0].split()[2:])
    assert int(fields["pad"].split(",")[0]) > 300
    assert early[0].startswith(f"* levels t={kit.t_ms - 1:010d}")
    # the next round comes a period after it, not at its old time
    kit.lines.clear()
    kit.play(480)
    assert not frames(kit.lines) or int(frames(kit.lines)[0].split()[2][2:]) >= kit.t_ms - 480
    # a pad moving all the time: at most one early frame between two rounds, and all within
    # the link's 2400 bytes a second (+ 4 long lines saved up)
    for rate, most in ((2, 4), (32, 33)):
        ok(kit.ask("monitor " + str(rate)))
        kit.play(50)
        kit.lines.clear()
        for k in range(1000):
            kit.sensors["pad"].value = 2000 + (k * 37) % 38000
            kit.tick()
        assert rate <= len(frames(kit.lines)) <= most, (rate, len(frames(kit.lines)))
        mon = [x for x in kit.lines if x.startswith(("* monitor ", "* levels "))]
        assert sum(len(x) + 1 for x in mon) <= 2400 + 4 * 96


def test_a_press_that_ends_with_no_midi_of_its_own_still_brings_a_frame_early(kit):
    # two sensors holding one note: the first to let go sends no note-off, yet its meter
    # must show the release within a few polls, not at the next round
    ok(kit.ask("monitor 1"))
    kit.play(1100)
    pad = kit.inst.channels[1]
    pad.pressed = 1  # (as the gesture leaves it; no MIDI this time)
    kit.lines.clear()
    for k in range(4 * 3):  # three sensors, one looked at a poll (every 4 ms)
        kit.console.poll(kit.t_ms + 4 * k)
        if frames(kit.lines):
            break
    assert frames(kit.lines) and " pad=00000,1 " in frames(kit.lines)[0], kit.lines


def test_events_are_reported_while_monitoring(kit):
    ok(kit.ask("monitor 1"))
    press(kit, "pad", 40000)
    press(kit, "pad", 2000, ms=200)
    ev = [x for x in kit.lines if x.startswith("* event ")]
    assert ev[0].startswith("* event pad note_on ")
    assert any(x.startswith("* event pad note_off ") for x in ev)


def test_events_captured_before_the_midi_is_sent_are_reported_at_the_next_poll(kit):
    ok(kit.ask("monitor 1"))
    kit.sensors["pad"].value = 40000
    for _ in range(60):  # the runtime's order: tick, capture, send, ..., poll
        kit.inst.tick(kit.t_ms * 1000)
        kit.console.capture()
        kit.inst.midi.count = 0
        kit.console.poll(kit.t_ms)
        kit.t_ms += 1
    ev = [x for x in kit.lines if x.startswith("* event ")]
    assert len(ev) == 1 and ev[0].startswith("* event pad note_on ")


def test_captured_events_are_bounded_between_polls(kit):
    ok(kit.ask("monitor 1"))
    m = kit.inst.midi
    for _ in range(5):
        for n in range(4):
            m.cc(0, 1, n, src=1)
        kit.console.capture()
        m.count = 0
    kit.console.poll(kit.t_ms)
    assert len([x for x in kit.lines if x.startswith("* event pad cc 1 ")]) == 8


def test_no_events_are_reported_without_monitoring(kit):
    press(kit, "pad", 40000)
    assert not [x for x in kit.lines if x.startswith("* event")]


def test_a_sensor_fault_and_its_recovery_are_announced_once_each(kit):
    sensor = kit.sensors["hand"]
    sensor.fault, sensor.fault_text = 5, "not answering on I2C"
    kit.play(200)
    assert kit.lines.count("* fault hand not answering on I2C") == 1
    s = ok(kit.ask("status"))
    assert s["channels"][2]["fault"] == "not answering on I2C"
    sensor.fault, sensor.fault_text = 0, ""
    kit.play(200)
    assert kit.lines.count("* info hand recovered") == 1


def test_panic_turns_every_sounding_note_off_now(kit):
    press(kit, "pad", 40000)
    press(kit, "switch", 1)
    assert kit.sounding()
    assert ok(kit.ask("panic")) == {"panic": True}
    kit.sensors["pad"].value = 2000
    kit.sensors["switch"].value = 0
    kit.play(1)
    assert kit.sounding() == set()


def test_maintenance_sets_the_flag_then_restarts_after_the_reply_has_gone(kit):
    assert ok(kit.ask("maintenance")) == {"maintenance": True}
    assert open("maintenance").read() == "1"
    kit.play(400)
    assert kit.reboots == 0
    kit.play(200)
    assert kit.reboots == 1


def test_maintenance_on_a_read_only_flash_is_refused_and_play_goes_on(kit, monkeypatch):
    def refuse(*a, **k):
        raise OSError(30)

    monkeypatch.setattr(system_mod, "open", refuse, raising=False)
    err(kit.ask("maintenance"), "storage")
    kit.play(1000)
    assert kit.reboots == 0


# ---- calibration ------------------------------------------------------------------------------


def calibrate(kit, name="pad", rest=2000, peak=30000):
    reply = ok(kit.ask("calibrate " + name))
    assert reply["calibrate"] == name and reply["phase"] == "rest"
    kit.play(3100)
    for _ in range(3):
        press(kit, name, rest + peak, ms=700)
        press(kit, name, rest, ms=900)
    kit.play(600)


def test_calibration_shows_a_result_and_applies_it_only_when_confirmed(kit):
    calibrate(kit)
    phases = [x.split()[3] for x in kit.lines if x.startswith("* calibrate pad ")]
    assert phases == ["rest", "move", "result"]
    state = ok(kit.ask("calibrate"))
    assert state["phase"] == "result"
    r = state["result"]
    assert kit.settings.ch[1].range == 100  # shown, not applied
    applied = ok(kit.ask("calibrate apply"))
    assert applied == {
        "applied": {"pad.range": str(r["range"]), "pad.sensitivity": str(r["sensitivity"])}
    }
    assert kit.settings.ch[1].range == r["range"]
    assert ok(kit.ask("status"))["unsaved"]
    err(kit.ask("calibrate apply"), "value")


def test_while_calibrating_other_calibrations_loads_and_resets_are_busy(kit):
    ok(kit.ask("profile save anna"))
    ok(kit.ask("calibrate pad"))
    kit.play(10)
    assert ok(kit.ask("status"))["state"] == "calibrating"
    err(kit.ask("calibrate hand"), "busy")
    err(kit.ask("profile load anna"), "busy")
    err(kit.ask("reset"), "busy")
    err(kit.ask("calibrate apply"), "busy")
    ok(kit.ask("set pad.mode cc"))  # playing and tuning go on
    assert ok(kit.ask("calibrate cancel")) == {"cancelled": "pad"}
    assert "* calibrate pad cancelled Nothing was changed." in kit.lines
    assert ok(kit.ask("calibrate"))["phase"] is None


def test_calibrating_a_switch_or_an_unknown_sensor_is_refused(kit):
    assert "switch" in err(kit.ask("calibrate switch"), "value")
    err(kit.ask("calibrate foot"), "key")
    err(kit.ask("calibrate cancel"), "value")


def test_a_sensor_that_stops_answering_ends_its_calibration_in_plain_words(kit):
    ok(kit.ask("calibrate hand"))
    kit.play(500)
    kit.sensors["hand"].fault, kit.sensors["hand"].fault_text = 5, "not answering"
    kit.play(10)
    assert (
        "* calibrate hand failed The sensor stopped answering (not answering). Check its "
        "cable, then try again." in kit.lines
    )
    err(kit.ask("calibrate apply"), "value")


def test_calibration_without_movement_says_so(kit):
    ok(kit.ask("calibrate pad"))
    kit.play(8200)
    fail = [x for x in kit.lines if x.startswith("* calibrate pad failed")]
    assert fail and "didn't see any movement" in fail[0]


# ---- start-up --------------------------------------------------------------------------------


@pytest.fixture
def flash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_start_up_with_nothing_saved_uses_the_instruments_defaults(flash):
    s = Settings(["switch", "pad"])
    st = Store("t")
    loaded, pr = load_settings(st, s, {"switch.velocity": "fixed"})
    assert loaded == (None, "defaults")
    assert s.get("switch.velocity")[0] == "fixed"
    assert (pr.config, pr.reason, pr.notes) == ("defaults", "", [])


def test_start_up_loads_the_active_profile_over_the_instruments_defaults(flash):
    st = Store("t")
    s = Settings(["switch", "pad"])
    st.save("anna", {"pad.range": "40"})
    st.set_active("anna")
    loaded, _ = load_settings(Store("t"), s, {"switch.velocity": "fixed", "pad.range": "70"})
    assert loaded == ("anna", "saved")
    assert s.ch[1].range == 40 and s.get("switch.velocity")[0] == "fixed"


def test_start_up_with_a_damaged_profile_uses_its_backup_and_says_why(flash):
    st = Store("t")
    st.save("anna", {"pad.range": "40"})
    st.save("anna", {"pad.range": "45"})
    st.set_active("anna")
    with open("profiles/anna.json", "wb") as f:
        f.write(b"garbage")
    s = Settings(["pad"])
    st2 = Store("t")
    loaded, pr = load_settings(st2, s, None)
    assert loaded == ("anna", "backup")
    assert s.ch[0].range == 40 and "anna.json" in pr.reason


def test_start_up_with_a_lost_profile_plays_the_defaults_and_says_why(flash):
    st = Store("t")
    st.set_active("ghost")
    s = Settings(["pad"])
    loaded, pr = load_settings(st, s, None)
    assert loaded == ("ghost", "defaults")
    assert "'ghost' is not on the flash" in pr.reason


def test_start_up_skips_values_the_schema_refuses_and_notes_them(flash):
    st = Store("t")
    st.save("anna", {"pad.range": "0", "pad.mode": "cc", "pad.glitter": "5"})
    st.set_active("anna")
    s = Settings(["pad"])
    loaded, pr = load_settings(st, s, None)
    assert loaded == ("anna", "saved")
    assert s.get("pad.mode")[0] == "cc" and s.ch[0].range == 100
    assert len(pr.notes) == 2


def test_a_flood_of_skipped_values_keeps_a_bounded_list_of_notes():
    s = Settings(["pad"])
    notes = apply_values(s, {"k" + str(i): "1" for i in range(100)})
    assert len(notes) == 10 and notes[-1] == "... and 91 more."


# ---- never raises, one reply per line --------------------------------------------------------

KEYS = [
    "pad.sensitivity",
    "pad.mode",
    "pad.melody",
    "scale",
    "velocity_min",
    "hand.range",
    "switch.debounce",
    "pad.cc_max",
    "nope",
    "pad.",
    ".x",
    "pad.invert",
]
VALUES = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(
        [
            "",
            "on",
            "blues",
            "C4 D4",
            "H9",
            "-",
            "1e9",
            "nan",
            "0x10",
            "note",
            "C#-1",
            "G9",
            "x" * 150,
            "60," * 40,
            "Bb-5",
        ]
    ),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
)
LINES = st.one_of(
    st.binary(max_size=260),
    st.builds(lambda k, v: ("set " + k + " " + v).encode(), st.sampled_from(KEYS), VALUES),
    st.builds(lambda k: ("get " + k).encode(), st.sampled_from(KEYS + ["global", "pad", ""])),
    st.builds(
        lambda c, v: (c + " " + v).encode(),
        st.sampled_from(
            [
                "params",
                "monitor",
                "calibrate",
                "profile",
                "profile save",
                "profile load",
                "profile show",
                "profile delete",
                "profile rename",
                "hello",
                "status",
                "panic",
                "help",
                "reset",
                "HELLO",
                "Status",
            ]
        ),
        VALUES,
    ),
)


@hsettings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(LINES, max_size=12))
@example([b"\t", b" \t ", b"@A"])  # found by hypothesis: blank lines, no reply
@example([b"@0\r\x00"])  # found by hypothesis: a tagged line with a control character
def test_any_lines_while_playing_never_raise_and_each_gets_one_reply(flash, lines):
    kit = Kit()
    kit.play(250)
    kit.sensors["pad"].value = 40000
    for line in lines:
        line = line.replace(b"\n", b" ").replace(b"\r", b" ")
        reply = kit.console.handle(line)
        # TAB counts as a space (docs/protocol.md), so a line of spaces and tabs is blank, and
        # so is one with only a request tag (`@A`): the console answers neither
        printable = all(32 <= b <= 126 or b == 9 for b in line)
        tag, rest, bad = protocol.split_tag(line)
        blank = len(line) <= 200 and printable and bad is None and not rest.strip(b" \t")
        if blank:
            assert reply is None
        else:
            assert reply is not None
            if tag is not None and bad is None:  # a tagged request's reply carries its tag
                assert reply.startswith("@" + tag + " "), reply
                reply = reply.split(" ", 1)[1]
            assert reply.startswith(("OK ", "ERR ")), reply
            assert "\n" not in reply
            assert not reply.startswith("ERR internal"), reply
            if reply.startswith("OK "):
                json.loads(reply[3:])
        kit.play(3)
    # whatever happened, once the client lets go and the therapist resets, nothing sounds
    kit.sensors["pad"].value = 2000
    kit.ask("calibrate cancel")
    kit.ask("reset")
    kit.play(300)
    assert kit.sounding() == set()
    assert kit.inst.errors == 0


# ---- request tags ----------------------------------------------------------------------------


def test_a_tagged_request_gets_its_reply_with_the_same_tag(kit):
    reply = kit.ask("@a7 hello")
    assert reply.startswith("@a7 OK ")
    assert json.loads(reply[len("@a7 OK ") :])["protocol"] == 1
    assert kit.ask("@Z9 nosuch").startswith("@Z9 ERR unknown ")
    assert kit.ask("@q \x03").startswith("@q ERR ")  # a refused line still carries its tag


def test_an_untagged_request_gets_an_untagged_reply_and_a_bad_tag_an_untagged_error(kit):
    assert kit.ask("hello").startswith("OK ")
    err(kit.ask("@toolongtag hello"), "tag")
    assert kit.ask("@a7") is None  # a tag alone is an empty line: no reply
