"""firmware/diagnosis.py on real MicroPython: what `attune doctor` reads from a board (the
`diagnose` command and the raw-REPL facts) works with MicroPython's own modules.

Run: node tests/micropython/run.mjs tests/micropython/check_diagnosis.py --path firmware
"""

import json

import diagnosis
from checks import run

BOARD = {
    "id": "pico",
    "name": "Raspberry Pi Pico",
    "gpio": [15, 26, 27, 28, 4, 5],
    "adc": [{"pin": 26, "channel": 0}],
    "i2c": [{"id": 0, "sda": [4], "scl": [5]}],
    "uart": [],
}


def check_system_names_micropython_and_its_mpy_version():
    d = diagnosis.system()
    assert d["implementation"] == "micropython", d
    assert d["micropython"].count(".") == 2 and d["mpy"] == 6, d


def check_a_missing_usb_driver_is_reported_in_words():
    why = diagnosis.usb_midi()  # the VM has no micropython-lib usb package
    assert why and "usb" in why, why


def check_the_wiring_check_is_the_firmwares_own():
    good = {"name": "t", "channels": [{"name": "pad", "sensor": "fsr", "pin": 26}]}
    bad = {"name": "t", "channels": [{"name": "pad", "sensor": "fsr", "pin": 5}]}
    assert diagnosis.wiring(BOARD, good) == ""
    assert "GP5" in diagnosis.wiring(BOARD, bad)


def check_facts_without_board_json_are_json():
    d = json.loads(json.dumps(diagnosis.facts()))
    assert d["attune"] and d["board_file"] == "missing" and d["scan"] == [], d
    assert d["usb_midi_error"], d


run(globals())
