"""`attune report CLIENT --out report.html|report.pdf [--weeks N]`: a client's progress report.

Usage: attune report Mia --out mia.html      (registered in host_tools/cli.py by register())

The figures and charts come from host_tools/journal/analysis.py and report.py, imported only when
the command runs (numpy and matplotlib would slow every other `attune` command's start).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from host_tools import errors
from host_tools.errors import AttuneError

KINDS = (".html", ".htm", ".pdf")


class BadReportName(AttuneError):
    """--out names a file that is neither .html nor .pdf (nothing was written)."""

    exit_code = errors.USAGE
    kind = "usage"


def _weeks(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(
            f"--weeks takes a whole number of weeks, 1 or more: {text}"
        )
    return n


def register(sub: Any) -> None:
    """Add `report` to `attune`'s subcommands (`sub`: argparse's subparsers)."""
    text = "write a client's progress report from the journal (HTML or PDF, made locally)"
    p = sub.add_parser(
        "report",
        help=text,
        description=text + ". Nothing leaves this computer; see docs/journal.md.",
    )
    p.add_argument("client", metavar="CLIENT", help="the client's name (a pseudonym is fine)")
    p.add_argument(
        "--out", required=True, type=Path, metavar="FILE", help="report.html or report.pdf"
    )
    p.add_argument("--weeks", type=_weeks, metavar="N", help="only the last N weeks")
    p.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="the folder holding journal.sqlite (default: $ATTUNE_DATA, else your data folder)",
    )
    p.add_argument("--json", action="store_true", help="also print the report's figures as JSON")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace, ctx: Any) -> int:
    out = Path(args.out)
    if out.suffix.lower() not in KINDS:
        raise BadReportName(
            f"A report is written as .html or .pdf, and '{out.name}' is neither. "
            "Try e.g. --out report.html or --out report.pdf."
        )
    if not out.parent.is_dir():
        raise errors.BadFile(
            f"The report could not be written to {out}: the folder {out.parent} does not "
            "exist. Choose a folder you can write to."
        )
    from host_tools.journal import open_journal
    from host_tools.journal.analysis import client_report
    from host_tools.journal.report import render_html, write_pdf

    journal = open_journal(args.data)
    try:
        report = client_report(journal, args.client, weeks=args.weeks)
    finally:
        journal.close()
    try:
        if out.suffix.lower() == ".pdf":
            write_pdf(report, out)
        else:
            out.write_text(render_html(report), encoding="utf-8")
    except OSError as e:
        raise errors.BadFile(
            f"The report could not be written to {out} ({e.strerror or e}). "
            "Choose a folder you can write to."
        ) from None
    n = len(report["sessions"])
    if ctx.as_json:
        ctx.emit({"out": str(out), "client": args.client, "sessions": n, "report": report})
    elif n:
        ctx.say(
            f"Wrote {args.client}'s report to {out}. {report['captions']['summary']} "
            "It stays on this computer unless you share it."
        )
    else:
        ctx.say(report["captions"]["summary"])
        ctx.say(f"The report at {out} says so too.")
    return errors.OK
