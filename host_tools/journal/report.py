"""A client's progress report as one self-contained HTML page or a PDF, made on this computer.

Usage: write_report(open_journal(), "Mia", Path("mia.html"))    # or "mia.pdf"

Charts are drawn with matplotlib (Agg, no window) and inlined as base64 PNG in the HTML, or drawn
as vector pages in the PDF, each with the plain-language caption from analysis.client_report.
"""

from __future__ import annotations

import base64
import html
import io
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from host_tools.journal.analysis import GAS_WORDS, client_report

PRIVACY = (
    "Made on this computer from Attune's own journal: nothing in it was sent anywhere, and "
    "client names may be pseudonyms. Share it as you would any clinical note."
)
FLAG = "\u2691"  # a flag beside a figure a sensitivity change may have moved
BAND_COLOURS = (  # IMTAP's bands behind the cue chart (percent)
    (0, 50, "#f4d6d2", "rarely"),
    (50, 80, "#f6ebc8", "inconsistent"),
    (80, 100, "#d9ecd5", "consistent"),
)
LIVE, SUMMARY = "#2a6f97", "#8a5a9e"  # recorded sessions; device summaries (hollow markers)
CHART_W, PANEL_H = 8.0, 2.3  # inches
DPI = 90


# -- charts ------------------------------------------------------------------------------------


@dataclass
class Chart:
    key: str
    title: str
    captions: tuple[str, ...]
    panels: Callable[[dict], int]  # how many panels (0: nothing to draw)
    draw: Callable[[list, dict], None]


def _dates(sessions: list[dict]) -> list[datetime]:
    return [datetime.fromtimestamp(s["started"]) for s in sessions]


def _split(report: dict, pick: Callable[[dict], Any]) -> tuple[list, list, list, list]:
    """(dates, values) of live sessions and of device summaries where pick(s) is not None."""
    lx, ly, sx, sy = [], [], [], []
    for s in report["sessions"]:
        v = pick(s)
        if v is None:
            continue
        x = datetime.fromtimestamp(s["started"])
        if s["source"] == "standalone":
            sx.append(x)
            sy.append(v)
        else:
            lx.append(x)
            ly.append(v)
    return lx, ly, sx, sy


def _style(ax, ylabel: str) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=4))  # each tick costs drawing time
    ax.grid(True, axis="y", color="#dddddd", linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _flag_lines(ax, report: dict) -> None:
    """A dotted line at each session a sensitivity change came into (docs/journal.md)."""
    label = "sensitivity changed"
    for s in report["sessions"]:
        if s["flags"]:
            x = datetime.fromtimestamp(s["started"])
            ax.axvline(x, color="#c0392b", ls=":", lw=1, label=label)
            label = None  # one legend entry


def _dates_axis(ax) -> None:
    import matplotlib.dates as mdates

    lo, hi = ax.get_xlim()
    if hi - lo < 2:  # one session (days): give it a week each side, so the dates can be ticked
        ax.set_xlim(lo - 7, hi + 7)
    loc = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


def _plot(ax, report: dict, pick: Callable[[dict], Any], label: str) -> None:
    lx, ly, sx, sy = _split(report, pick)
    if lx:
        ax.plot(lx, ly, "o-", color=LIVE, ms=4, lw=1.2, label=label)
    if sx:
        ax.plot(sx, sy, "o", mfc="white", mec=SUMMARY, ms=5, label="played without a computer")


def _legend(ax) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=8, frameon=False, loc="best")


def _draw_per_minute(axes: list, report: dict) -> None:
    ax = axes[0]
    _plot(ax, report, lambda s: s["per_minute"], "recorded session")
    _flag_lines(ax, report)
    ax.set_ylim(bottom=0)
    _style(ax, "presses a minute")
    _legend(ax)


def _draw_cues(axes: list, report: dict) -> None:
    ax = axes[0]
    for lo, hi, colour, name in BAND_COLOURS:
        ax.axhspan(lo, hi, color=colour, lw=0)
        ax.text(1.005, (lo + hi) / 2, name, transform=ax.get_yaxis_transform(), fontsize=7,
                va="center", color="#555555")  # fmt: skip
    _plot(ax, report, lambda s: None if s["cue_rate"] is None else s["cue_rate"] * 100, "")
    _flag_lines(ax, report)
    _style(ax, "cues answered %")
    ax.set_ylim(-3, 103)
    ax.set_yticks([0, 50, 80, 100])  # IMTAP's band edges
    ax = axes[1]
    timed = [s for s in report["sessions"] if s["reaction_ms_median"] is not None]
    x = _dates(timed)
    med = [s["reaction_ms_median"] / 1000 for s in timed]
    q1 = [s["reaction_ms_q1"] / 1000 for s in timed]
    q3 = [s["reaction_ms_q3"] / 1000 for s in timed]
    # one collection of bars, not an errorbar per point: a year of sessions draws as fast
    ax.vlines(x, q1, q3, color=LIVE, lw=0.9, alpha=0.6, label="middle half of the answers")
    ax.plot(x, med, "o-", color=LIVE, ms=4, lw=1.2, label="median")
    _flag_lines(ax, report)
    ax.set_ylim(bottom=0)
    _style(ax, "reaction time s")
    _legend(ax)


def _sensors(report: dict) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for s in report["sessions"]:
        for name, r in s["range"].items():
            seen.setdefault(name, r["unit"])
    return sorted(seen.items())


def _draw_range(axes: list, report: dict) -> None:
    for ax, (sensor, unit) in zip(axes, _sensors(report), strict=False):
        rows = [s for s in report["sessions"] if s["range"].get(sensor, {}).get("p50") is not None]
        x = _dates(rows)
        p10 = [s["range"][sensor]["p10"] for s in rows]
        p50 = [s["range"][sensor]["p50"] for s in rows]
        p90 = [s["range"][sensor]["p90"] for s in rows]
        ax.fill_between(x, p10, p90, color=LIVE, alpha=0.18, lw=0, label="most presses (10-90 %)")
        ax.plot(x, p50, "o-", color=LIVE, ms=3.5, lw=1.2, label="typical press (median)")
        _, _, sx, sy = _split(report, lambda s, k=sensor: s["range"].get(k, {}).get("mean"))
        if sx:
            ax.plot(sx, sy, "o", mfc="white", mec=SUMMARY, ms=5, label="without a computer (mean)")
        _flag_lines(ax, report)
        _style(ax, f"{sensor}: {unit}")
        _legend(ax)


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000


def _draw_hold_tempo(axes: list, report: dict) -> None:
    ax = axes[0]
    _plot(ax, report, lambda s: _seconds(s["hold_ms_median"]), "median hold")
    _, _, sx, sy = _split(report, lambda s: s.get("hold_ms_mean"))
    if sx:
        ax.plot(sx, [v / 1000 for v in sy], "o", mfc="white", mec=SUMMARY, ms=5,
                label="without a computer (mean)")  # fmt: skip
    ax.set_ylim(bottom=0)
    _style(ax, "hold time s")
    _legend(ax)
    ax = axes[1]
    ax.axhspan(0, 0.1, color="#d9ecd5", lw=0)
    ax.axhspan(0.1, 0.25, color="#eef5e6", lw=0)
    _plot(ax, report, lambda s: s["tempo_cv"], "")
    _flag_lines(ax, report)
    ax.set_ylim(bottom=0)
    top = ax.get_ylim()[1]
    for y, words in ((0.05, "very steady"), (0.175, "fairly steady"), (0.375, "uneven")):
        if y < top:
            ax.text(1.005, y, words, transform=ax.get_yaxis_transform(), fontsize=7,
                    va="center", color="#555555")  # fmt: skip
    _style(ax, "tempo variation (CV)")


def _draw_goals(axes: list, report: dict) -> None:
    ax = axes[0]
    for g in report["goals"]:
        if not g["scores"]:
            continue
        x = [datetime.fromtimestamp(sc["t"]) for sc in g["scores"]]
        ax.plot(x, [sc["score"] for sc in g["scores"]], "o-", drawstyle="steps-post", ms=4,
                label=textwrap.shorten(g["text"], 48))  # fmt: skip
    ax.axhline(0, color="#888888", lw=0.8)
    _style(ax, "attainment (0: expected)")
    ax.set_ylim(-2.4, 2.4)
    ax.set_yticks([-2, -1, 0, 1, 2], ["-2", "-1", "0", "+1", "+2"])
    _legend(ax)


CHARTS = (
    Chart("per_minute", "Presses a minute", ("per_minute",),
          lambda r: 1 if any(s["per_minute"] is not None for s in r["sessions"]) else 0,
          _draw_per_minute),
    Chart("cues", "Answers to cues and reaction time", ("cues", "reaction"),
          lambda r: 2 if any(s["cues"] for s in r["sessions"]) else 0, _draw_cues),
    Chart("range", "Range of movement", ("range",),
          lambda r: len(_sensors(r)) if any(
              v.get("p50") is not None for s in r["sessions"] for v in s["range"].values()
          ) else 0, _draw_range),
    Chart("hold_tempo", "Hold time and tempo steadiness", ("hold", "tempo"),
          lambda r: 2 if any(s["activations"] for s in r["sessions"]) else 0, _draw_hold_tempo),
    Chart("goals", "Goals (Goal Attainment Scaling)", ("goals",),
          lambda r: 1 if any(g["scores"] for g in r["goals"]) else 0, _draw_goals),
)  # fmt: skip


def _figure(chart: Chart, report: dict, n: int):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(CHART_W, PANEL_H * n + 0.3), dpi=DPI)
    axes = list(fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0])
    chart.draw(axes, report)
    _dates_axis(axes[-1])
    h = PANEL_H * n + 0.3
    fig.subplots_adjust(left=0.1, right=0.88, top=1 - 0.15 / h, bottom=0.45 / h, hspace=0.25)
    return fig


def charts(report: dict) -> list[tuple[Chart, Any]]:
    """(chart, matplotlib Figure) for every chart the report has data for."""
    out = []
    for chart in CHARTS:
        n = chart.panels(report)
        if n:
            out.append((chart, _figure(chart, report, n)))
    return out


def png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


# -- tables ------------------------------------------------------------------------------------


def _day(t: float, approx: bool = False) -> str:
    d = datetime.fromtimestamp(t)
    return ("about " if approx else "") + f"{d.day} {d.strftime('%b %Y')}"


def _f(x: Any, fmt: str = "{:g}", none: str = "-") -> str:
    return none if x is None else fmt.format(x)


def session_rows(report: dict, flag: str = FLAG) -> list[list[str]]:
    """The per-session table: one row of plain strings per session, header first."""
    rows = [["date", "kind", "min", "presses", "a minute", "cues answered", "reaction s",
             "range (median, 10-90 %)", "hold s", "tempo CV", "settings"]]  # fmt: skip
    for s in report["sessions"]:
        mark = " " + flag if s["flags"] else ""
        standalone = s["source"] == "standalone"
        cues = f"{s['responded']}/{s['cues']} {s['cue_band']}" if s["cues"] else "-"
        reaction = "-"
        if s["reaction_ms_median"] is not None:
            reaction = (
                f"{s['reaction_ms_median'] / 1000:.1f} "
                f"({s['reaction_ms_q1'] / 1000:.1f}-{s['reaction_ms_q3'] / 1000:.1f})"
            )
        ranges = []
        for sensor, r in s["range"].items():
            if r.get("p50") is not None:
                ranges.append(f"{sensor} {r['p50']:g} ({r['p10']:g}-{r['p90']:g}) {r['unit']}")
            elif r.get("mean") is not None:
                ranges.append(f"{sensor} mean {r['mean']:g}, max {r['max']:g} {r['unit']}")
        hold = s["hold_ms_median"] if s["hold_ms_median"] is not None else s.get("hold_ms_mean")
        settings = [
            f"{c['key']} {c['old'] if c['old'] is not None else 'unset'} -> {c['new']}"
            + (" (between)" if c["when"] == "between" else f" (min {c['minute']:g})")
            for c in s["settings"]
        ]
        rows.append(
            [
                _day(s["started"], s["approx"]),
                "without a computer" if standalone else "recorded",
                _f(s["minutes"], "{:.0f}"),
                str(s["activations"]),
                _f(s["per_minute"]) + mark,
                cues,
                reaction,
                "; ".join(ranges) + (mark if ranges else ""),
                _f(None if hold is None else hold / 1000, "{:.2f}")
                + (" mean" if standalone and hold is not None else ""),
                _f(s["tempo_cv"], "{:.2f}"),
                "; ".join(settings),
            ]
        )
    return rows


def week_rows(report: dict) -> list[list[str]]:
    rows = [["week of", "sessions", "presses", "a minute", "cues answered", "reaction s (median)",
             "range (median)", "hold s", "tempo CV"]]  # fmt: skip
    for w in report["weeks"]:
        cues = "-"
        if w["cues"]:
            cues = f"{w['responded']}/{w['cues']} {w['cue_band']}"
        ranges = "; ".join(f"{k} {v['p50']:g} {v['unit']}" for k, v in w["range"].items())
        sessions = str(w["sessions"]) + (
            f" ({w['standalone']} without a computer)" if w["standalone"] else ""
        )
        rows.append(
            [
                w["label"],
                sessions,
                str(w["activations"]),
                _f(w["per_minute"]) + (" " + FLAG if w["flags"] else ""),
                cues,
                _f(
                    None if w["reaction_ms_median"] is None else w["reaction_ms_median"] / 1000,
                    "{:.1f}",
                ),  # fmt: skip
                ranges or "-",
                _f(None if w["hold_ms_median"] is None else w["hold_ms_median"] / 1000, "{:.2f}"),
                _f(w["tempo_cv"], "{:.2f}"),
            ]
        )
    return rows


def goal_rows(report: dict) -> list[list[str]]:
    rows = [["goal", "scores over time (Goal Attainment Scaling, -2..+2)", "latest"]]
    for g in report["goals"]:
        scores = ", ".join(f"{_day(sc['t'])}: {sc['score']:+d}" for sc in g["scores"]) or "-"
        latest = "-" if g["latest"] is None else f"{g['latest']:+d} ({GAS_WORDS[g['latest']]})"
        rows.append([g["text"], scores, latest])
    return rows


# -- HTML --------------------------------------------------------------------------------------

CSS = """
body { font: 15px/1.45 system-ui, sans-serif; color: #222; max-width: 62rem; margin: 2rem auto;
       padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.privacy { color: #555; font-size: .9rem; border-left: 3px solid #2a6f97; padding-left: .6rem; }
figure { margin: 1rem 0 1.6rem; break-inside: avoid; } figure img { max-width: 100%; }
figcaption { font-size: .95rem; } figcaption p { margin: .3rem 0; }
table { border-collapse: collapse; font-size: .8rem; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .25rem .4rem; text-align: left;
         vertical-align: top; }
th { background: #f2f5f8; } tr { break-inside: avoid; }
.flag { color: #c0392b; } .note { color: #555; font-size: .85rem; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; } h2 { break-after: avoid; }
  @page { size: A4; margin: 15mm; } figure img { max-height: 120mm; }
}
"""

HOW_TO_READ = (
    f"A {FLAG} beside a figure marks a session the sensitivity was changed in or just before: "
    "a different sensitivity changes which movements count as presses, so compare figures across "
    "it with care. Sessions played without a computer come from the instrument's own summaries "
    "(counts, means and maxima only) and are drawn as hollow markers. Cue answers are banded as "
    "IMTAP does: never (0 %), rarely (under 50 %), inconsistent (50-79 %), consistent "
    "(80-100 %). Tempo CV is how much the gaps between presses vary around their average: "
    "under 0.1 very steady, 0.1-0.25 fairly steady, above 0.25 uneven."
)


def _table(rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = []
    for row in rows[1:]:
        cells = []
        for c in row:
            cell = html.escape(c).replace(FLAG, f'<span class="flag">{FLAG}</span>')
            cells.append(f"<td>{cell}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _period(report: dict) -> str:
    ss = report["sessions"]
    if not ss:
        return "no sessions yet"
    return f"{_day(ss[0]['started'])} to {_day(ss[-1]['started'])}"


def render_html(report: dict) -> str:
    """The report as one self-contained HTML page (charts inline, no outside file or link)."""
    name = html.escape(report["client"])
    caps = report["captions"]
    weeks = f", last {report['weeks_asked']} weeks" if report.get("weeks_asked") else ""
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Attune progress report: {name}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Progress report: {name}</h1>",
        f"<p>{html.escape(_period(report))}{html.escape(weeks)}. "
        f"Made {html.escape(datetime.fromtimestamp(report['generated']).strftime('%d %b %Y'))}"
        " with Attune.</p>",
        f'<p class="privacy">{html.escape(PRIVACY)}</p>',
        f"<p><strong>{html.escape(caps['summary'])}</strong></p>",
    ]
    if report["sessions"]:
        out.append(f'<p class="note">{html.escape(HOW_TO_READ).replace(FLAG, _flag())}</p>')
        for chart, fig in charts(report):
            texts = [caps[k] for k in chart.captions if k in caps]
            data = base64.b64encode(png(fig)).decode("ascii")
            alt = html.escape(chart.title + ". " + " ".join(texts), quote=True)
            out.append(f'<h2>{html.escape(chart.title)}</h2><figure data-chart="{chart.key}">')
            out.append(f'<img alt="{alt}" src="data:image/png;base64,{data}">')
            out.append(
                "<figcaption>"
                + "".join(f"<p>{html.escape(t)}</p>" for t in texts)
                + "</figcaption></figure>"
            )
        if "cues" not in caps:
            out.append("<p>No cues were given in these sessions.</p>")
        known = [s for s in report["sessions"] if s["settings_at_start"]]
        if known:
            used = ", ".join(f"{k} {v}" for k, v in sorted(known[-1]["settings_at_start"].items()))
            when = _day(known[-1]["started"])
            out.append(
                f"<p>Settings at the start of the session of {when}: {html.escape(used)}.</p>"
            )
        out.append("<h2>Session by session</h2>")
        out.append(_table(session_rows(report)))
        notes = [(s, n) for s in report["sessions"] for n in s["notes"]]
        if notes:
            out.append("<h2>Notes</h2><ul>")
            for s, n in notes:
                out.append(f"<li>{html.escape(_day(s['started']))}: {html.escape(n['text'])}</li>")
            out.append("</ul>")
        out.append("<h2>Week by week</h2>")
        out.append(_table(week_rows(report)))
    if report["goals"]:
        out.append("<h2>Goals</h2>")
        if "goals" in caps:
            out.append(f"<p>{html.escape(caps['goals'])}</p>")
        out.append(_table(goal_rows(report)))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _flag() -> str:
    return f'<span class="flag">{FLAG}</span>'


# -- PDF ---------------------------------------------------------------------------------------

A4 = (8.27, 11.69)  # inches
MARGIN = 0.6


def _text_page(pdf, lines: list[tuple[str, float, str]]) -> None:
    """One A4 page of text lines (text, size, weight), wrapped, top to bottom."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=A4)
    y = A4[1] - MARGIN
    for text, size, weight in lines:
        width = int((92 if weight == "bold" else 105) * 10 / size)  # characters a line
        for part in textwrap.wrap(text, width) or [""]:
            fig.text(MARGIN / A4[0], y / A4[1], part, fontsize=size, weight=weight, va="top")
            y -= size / 72 * 1.45
        y -= 0.08
    pdf.savefig(fig)


PDF_SHORT = ((" % of full scale", " %"), ("without a computer", "no computer"), (FLAG, "!"))
PDF_KEY = (
    "%: percent of the sensor's full scale.  no computer: played without a computer (the "
    "instrument's own summary; its date is approximate).  !: the sensitivity changed."
)


def _table_pages(pdf, title: str, rows: list[list[str]], widths: list[int]) -> None:
    """A table as monospaced text, 50 rows a landscape page, shortened as PDF_SHORT says."""
    from matplotlib.figure import Figure

    def cell(text: str, width: int) -> str:
        for long, short in PDF_SHORT:
            text = text.replace(long, short)
        return textwrap.shorten(text, width, placeholder="~").ljust(width)

    def line(row: list[str]) -> str:
        return " ".join(cell(c, w) for c, w in zip(row, widths, strict=False))

    body = rows[1:]
    for start in range(0, max(1, len(body)), 50):
        fig = Figure(figsize=(A4[1], A4[0]))  # landscape
        fig.text(0.04, 0.95, title, fontsize=12, weight="bold")
        text = "\n".join([line(rows[0])] + [line(r) for r in body[start : start + 50]])
        fig.text(0.04, 0.91, text, family="monospace", fontsize=6, va="top")
        fig.text(0.04, 0.04, PDF_KEY, fontsize=7)
        pdf.savefig(fig)


def captioned(report: dict) -> list[tuple[Chart, Any]]:
    """The charts with their titles and captions drawn in (the PDF's pages, the docs' pictures)."""
    out = []
    for chart, fig in charts(report):
        texts = [report["captions"][k] for k in chart.captions if k in report["captions"]]
        fig.suptitle(chart.title, fontsize=11, x=0.1, ha="left")
        wrapped = "\n".join(textwrap.fill(t, 110) for t in texts)
        h = fig.get_figheight()
        extra = 0.15 * (wrapped.count("\n") + 1) + 0.15
        fig.set_figheight(h + extra)
        fig.subplots_adjust(bottom=(0.45 + extra) / (h + extra), top=1 - 0.35 / (h + extra))
        fig.text(0.1, 0.1 / (h + extra), wrapped, fontsize=8, va="bottom")
        out.append((chart, fig))
    return out


def write_pdf(report: dict, out: Path) -> None:
    from matplotlib.backends.backend_pdf import PdfPages

    caps = report["captions"]
    with PdfPages(out, metadata={"Title": "Attune progress report", "Creator": "Attune"}) as pdf:
        lines = [
            (f"Progress report: {report['client']}", 18, "bold"),
            (_period(report), 11, "normal"),
            (PRIVACY, 9, "normal"),
            (caps["summary"], 11, "bold"),
        ]
        for key in ("per_minute", "cues", "reaction", "range", "hold", "tempo", "goals"):
            if key in caps:
                lines.append((caps[key], 10, "normal"))
        if report["sessions"]:
            how = HOW_TO_READ.replace(f"A {FLAG}", "A flag (!)").replace(FLAG, "!")
            lines.append((how, 8.5, "normal"))
        _text_page(pdf, lines)
        if not report["sessions"]:
            return
        for _chart, fig in captioned(report):
            pdf.savefig(fig)
        _table_pages(pdf, "Session by session", session_rows(report),
                     [17, 11, 3, 7, 8, 17, 13, 58, 9, 8, 48])  # fmt: skip
        _table_pages(pdf, "Week by week", week_rows(report),
                     [11, 18, 8, 8, 17, 10, 50, 7, 8])  # fmt: skip
        if report["goals"]:
            _table_pages(pdf, "Goals", goal_rows(report), [40, 120, 40])


# -- the entry point ---------------------------------------------------------------------------


def write_report(journal: Any, client: str, out: Path, weeks: int | None = None) -> Path:
    """Write `client`'s report to `out`: `.html` (self-contained) or `.pdf`; returns the path.
    Raises analysis.NoSuchClient for an unknown name, ValueError for another extension."""
    out = Path(out)
    kind = out.suffix.lower()
    if kind not in (".html", ".htm", ".pdf"):
        raise ValueError(
            f"A report is written as .html or .pdf; '{out.name}' ends in neither. "
            "Name the file e.g. report.html or report.pdf."
        )
    report = client_report(journal, client, weeks=weeks)
    if kind == ".pdf":
        write_pdf(report, out)
    else:
        out.write_text(render_html(report), encoding="utf-8")
    return out
