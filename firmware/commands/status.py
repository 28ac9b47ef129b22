"""`status`: the loop's figures, each channel, and the configuration in use."""

import protocol

from commands import command


@command("status", "status")
def status(con, rest):
    inst = con.inst
    pr = con.profiles
    stats = con.stats
    chans = []
    for ch in inst.channels:
        c = {
            "name": ch.name,
            "sensor": ch.sensor_type,
            "kind": ch.kind,
            "fault": ch.fault_text if ch.fault else None,
            "pressed": ch.pressed,
            "level": ch.level,
        }
        cond = ch.cond
        if cond is not None:
            # what the engine has learned of this client and sensor (levels 0..16383)
            c["learned"] = {
                "noise": cond.noise_level,
                "move": cond.move,
                "shake": cond.shake,
                "trigger": cond.trigger_level,
                "auto": cond.auto,
                "speed": ch.gesture.speed,
            }
        chans.append(c)
    cal = con.cal
    return protocol.ok(
        {
            "state": "calibrating" if cal is not None and cal.running else "playing",
            "uptime_s": stats.uptime_ms // 1000,
            "tick_hz": stats.tick_hz,
            "late_ticks": stats.late_ticks,
            "config": pr.config,
            "config_reason": pr.reason,
            "notes": pr.notes,
            "profile": pr.name,
            "unsaved": pr.unsaved,
            "channels": chans,
            "midi_dropped": inst.midi.dropped,
            "errors": inst.errors,
            "mem_free": stats.mem_free,
            "gc_us": stats.gc_us,
            "collections": stats.collections,
            "restarts": stats.restarts,
            "monitor": con.telemetry.monitor_hz,
        }
    )
