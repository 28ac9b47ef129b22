"""`calibrate <sensor> | apply | cancel`, and the calibration run fed between ticks
(engine/calibration.py does the maths; its news goes out as `* calibrate` lines)."""

import protocol
from engine.calibration import Calibration

from commands import between_ticks, busy, command


@command("calibrate", "calibrate <sensor> | calibrate apply | calibrate cancel | calibrate")
def calibrate(con, rest):
    word = rest.lower()
    cal = con.cal
    if not rest:
        if cal is None:
            return protocol.ok(
                {
                    "calibrate": None,
                    "phase": None,
                    "seconds_left": 0,
                    "message": "",
                    "result": None,
                }
            )
        return protocol.ok(
            {
                "calibrate": cal.name,
                "phase": cal.phase,
                "seconds_left": cal.seconds_left(con.now),
                "message": cal.message,
                "result": cal.result,
            }
        )
    if word == "cancel":
        if cal is None or not cal.running and cal.phase != "result":
            return protocol.err("value", "No calibration is running.")
        con.cal = None
        con.write(protocol.notice("calibrate", cal.name + " cancelled Nothing was changed."))
        return protocol.ok({"cancelled": cal.name})
    if word == "apply":
        return _apply(con, cal)
    refused = busy(con)
    if refused:
        return refused
    names = con.settings.names
    if rest not in names:
        return protocol.err(
            "key", "There is no sensor called '" + rest + "'. Sensors: " + ", ".join(names) + "."
        )
    i = names.index(rest)
    ch = con.inst.channels[i]
    if ch.kind != "analog":
        return protocol.err(
            "value",
            "'" + rest + "' is a " + str(ch.kind) + ": only analog sensors need calibrating.",
        )
    if ch.fault:
        return protocol.err(
            "value",
            "The sensor '"
            + rest
            + "' is not answering ("
            + ch.fault_text
            + "). Check its cable, then try again.",
        )
    con.cal = Calibration(ch)
    con.cal_channel = ch
    return protocol.ok({"calibrate": rest, "phase": "rest", "message": con.cal.message})


def _apply(con, cal):
    refused = busy(con)
    if refused:
        return refused
    if cal is None or cal.result is None:
        return protocol.err(
            "value",
            "There is no calibration result to apply; start one with 'calibrate <sensor>'.",
        )
    r = cal.result
    values = {
        cal.name + ".range": str(r["range"]),
        cal.name + ".sensitivity": str(r["sensitivity"]),
    }
    errors = con.settings.apply(values)
    if errors:
        return protocol.err("value", " ".join(errors))
    # no rebaseline: the conditioner already tracks the rest point, and relearning it now
    # would learn a wrong one if the client happens to be pressing
    con.cal = None
    con.profiles.unsaved = True
    return protocol.ok({"applied": values})


@between_ticks(20)
def _feed(con, now_ms):
    cal = con.cal
    if cal is not None and cal.running:
        ch = con.cal_channel
        if ch.fault:
            change = cal.fail(
                "The sensor stopped answering (" + ch.fault_text + "). Check its "
                "cable, then try again."
            )
        else:
            change = cal.feed(ch.raw, now_ms)
        if change is not None:
            con.write(protocol.notice("calibrate", cal.name + " " + change[0] + " " + change[1]))
