"""What `attune doctor` asks the device: MicroPython and firmware versions, the USB MIDI driver,
the wiring check, an I2C scan of each bus in use and the end of the crash log. Read-only.

Usage: diagnosis.report(console)  # `diagnose`, while playing (commands/diagnose.py)
       diagnosis.facts()          # at the REPL, when the instrument did not start
Imported only when asked, so it takes no RAM while the instrument plays.
"""

import os
import sys

BOARD_FILE = "board.json"
LOG_FILE = "errors.log"
_LOG_TAIL = 400  # characters of errors.log in a reply (a reply line must stay short)
_SCAN_FREQ = 100_000  # slow and forgiving: long wires and weak pull-ups still answer


def system():
    """MicroPython version, the board it was built for and its .mpy version."""
    impl = sys.implementation
    version = ".".join(str(n) for n in impl.version[:3])
    try:
        machine = os.uname().machine
    except AttributeError:  # not MicroPython (a laptop): nothing to name
        machine = sys.platform
    return {
        "micropython": version,
        "machine": machine,
        "implementation": impl.name,
        "mpy": getattr(impl, "_mpy", 0) & 0xFF,
    }


def usb_midi():
    """Whether micropython-lib's usb-device-midi can be imported ("" or why not)."""
    try:
        import usb.device.midi  # noqa: F401
    except ImportError as e:
        return str(e) or "not installed"
    return ""


def attune_version():
    """The Attune firmware version on the flash, or "" when Attune is not installed."""
    try:
        import version
    except ImportError:
        return ""
    return getattr(version, "FIRMWARE", "?")


def board_file(path=BOARD_FILE):
    """(board.json as a dict, "") or (None, why it could not be read)."""
    import json

    try:
        with open(path) as f:
            return json.load(f), ""
    except OSError:
        return None, "missing"
    except ValueError as e:
        return None, "damaged: " + str(e)


def wiring(board, instrument):
    """The firmware's own wiring check: "" or its plain-words message."""
    try:
        import hardware

        hardware.check_wiring(board, instrument)
    except ValueError as e:
        return str(e)
    except Exception as e:  # noqa: BLE001 (an incomplete file: say what, do not crash)
        return "The board file is incomplete (" + repr(e) + ")."
    return ""


def crash_log(n=_LOG_TAIL):
    """The last `n` characters of errors.log ("" when there is none)."""
    try:
        with open(LOG_FILE) as f:
            text = f.read()
    except OSError:
        return ""
    return text[-n:]


def _i2c_spec(sensor_type):
    """The sensor registry's entry of an I2C sensor type, else None."""
    import sensors

    for spec in sensors.SENSORS:
        if spec["type"] == sensor_type and spec["wiring"] == "i2c":
            return spec
    return None


def _i2c_channels(instrument):
    """{bus id: {"sda", "scl", "expected": {address: channel name}}}."""
    buses = {}
    for ch in instrument.get("channels") or ():
        spec = _i2c_spec(ch.get("sensor"))
        if spec is None:
            continue
        bus_id = ch.get("bus", 0)
        bus = buses.get(bus_id)
        if bus is None:
            bus = buses[bus_id] = {"sda": ch.get("sda"), "scl": ch.get("scl"), "expected": {}}
        bus["expected"][ch.get("address", spec["address"])] = ch.get("name", "?")
    return buses


def _lines(sda, scl):
    """SDA and SCL levels (1 high = free). Pin(n) alone leaves the pin with the I2C block."""
    import machine

    return machine.Pin(sda).value(), machine.Pin(scl).value()


def scan(instrument, i2c_for=None):
    """Each I2C bus in use: its pins, the addresses expected (channel names), what answered,
    the line levels, and an error if the scan failed. `i2c_for(bus_id)` gives the running
    instrument's own bus object; else one is made (at the REPL)."""
    out = []
    buses = _i2c_channels(instrument)
    for bus_id in sorted(buses):
        bus = buses[bus_id]
        sda = bus["sda"]
        scl = bus["scl"]
        entry = {
            "bus": bus_id,
            "sda": sda,
            "scl": scl,
            "found": [],
            "error": "",
            "expected": [[a, bus["expected"][a]] for a in sorted(bus["expected"])],
            "sda_level": None,
            "scl_level": None,
        }
        out.append(entry)
        try:
            i2c = i2c_for(bus_id) if i2c_for is not None else None
            if i2c is None:
                import machine

                i2c = machine.I2C(
                    bus_id,
                    sda=machine.Pin(sda),
                    scl=machine.Pin(scl),
                    freq=_SCAN_FREQ,
                    timeout=3000,
                )
            entry["sda_level"], entry["scl_level"] = _lines(sda, scl)
            if entry["sda_level"] and entry["scl_level"]:  # a held line: each probe times out
                entry["found"] = list(i2c.scan())
            else:
                entry["error"] = "line held low"
        except Exception as e:  # noqa: BLE001 (a stuck bus or a bad pin: report it)
            entry["error"] = repr(e)
    return out


def _board_conf(d):
    """board.json's (board, instrument) parts, or None when it cannot be read (why in
    d["board_file"]); d's wiring and scan findings start empty for the caller to fill in."""
    conf, d["board_file"] = board_file()
    d["wiring"] = ""
    d["scan"] = []
    if conf is None:
        return None
    return conf.get("board") or {}, conf.get("instrument") or {}


def facts():
    """Everything doctor needs from a board whose instrument is not playing (raw REPL)."""
    d = system()
    d["usb_midi_error"] = usb_midi()
    d["attune"] = attune_version()
    d["files"] = sorted(os.listdir())
    d["crash_log"] = crash_log()
    conf = _board_conf(d)
    if conf is not None:
        board, inst = conf
        d["board"] = board.get("id", "")
        d["instrument"] = inst.get("name", "")
        if d["attune"]:
            d["wiring"] = wiring(board, inst)
            if not d["wiring"]:
                d["scan"] = scan(inst)
    return d


def report(console):
    """The `diagnose` reply, while the instrument plays (the scan uses its own I2C objects)."""
    d = system()
    d["usb_midi_error"] = usb_midi()
    try:
        from midi.outputs import UsbMidi

        d["usb_midi_running"] = UsbMidi.running() is not None
    except ImportError:
        d["usb_midi_running"] = False
    sy = console.system
    d["attune"] = sy.firmware
    d["board"] = sy.board
    d["instrument"] = sy.instrument
    d["crash_log"] = crash_log()
    d["restarts"] = console.stats.restarts
    d["channels"] = [
        [ch.name, ch.sensor_type, ch.fault_text if ch.fault else ""]
        for ch in console.inst.channels
    ]
    conf = _board_conf(d)
    if conf is not None:
        board, inst = conf
        d["wiring"] = wiring(board, inst)
        d["scan"] = scan(inst, _bus_objects(console, inst))
    return d


def _bus_objects(console, instrument):
    """i2c_for(bus_id): the I2C object the running sensors on that bus use (or None)."""
    found = {}
    chans = instrument.get("channels") or ()
    for ch in console.inst.channels:
        i2c = getattr(ch.sensor, "_i2c", None)
        if i2c is not None:
            for wired in chans:
                if wired.get("name") == ch.name:
                    found.setdefault(wired.get("bus", 0), i2c)

    def i2c_for(bus_id):
        return found.get(bus_id)

    return i2c_for
