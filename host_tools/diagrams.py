"""Wiring pictures drawn from the board and instrument JSON (schemdraw, SVG text), so a picture
can never disagree with what the firmware reads.

Usage: svg = diagram_svg("pico", "combo"); write_all(Path("docs/img/wiring"))

Each instrument picture shows the Pico from above (USB end at the top, header pins numbered as
printed on the board) with the used pins labelled, and every part wired to them. Wires that
would cross the board end in a label that names the pin instead. Two more pictures explain the
parts themselves: jack-socket.svg (which lug is tip, ring, sleeve) and arcade-button.svg.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import schemdraw
import schemdraw.elements as elm

from host_tools.firmware import BOARDS_DIR, REPO_DIR

WIRING_DIR = REPO_DIR / "docs" / "img" / "wiring"

# Text as <text> elements whatever is installed (path mode would need ziamath): the output is
# the same text on every machine, so a test can compare it with the committed files.
schemdraw.svgconfig.text = "text"

# Physical header pin -> what it is, for the Pico, Pico W and Pico 2 (same 40-pin layout).
# Pins 1-20 run down the left edge from the USB end, 21-40 back up the right edge.
HEADER = {
    1: "GP0",
    2: "GP1",
    3: "GND",
    4: "GP2",
    5: "GP3",
    6: "GP4",
    7: "GP5",
    8: "GND",
    9: "GP6",
    10: "GP7",
    11: "GP8",
    12: "GP9",
    13: "GND",
    14: "GP10",
    15: "GP11",
    16: "GP12",
    17: "GP13",
    18: "GND",
    19: "GP14",
    20: "GP15",
    21: "GP16",
    22: "GP17",
    23: "GND",
    24: "GP18",
    25: "GP19",
    26: "GP20",
    27: "GP21",
    28: "GND",
    29: "GP22",
    30: "RUN",
    31: "GP26",
    32: "GP27",
    33: "AGND",
    34: "GP28",
    35: "ADC_VREF",
    36: "3V3(OUT)",
    37: "3V3_EN",
    38: "GND",
    39: "VSYS",
    40: "VBUS",
}
PIN_3V3 = 36
PIN_GND_SWITCH = 18  # next to GP14/GP15
PIN_GND_SENSOR = 38  # next to 3V3(OUT)
PIN_AGND = 33  # the analog ground: the FSR divider returns here

_P = 0.8  # pin pitch in drawing units
_BW = 5.6  # distance between the two pin columns
_FONT = 10
_COLOURS = {
    "3v3": "#d62728",
    "gnd": "#000000",
    "sda": "#1f77b4",
    "scl": "#c9a400",
    "sig": "#2ca02c",
}
_GREY = "#9a9a9a"
_BOARD_FILL = "#eef6ee"


def header_pin(gpio: int) -> int:
    """The physical pin number of GPIO `gpio` on a Pico-format board."""
    for pin, name in HEADER.items():
        if name == "GP" + str(gpio):
            return pin
    raise ValueError("GP" + str(gpio) + " is not on the Pico's header.")


def _row(pin: int) -> int:
    return pin - 1 if pin <= 20 else 40 - pin


def _y(row: float) -> float:
    return -row * _P


def _side(pin: int) -> str:
    return "left" if pin <= 20 else "right"


def _pin_xy(pin: int) -> tuple[float, float]:
    return (0.0 if pin <= 20 else _BW, _y(_row(pin)))


def load(board_id: str, instrument_id: str) -> tuple[dict, dict]:
    """The board and instrument definitions as the firmware gets them."""
    board = json.loads((BOARDS_DIR / (board_id + ".json")).read_text(encoding="utf-8"))
    inst = json.loads(
        (BOARDS_DIR / "instruments" / (instrument_id + ".json")).read_text(encoding="utf-8")
    )
    return board, inst


@dataclass
class Wire:
    """One connection from a part's terminal to a header pin."""

    terminal: str
    pin: int
    colour: str
    resistor: str = ""  # a series resistor drawn on the wire ("1 kΩ")
    joins: str = ""  # drawn as a short link to this other terminal's wire (ring -> sleeve)


@dataclass
class Part:
    """A box with terminals: a socket, a sensor breakout."""

    title: str
    lines: list[str]
    wires: list[Wire]
    note: str = ""
    side: str = "left"
    loose: list[str] = field(default_factory=list)  # terminals left unconnected


def _parts(inst: dict) -> tuple[list[Part], list[dict]]:
    """The parts drawn as boxes, and the FSR channels (drawn as a divider next to the board)."""
    parts: list[Part] = []
    dividers: list[dict] = []
    gnd_switch_used = False
    for ch in inst["channels"]:
        kind = ch["sensor"]
        name = ch["name"]
        if kind == "switch":
            gpio_pin = header_pin(ch["pin"])
            pull = ch.get("pull", "up")
            if pull != "up":
                # drawn as wired for the internal pull-up only: say so rather than mislead
                raise ValueError(
                    "Channel '" + name + "' uses pull " + pull + "; the wiring "
                    "pictures show switches to ground with the pull-up only."
                )
            gnd = PIN_GND_SWITCH
            if gnd_switch_used:
                gnd = 23  # another GND pin: two wires on one pin are hard to solder
            gnd_switch_used = True
            parts.append(
                Part(
                    "'" + name + "': 3.5 mm socket",
                    ["switch plugs in here"],
                    [
                        Wire("sleeve", gnd, "gnd"),
                        Wire("ring", gnd, "gnd", joins="sleeve"),
                        Wire("tip", gpio_pin, "sig", resistor="1 kΩ"),
                    ],
                    note="ring joins sleeve (a mono plug shorts them)",
                )
            )
        elif kind == "fsr":
            dividers.append(ch)
        elif kind in ("vl6180x", "lps22"):
            chip = "VL6180X" if kind == "vl6180x" else "LPS22"
            sda, scl = header_pin(ch["sda"]), header_pin(ch["scl"])
            addr = ch.get("address", 0x29 if kind == "vl6180x" else 0x5D)
            lines = [chip + " breakout", "I2C" + str(ch.get("bus", 0)) + ", address " + hex(addr)]
            wires = [
                Wire("VIN", PIN_3V3, "3v3"),
                Wire("GND", PIN_GND_SENSOR, "gnd"),
                Wire("SDA", sda, "sda"),
                Wire("SCL", scl, "scl"),
            ]
            loose = ["GPIO0/CE", "GPIO1"] if kind == "vl6180x" else ["SDO/SA0"]
            note = "not connected: " + ", ".join(loose)
            if kind == "lps22":
                note = "SDO/SA0: leave as the breakout sets it"
            parts.append(Part("'" + name + "': " + chip, lines, wires, note=note, loose=loose))
        elif kind == "ir_distance":
            parts.append(
                Part(
                    "'" + name + "': Sharp IR sensor",
                    ["GP2Y0A41SK0F"],
                    [
                        Wire("Vcc", 40, "3v3"),
                        Wire("GND", PIN_AGND, "gnd"),
                        Wire("Vo", header_pin(ch["pin"]), "sig"),
                    ],
                    note="47 µF across Vcc-GND; check Vo < 3.2 V",
                    side="right",
                )
            )
    return parts, dividers


class _Canvas:
    """The drawing plus the bookkeeping of what is already on it."""

    def __init__(self) -> None:
        # schemdraw's own SVG writer, not matplotlib's (which stamps the date into the file)
        self.d = schemdraw.Drawing(canvas="svg", show=False, margin=1.2)
        self.d.config(fontsize=_FONT, lw=1.4, unit=2)

    def text(
        self,
        xy: tuple[float, float],
        s: str,
        halign: str = "center",
        valign: str = "center",
        colour: str = "#000000",
        size: int = _FONT,
    ) -> None:
        self.d.add(
            elm.Label()
            .at(xy)
            .label(
                s,
                halign=halign,  # type: ignore
                valign=valign,  # type: ignore
                color=colour,
                fontsize=size,
            )
        )

    def notes(self, xy: tuple[float, float], lines: list[str], step: float = 0.5) -> None:
        """Small grey lines of text, left-aligned, one under another from xy down."""
        x, y = xy
        for i, s in enumerate(lines):
            self.text((x, y - i * step), s, halign="left", colour="#444444", size=9)

    def line(
        self, a: tuple[float, float], b: tuple[float, float], colour: str, lw: float = 1.6
    ) -> None:
        self.d.add(elm.Line().at(a).to(b).color(colour).linewidth(lw))

    def dot(self, xy: tuple[float, float], colour: str = "#000000") -> None:
        self.d.add(elm.Dot(radius=0.07).at(xy).color(colour))

    def box(
        self,
        a: tuple[float, float],
        b: tuple[float, float],
        fill: str = "#ffffff",
        colour: str = "#000000",
    ) -> None:
        self.d.add(elm.Rect(corner1=a, corner2=b, fill=fill).at((0, 0)).theta(0).color(colour))


def _draw_board(c: _Canvas, board: dict, used: dict[int, str]) -> None:
    top, bottom = _y(-1.3), _y(19.8)
    c.box((-0.45, top), (_BW + 0.45, bottom), fill=_BOARD_FILL, colour="#3a7a3a")
    c.box((_BW / 2 - 0.7, top + 0.55), (_BW / 2 + 0.7, top), fill="#d0d0d0")  # USB socket
    c.text((_BW / 2, top + 0.85), "USB", size=9)
    c.text((_BW / 2, _y(-0.5)), board["name"], size=11)
    c.text((_BW / 2, _y(9.5)), "seen from above", colour=_GREY, size=9)
    c.text((_BW / 2, _y(10.2)), "(components side)", colour=_GREY, size=9)
    for pin in HEADER:
        x, y = _pin_xy(pin)
        if pin in used:
            c.dot((x, y), _COLOURS[used[pin]])
            name = HEADER[pin]
            label = name + " · " + str(pin)
            if pin <= 20:
                c.text((x + 0.22, y), label, halign="left", colour=_COLOURS[used[pin]])
            else:
                c.text(
                    (x - 0.22, y),
                    str(pin) + " · " + name,
                    halign="right",
                    colour=_COLOURS[used[pin]],
                )
        else:
            c.d.add(elm.Dot(radius=0.06, open=True).at((x, y)).color(_GREY))
    if 1 not in used:
        c.text((0.22, _y(0)), "1", halign="left", colour=_GREY, size=8)
    if 40 not in used:
        c.text((_BW - 0.22, _y(0)), "40", halign="right", colour=_GREY, size=8)
    if 20 not in used:
        c.text((0.22, _y(19)), "20", halign="left", colour=_GREY, size=8)
    if 21 not in used:
        c.text((_BW - 0.22, _y(19)), "21", halign="right", colour=_GREY, size=8)


def _draw_divider(c: _Canvas, ch: dict, lane: float) -> None:
    """3V3 -> FSR -> ADC pin, and the 10 kΩ from the ADC pin to AGND, right of the board."""
    adc = header_pin(ch["pin"])
    x_r, x_fsr = _BW + 1.6 + lane, _BW + 3.6 + lane
    _, y_3v3 = _pin_xy(PIN_3V3)
    _, y_adc = _pin_xy(adc)
    _, y_agnd = _pin_xy(PIN_AGND)
    red, black, green = _COLOURS["3v3"], _COLOURS["gnd"], _COLOURS["sig"]
    c.line((_BW, y_3v3), (x_fsr, y_3v3), red)
    c.d.add(
        elm.ResistorVar()
        .endpoints((x_fsr, y_3v3), (x_fsr, y_adc))
        .color("#000000")
        .label("FSR\n'" + ch["name"] + "'", loc="bottom", ofst=0.15, fontsize=_FONT)
    )
    c.line((x_fsr, y_adc), (_BW, y_adc), green)
    c.dot((x_r, y_adc), green)
    c.d.add(
        elm.Resistor()
        .endpoints((x_r, y_adc), (x_r, y_agnd))
        .color("#000000")
        .label("10 kΩ", loc="bottom", ofst=0.15, fontsize=_FONT)
    )
    c.line((x_r, y_agnd), (_BW, y_agnd), black)
    c.text(
        (x_fsr + 0.2, y_3v3 + 0.3),
        "pressing lowers the FSR's resistance: GP" + str(ch["pin"]) + " reads higher",
        halign="center",
        colour=_GREY,
        size=9,
    )


def _draw_part(c: _Canvas, part: Part, y_top: float) -> float:
    """Draw a part left of the board with its top at y_top; returns its bottom."""
    facing = [w for w in part.wires if _side(w.pin) == part.side]
    far = [w for w in part.wires if _side(w.pin) != part.side]
    rows = max(len(facing), len(far), 1)
    height = rows * _P + 0.6 * len(part.lines) + 0.3
    x_face = -3.2  # the box's edge facing the board
    width = 3.4
    x_far = x_face - width
    bottom = y_top - height
    c.box((x_far, y_top), (x_face, bottom))
    c.text(((x_far + x_face) / 2, y_top + 0.35), part.title, size=11)
    c.notes((x_far + 0.2, y_top - 0.4), part.lines, step=0.55)
    if part.note:
        c.text(((x_far + x_face) / 2, bottom - 0.35), part.note, colour="#444444", size=9)
    y0 = y_top - 0.6 * len(part.lines) - 0.5
    for wires, edge, out in ((facing, x_face, 1.0), (far, x_far, -1.0)):
        ys: dict[str, float] = {}
        for i, w in enumerate(wires):
            y = y0 - i * _P
            ys[w.terminal] = y
            colour = _COLOURS[w.colour]
            c.text((edge - 0.15 * out, y), w.terminal, halign="right" if out > 0 else "left")
            if w.joins:  # a short link to the other terminal's wire: one wire to the pin
                link_x = edge + 0.45 * out
                c.line((edge, y), (link_x, y), colour)
                c.line((link_x, y), (link_x, ys[w.joins]), colour)
                c.dot((link_x, ys[w.joins]), colour)
                continue
            if out < 0:  # the pin is on the board's other edge: name it instead of a wire
                c.line((edge, y), (edge - 0.8, y), colour)
                c.dot((edge - 0.8, y), colour)
                c.text(
                    (edge - 0.95, y),
                    "to " + HEADER[w.pin] + ", pin " + str(w.pin),
                    halign="right",
                    colour=colour,
                )
                continue
            px, py = _pin_xy(w.pin)
            start = (edge, y)
            if w.resistor:
                c.d.add(
                    elm.Resistor()
                    .endpoints((edge, y), (edge + 1.5, y))
                    .color("#000000")
                    .label(w.resistor, loc="top", ofst=0.05, fontsize=9)
                )
                start = (edge + 1.5, y)
            lane = -0.9 - 0.35 * i
            if abs(y - py) < 1e-6:
                c.line(start, (px, py), colour)
            else:
                c.line(start, (lane, y), colour)
                c.line((lane, y), (lane, py), colour)
                c.line((lane, py), (px, py), colour)
    return bottom - 1.4


def _first_left_row(part: Part) -> int:
    rows = [_row(w.pin) for w in part.wires if _side(w.pin) == "left"]
    return min(rows) if rows else 99


def _used_pins(parts: list[Part], dividers: list[dict]) -> dict[int, str]:
    used: dict[int, str] = {}
    for part in parts:
        for w in part.wires:
            used.setdefault(w.pin, w.colour)
    for ch in dividers:
        used[PIN_3V3] = "3v3"
        used[PIN_AGND] = "gnd"
        used[header_pin(ch["pin"])] = "sig"
    return used


def diagram_svg(board_id: str, instrument_id: str) -> str:
    """The wiring picture of one instrument on one board, as SVG text."""
    board, inst = load(board_id, instrument_id)
    for gpio in _instrument_gpios(inst):
        if gpio not in board["gpio"]:
            raise ValueError(
                "GP" + str(gpio) + " is not a usable pin on the " + board["name"] + "."
            )
    parts, dividers = _parts(inst)
    c = _Canvas()
    _draw_board(c, board, _used_pins(parts, dividers))
    # parts stacked down the left in the order of their pins, each as near its pins as fits
    y_next = _y(-1.0)
    for part in sorted(parts, key=_first_left_row):
        rows = [_row(w.pin) for w in part.wires if _side(w.pin) == "left" and not w.joins]
        want = _y(min(rows)) + 0.6 * len(part.lines) + 0.5 if rows else y_next
        y_next = _draw_part(c, part, min(want, y_next))
    for i, ch in enumerate(dividers):
        _draw_divider(c, ch, 2.6 * i)
    c.text(
        (_BW / 2, min(y_next, _y(20.5)) - 0.4),
        "Attune "
        + inst["title"]
        + " ("
        + inst["name"]
        + ") on the "
        + board["name"]
        + ": drawn from boards/"
        + board["id"]
        + ".json and boards/instruments/"
        + inst["name"]
        + ".json",
        size=9,
        colour="#444444",
    )
    return _svg(c.d)


def _instrument_gpios(inst: dict) -> list[int]:
    out = []
    for ch in inst["channels"]:
        for key in ("pin", "sda", "scl"):
            if key in ch:
                out.append(ch[key])
    return out


def _svg(d: schemdraw.Drawing) -> str:
    return d.get_imagedata("svg").decode("utf-8")


# -- the parts on their own --------------------------------------------------------------------


def _plug(c: _Canvas, x: float, y: float, stereo: bool) -> None:
    """A 3.5 mm plug lying down, tip to the right, its contacts shaded and named."""
    segs = [("sleeve", 0.0, 1.6, "#bdbdbd")]
    if stereo:
        segs += [("ring", 1.75, 2.45, "#e0e0e0")]
    segs += [("tip", 2.6 if stereo else 1.75, 3.3, "#bdbdbd")]
    c.box((x - 1.6, y + 0.45), (x, y - 0.45), fill="#555555")  # the handle
    for name, a, b, fill in segs:
        c.box((x + a, y + 0.22), (x + b, y - 0.22), fill=fill)
        c.text((x + (a + b) / 2, y - 0.5), name, size=9)
    c.text((x - 0.8, y), "plug", colour="#ffffff", size=9)


def jack_svg() -> str:
    """Which lug of a 3.5 mm switched stereo socket is tip, ring and sleeve, and where each
    goes for an Attune switch input."""
    c = _Canvas()
    c.text((2.5, 2.2), "3.5 mm switched stereo socket (PJ-307 / PJ-392 type)", size=12)
    _plug(c, 0.0, 1.0, stereo=True)
    c.text(
        (5.2, 1.0),
        "a stereo plug's contacts; a mono plug has no ring",
        halign="left",
        colour="#444444",
        size=9,
    )
    jack = c.d.add(
        elm.AudioJack(ring=True, switch=True, ringswitch=True).at((1.0, -3.0)).color("#000000")
    )
    rows = [
        ("tip", jack.tip, "sig", "tip: to the switch's input pin (GP15) through 1 kΩ"),
        ("tipswitch", jack.tipswitch, None, "tip switch: leave free"),
        ("ringswitch", jack.ringswitch, None, "ring switch: leave free"),
        ("ring", jack.ring, "gnd", "ring: to GND (with the sleeve)"),
        ("sleeve", jack.sleeve, "gnd", "sleeve: to GND"),
    ]
    x_text = 6.0
    for i, (_, anchor, colour, text) in enumerate(rows):
        y = -1.6 - i * 0.8
        col = _COLOURS[colour] if colour else _GREY
        ax, ay = anchor
        c.line((ax, ay), (x_text - 1.5, ay), col, lw=1.2)
        c.line((x_text - 1.5, ay), (x_text - 0.2, y), col, lw=1.2)
        c.dot((ax, ay), col)
        c.text((x_text, y), text, halign="left", colour=col)
    c.notes(
        (-1.8, -6.2),
        [
            "Lugs are placed differently on every socket model: find them with a multimeter on",
            "its beep setting. Plug in a plug, touch one probe to the plug's tip and find the lug",
            "that beeps: that is the tip lug. Do the same for the ring and the sleeve (the",
            "long part nearest the handle). A switch lug beeps to the tip or ring lug only",
            "while no plug is in.",
        ],
    )
    return _svg(c.d)


def button_svg() -> str:
    """An arcade button's microswitch wired to a mono 3.5 mm plug: COM and NO, never NC."""
    c = _Canvas()
    c.text((3.0, 2.4), "Arcade button (microswitch) to a 3.5 mm mono plug", size=12)
    c.box((-1.0, 1.6), (1.6, -1.8), fill="#fff7d6")
    c.text((0.3, 1.2), "microswitch", size=10)
    c.text((0.3, 0.75), "under the button", colour="#444444", size=9)
    lugs = [
        ("COM", 0.0, "gnd", "COM (common): to the plug's sleeve"),
        ("NO", -0.8, "sig", "NO (normally open): to the plug's tip"),
        ("NC", -1.6 + 0.2, None, "NC (normally closed): leave free"),
    ]
    for name, y, colour, text in lugs:
        col = _COLOURS[colour] if colour else _GREY
        c.text((1.45, y), name, halign="right")
        c.line((1.6, y), (3.0, y), col)
        c.dot((3.0, y), col)
        c.text((3.2, y), text, halign="left", colour=col)
    _plug(c, 1.6, -3.6, stereo=False)
    c.notes(
        (-1.0, -5.0),
        [
            "Pressing the button connects COM to NO: the plug's tip meets its",
            "sleeve and the note plays. NC is connected while the button is up,",
            "so a button wired to NC plays all the time and stops when pressed.",
            "Some microswitches print C, NO, NC.",
            "Solder, then cover each lug with heat-shrink tube, and clamp the",
            "cable inside the box (strain relief).",
        ],
    )
    return _svg(c.d)


# -- all of them -------------------------------------------------------------------------------


def boards() -> list[str]:
    return sorted(p.stem for p in BOARDS_DIR.glob("*.json") if "schema" not in p.stem)


def instruments() -> list[str]:
    return sorted(
        p.stem for p in (BOARDS_DIR / "instruments").glob("*.json") if "schema" not in p.stem
    )


def file_name(board_id: str, instrument_id: str) -> str:
    """The picture's file name in docs/img/wiring/: INSTRUMENT-BOARD.svg."""
    return instrument_id + "-" + board_id + ".svg"


def committed_path(board_id: str, instrument_id: str) -> Path:
    """Where the committed picture of this instrument on this board lives (for `doctor`)."""
    return WIRING_DIR / file_name(board_id, instrument_id)


def all_svgs() -> dict[str, str]:
    """File name -> SVG text for every picture (what write_all writes)."""
    out = {"jack-socket.svg": jack_svg(), "arcade-button.svg": button_svg()}
    for board_id in boards():
        for inst_id in instruments():
            out[file_name(board_id, inst_id)] = diagram_svg(board_id, inst_id)
    return out


def write_all(out_dir: Path) -> list[Path]:
    """Write every picture into out_dir (created if needed); returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, svg in all_svgs().items():
        path = out_dir / name
        path.write_text(svg, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    import sys

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else WIRING_DIR
    for p in write_all(target):
        print(p)
