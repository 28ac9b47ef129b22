"""The journal's device side on real MicroPython: press tracking allocates nothing per tick
(with the console's drain between ticks), `* act` lines, and the flash log (write, read,
damaged and cut records).

Run: node tests/micropython/run.mjs tests/micropython/check_journal.py --path firmware \
     --path benchmarks/mp
"""

import json
import os

from checks import alloc_bytes, run
from console import Console
from fakesensor import FakeSensor
from instrument import Instrument, kind_defaults
from journal import CUT_PART, Journal
from profiles import Profiles
from runtime import Stats
from settings import Settings
from store import Store
from system import System

VM_PATHS = ("benchmarks/mp",)
_MASK = (1 << 30) - 1


def _folder(name):
    try:
        os.mkdir("/" + name)
    except OSError:
        pass
    os.chdir("/" + name)
    for f in os.listdir():
        os.remove(f)


def _instrument():
    names = ("switch", "pad")
    st = Settings(names)
    assert st.apply(kind_defaults((("switch", "switch"), ("pad", "analog")))) == []
    sw = [0] * 200 + [1] * 150 + [0] * 150
    pad = [2000] * 250 + [2000 + k * 300 for k in range(100)] + [32000] * 100 + [2000] * 50
    sensors = (
        ("switch", FakeSensor("switch", values=sw, loop=True), "switch"),
        ("pad", FakeSensor("analog", values=pad, loop=True), "fsr"),
    )
    inst = Instrument(st, sensors)
    inst.begin(0)
    return inst, st


def check_press_ticks_with_the_drain_allocate_nothing():
    inst, _ = _instrument()
    act = inst.activity
    state = [0, 0]

    def step():
        t = (state[0] + 1000) & _MASK
        state[0] = t
        inst.tick(t)
        inst.midi.count = 0
        while act.n:  # what the console's poll takes (outside the tick)
            state[1] += 1
            act.pop()

    assert alloc_bytes(step, 3000, warmup=600) == 0
    assert state[1] >= 8 and act.lost == 0, (state, act.lost)


def check_a_press_records_onset_velocity_peak_and_hold():
    inst, _ = _instrument()
    act = inst.activity
    t = 0
    ends = []
    while t < 500 and not ends:
        inst.tick(t * 1000)
        inst.midi.count = 0
        if act.n:
            k = act.head
            ends.append((act.ch[k], act.t0[k], act.t1[k], act.vel[k], act.raw[k], act.level[k]))
            act.pop()
        t += 1
    assert ends[0][0] == 0 and ends[0][1] == 200000 and ends[0][2] == 350000, ends
    assert ends[0][3] > 0 and ends[0][4] == 1 and ends[0][5] == 16383, ends


def check_act_lines_while_monitoring_and_a_session_without():
    _folder("jcon")
    inst, st = _instrument()
    lines = []
    store = Store("vm")
    con = Console(
        inst, Profiles(store, st, {}), System("vm", "pico", "x", "X"), Stats(), lines.append
    )
    assert con.handle(b"monitor 5").startswith("OK")
    t = 0
    while t < 1000:
        inst.tick(t * 1000)
        inst.midi.count = 0
        con.poll(t)
        t += 1
    acts = [x for x in lines if x.startswith("* act ")]
    assert acts[0] == "* act switch t=200 hold=150 vel=90 peak=1 level=16383", acts
    assert any(x.startswith("* act pad ") and " peak=32000 " in x for x in acts), acts
    con.handle(b"monitor off")
    while t < 3000:
        inst.tick(t * 1000)
        inst.midi.count = 0
        con.poll(t)
        t += 1
    n = len([x for x in lines if x.startswith("* act ")])
    assert n == len(acts), lines  # the monitor is off: the presses are the journal's
    reply = con.handle(b"journal read 1")
    assert reply.startswith("OK "), reply
    assert json.loads(reply[3:])["sensors"][0]["name"] == "switch", reply


def check_the_log_writes_reads_and_reports_damage():
    _folder("jlog")
    j = Journal(["pad"], ["read_u16"])
    j.pressed(0, 1000, 1400, 400, 30000, 9000, 1000)
    j.pressed(0, 3000, 3500, 500, 20000, 8000, 3000)
    j.save(4000)
    j.cur = None
    j.pressed(0, 400000, 400300, 300, 25000, 8500, 400000)
    j.save(401000)
    j2 = Journal(["pad"], ["read_u16"])
    assert j2.seqs() == [1, 2] and j2.boot == 2
    doc, bad = j2.read(1)
    pad = doc["sensors"][0]
    assert (pad["count"], pad["hold_ms_mean"], pad["ioi_mean_ms"]) == (2, 450, 2000), doc
    # a flipped byte in the first record: it is reported, the second still reads
    with open("journal.log", "rb") as f:
        data = bytearray(f.read())
    i = data.find(b"30000")
    data[i] = ord("9")
    with open("journal.log", "wb") as f:
        f.write(data)
    j3 = Journal(["pad"], ["read_u16"])
    doc, bad = j3.read(1)
    assert doc is None and "checksum" in bad, bad
    assert j3.read(2)[0]["sensors"][0]["count"] == 1


def check_a_save_cut_by_the_power_is_reported_and_the_rest_kept():
    _folder("jcut")
    j = Journal(["pad"], ["read_u16"])
    j.pressed(0, 1000, 1400, 400, 30000, 9000, 1000)
    j.save(2000)
    # the power goes while session 1's next save writes journal.1.tmp: half of it is there
    with open("journal.log", "rb") as f:
        whole = f.read()
    with open("journal.1.tmp", "wb") as f:
        f.write(whole[: len(whole) // 2])
    j2 = Journal(["pad"], ["read_u16"])
    doc, _ = j2.read(1)
    assert doc["cut"] and doc["sensors"][0]["count"] == 1, doc
    j2.pressed(0, 5000, 5400, 400, 30000, 9000, 5000)
    assert j2.cur.seq == 2
    j2.save(6000)
    assert "journal.1.tmp" not in os.listdir()
    j3 = Journal(["pad"], ["read_u16"])
    assert j3.log.find(1)[1] == CUT_PART and j3.seqs() == [1, 2]


run(globals())
