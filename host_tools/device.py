"""Finding and opening Attune instruments: Picos by USB vendor id, named by their `hello` reply.

Usage: client = connect(port=None, device="squeeze-pad", timeout=2.0); client.status()
"""

from __future__ import annotations

import errno
import os
import sys
from dataclasses import dataclass
from typing import Any

from host_tools.client import Client, DeviceInfo
from host_tools.errors import AttuneError, NoDevice, NotAttune, PortBusy, SeveralDevices

RASPBERRY_PI_VID = 0x2E8A
BAUD = 115200  # ignored by USB serial, but some drivers want one
READ_SLICE_S = 0.05  # pyserial's own read timeout: the client keeps its own deadline on top


@dataclass
class PortInfo:
    """A serial port that may be a Pico (from `serial.tools.list_ports`)."""

    path: str
    description: str = ""
    serial_number: str = ""
    vid: int | None = None
    pid: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "port": self.path,
            "description": self.description,
            "serial_number": self.serial_number,
            "vid": self.vid,
            "pid": self.pid,
        }


@dataclass
class Probe:
    """What is on a port: Attune (with its hello), another Pico program, or busy."""

    port: PortInfo
    info: DeviceInfo | None = None
    problem: str = ""
    studio: bool = False  # Attune Studio holds the port (what it knows is in `info`)

    def to_json(self) -> dict[str, Any]:
        out = self.port.to_json()
        out["attune"] = self.info is not None
        out["studio"] = self.studio
        if self.info is not None:
            out.update(self.info.to_json())
            out["port"] = self.port.path
        if self.problem:
            out["problem"] = self.problem
        return out

    def describe(self) -> str:
        if self.info is not None:
            return (
                self.port.path
                + ": "
                + self.info.name
                + " (instrument "
                + self.info.instrument
                + ", firmware "
                + self.info.firmware
                + ")"
                + (", in use by Studio" if self.studio else "")
            )
        return self.port.path + ": " + (self.problem or "not an Attune instrument")


def list_pico_ports() -> list[PortInfo]:
    """Serial ports of USB devices with the Raspberry Pi vendor id (every Pico and Pico 2)."""
    from serial.tools import list_ports

    found = []
    for p in list_ports.comports():
        if p.vid == RASPBERRY_PI_VID:
            found.append(
                PortInfo(p.device, p.description or "", p.serial_number or "", p.vid, p.pid)
            )
    return sorted(found, key=lambda p: p.path)


def open_serial(path: str) -> Any:
    """Open a port for exclusive use; plain errors for busy, forbidden and missing ports."""
    import serial

    try:
        return serial.Serial(path, BAUD, timeout=READ_SLICE_S, write_timeout=2.0, exclusive=True)
    except (OSError, serial.SerialException) as e:
        raise _open_error(path, e) from None


def _open_error(path: str, e: BaseException) -> AttuneError:
    code = getattr(e, "errno", None)
    text = str(e)
    if code == errno.ENOENT or "No such file" in text or "FileNotFoundError" in text:
        return NoDevice(
            "There is no port called " + path + ". Is the instrument plugged in? "
            "Run 'attune ports' to see what is connected."
        )
    if code in (errno.EACCES, errno.EPERM) or "ermission" in text or "Access is denied" in text:
        hint = ""
        if sys.platform.startswith("linux"):
            hint = (
                " On Linux, add yourself to the 'dialout' group (sudo usermod -aG dialout "
                "$USER), then log out and back in."
            )
        return PortBusy(
            "This computer did not allow opening " + path + " (permission denied). "
            "Another program may be using it." + hint
        )
    if code == errno.EBUSY or "lock" in text.lower() or "busy" in text.lower():
        return PortBusy(
            path + " is in use by another program (a serial terminal, a DAW "
            "plug-in, mpremote or another attune). Close it and try again."
        )
    return PortBusy("Could not open " + path + ": " + text)


def open_client(path: str, timeout: float) -> Client:
    """Open `path`, clear leftovers and shake hands; raises NotAttune if it does not answer."""
    port = open_serial(path)
    client = Client(port, timeout=timeout)
    try:
        client.drain()
        client.hello(path)
    except BaseException:
        _close(port)
        raise
    return client


def _close(port: Any) -> None:
    try:
        port.close()
    except Exception:  # closing a vanished port must not hide the real error
        pass


def probe(port: PortInfo, timeout: float) -> Probe:
    """Open a port briefly and ask `hello`; never raises for an unanswering or busy port."""
    try:
        client = open_client(port.path, timeout)
    except NotAttune:
        return Probe(
            port,
            None,
            "a Pico, but not answering as Attune (plain MicroPython or other firmware?)",
        )
    except AttuneError as e:
        return Probe(port, None, e.message)
    info = client.info
    _close(client.port)
    return Probe(port, info)


def probe_all(timeout: float) -> list[Probe]:
    """Every Pico plugged in; the ones Attune Studio holds are described by Studio (opening
    them here would only find them busy)."""
    from host_tools.hub import remote

    held = remote.held_instruments()
    return [
        studio_probe(p, held[p.path]) if p.path in held else probe(p, timeout)
        for p in list_pico_ports()
    ]


def studio_probe(port: PortInfo, inst: dict[str, Any]) -> Probe:
    """A Probe from what Studio says about the instrument it holds on `port`."""
    hello = inst.get("hello") or {}
    info = DeviceInfo(
        firmware=str(hello.get("firmware") or inst.get("firmware") or "?"),
        protocol=int(hello.get("protocol") or 0),
        board=str(hello.get("board") or inst.get("board") or ""),
        instrument=str(hello.get("instrument") or inst.get("name") or ""),
        title=str(hello.get("title") or inst.get("title") or ""),
        channels=[str(c.get("name")) for c in inst.get("channels") or []],
        port=port.path,
    )
    return Probe(port, info, studio=True)


def _several(probes: list[Probe], what: str) -> SeveralDevices:
    lines = [p.describe() for p in probes]
    return SeveralDevices(
        "Several "
        + what
        + " are connected:\n  "
        + "\n  ".join(lines)
        + "\nChoose one with --port PATH (or --device NAME).",
        details=lines,
    )


def connect(port: str | None = None, device: str | None = None, timeout: float = 2.0) -> Client:
    """A client talking to the chosen instrument, its `hello` done (`client.info`)."""
    if not port:  # while Attune Studio runs, it holds the ports: go through it
        from host_tools.hub import remote

        studio = remote.connect(device, timeout)
        if studio is not None:
            return studio
    if port:
        client = open_client(port, timeout)
        if device and client.info and not client.info.matches(device):
            name = client.info.name
            _close(client.port)
            raise NoDevice(
                "The instrument on " + port + " is '" + name + "', not '" + device + "'."
            )
        return client
    ports = list_pico_ports()
    if not ports:
        raise NoDevice(
            "No Attune instrument found. Check that it is plugged in with a data USB cable "
            "(some cables only charge), or pass --port PATH (for the simulator, the path it "
            "printed)."
        )
    if device:
        probes = [probe(p, timeout) for p in ports]
        hits = [p for p in probes if p.info is not None and p.info.matches(device)]
        if not hits:
            names = [p.describe() for p in probes]
            raise NoDevice(
                "No instrument called '" + device + "' found. Connected:\n  " + "\n  ".join(names),
                details=names,
            )
        if len(hits) > 1:
            raise _several(hits, "instruments called '" + device + "'")
        return open_client(hits[0].port.path, timeout)
    if len(ports) > 1:
        raise _several([probe(p, timeout) for p in ports], "Picos")
    return open_client(ports[0].path, timeout)


def find_pico(port: str | None = None) -> PortInfo:
    """The one Pico to deploy to (any firmware, or none): plain errors for none or several."""
    if port:
        if not os.path.exists(port) and not port.upper().startswith("COM"):
            raise NoDevice("There is no port called " + port + ". Is the Pico plugged in?")
        for p in list_pico_ports():
            if p.path == port:
                return p
        return PortInfo(port)
    ports = list_pico_ports()
    if not ports:
        raise NoDevice(
            "No Pico found. Plug it in with a data USB cable. A brand-new Pico needs "
            "MicroPython first: hold BOOTSEL while plugging it in and copy the MicroPython "
            ".uf2 file onto the drive that appears."
        )
    if len(ports) > 1:
        lines = [p.path + " (" + (p.description or "Pico") + ")" for p in ports]
        raise SeveralDevices(
            "Several Picos are connected:\n  "
            + "\n  ".join(lines)
            + "\nChoose one with --port PATH.",
            details=lines,
        )
    return ports[0]
