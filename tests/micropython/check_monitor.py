"""The live meter on real MicroPython: a 4-sensor `* levels` frame, written into its own buffer,
queued on the link and copied into usbserial's packets, allocates nothing, and its
completions neither; a 30 Hz meter made ~7.6 KB of garbage a second as `%`-formatted lines.
usb.device is the VM's stand-in (tests/micropython/usbfake).

Run: node tests/micropython/run.mjs tests/micropython/check_monitor.py --path firmware \
     --path benchmarks/mp --path tests/micropython/usbfake
"""

import os

import usbserial
from checks import alloc_bytes, run
from console import Console
from fakesensor import FakeSensor
from instrument import Instrument, kind_defaults
from link import Link
from profiles import Profiles
from runtime import Stats
from settings import Settings
from store import Store
from system import System
from usb.device import core

VM_PATHS = ("benchmarks/mp", "tests/micropython/usbfake")
_EP = 0x82
_NAMES = ("pad1", "pad2", "pad3", "sw")


def _player():
    try:
        os.mkdir("/mon")
    except OSError:
        pass
    os.chdir("/mon")
    st = Settings(_NAMES)
    kinds = tuple((n, "switch" if n == "sw" else "analog") for n in _NAMES)
    assert st.apply(kind_defaults(kinds)) == []
    sensors = tuple(
        (n, FakeSensor(k, values=[2000], loop=True), "switch" if k == "switch" else "fsr")
        for n, k in kinds
    )
    inst = Instrument(st, sensors)
    inst.begin(0)
    port = usbserial.start()
    port.on_open()
    lnk = Link(port=port)
    con = Console(
        inst,
        Profiles(Store("vm"), st, {}),
        System("vm", "pico", "x", "X"),
        Stats(),
        lnk.send_async,
        lnk.send_line,
        lnk.send_frame,
    )
    lnk.handler = con.handle
    return inst, con, lnk


def _sent(host):
    # the host reads every packet: with `host` a list, a copy of each (after the measuring)
    dev = core.get()
    while dev._ep_cbs.get(_EP) is not None:
        if host is not None:
            host.append(bytes(dev._usbd.data))
        dev.complete(_EP)


def check_a_frame_queued_and_sent_in_packets_allocates_nothing():
    inst, con, lnk = _player()
    reply = con.handle(b"monitor 30")
    assert reply.startswith("OK ") and '"max":34' in reply and '"monitor":30' in reply, reply
    tel = con.telemetry
    state = [0, None]

    def frame():
        k = state[0] = state[0] + 1
        for ch in inst.channels:  # moving levels: every digit rewritten in turn
            ch.level = (k * 997) % 16384
            ch.pressed = k & 1
        tel.frame(20000 + 33 * k)
        lnk.service(None, 0)
        _sent(state[1])

    n = alloc_bytes(frame, 100)
    assert n == 0, n
    host = state[1] = []
    frame()
    frame()
    lines = b"".join(host).decode().split("\n")
    assert len(lines) == 3 and lines[-1] == "", lines
    k = state[0]
    want = "* levels t=%010d" % (20000 + 33 * k)  # noqa: UP031  (as the firmware: no f-strings)
    for name in _NAMES:
        want += " %s=%05d,%d" % (name, (k * 997) % 16384, k & 1)  # noqa: UP031
    assert lines[1].rstrip() == want, lines[1]
    assert len(lines[1]) == 126  # padded: two packets, the last one a byte short
    assert [len(p) for p in host] == [64, 63, 64, 63]


run(globals())
