"""The report as files (host_tools/journal/report.py) and `attune report`: a self-contained HTML
page with its captions and charts, a valid PDF, an empty client, and plain errors."""

from __future__ import annotations

import base64
import html
import json
import re

import pytest
from test_journal_report import utc  # noqa: F401  (autouse: the expected dates are UTC)

from benchmarks import journal as bench
from host_tools.journal import open_journal
from host_tools.journal.analysis import client_report
from host_tools.journal.report import CHARTS, render_html, write_report
from tests.host_fake import attune


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Two clients x 12 weeks (the benchmark's generator), and a client with no sessions."""
    folder = tmp_path_factory.mktemp("journal")
    bench.generate(folder, clients=2, weeks=24, per_minute=4.0)
    with open_journal(folder) as j:
        j.client_id("Noor")
    return folder


def test_the_html_report_is_one_page_with_its_captions_and_charts(data, tmp_path):
    with open_journal(data) as j:
        report = client_report(j, "Mia")
        out = write_report(j, "Mia", tmp_path / "mia.html")
    page = out.read_text(encoding="utf-8")
    for text in report["captions"].values():
        assert html.escape(text) in page
    assert "pressed" in report["captions"]["per_minute"]
    charts = re.findall(r'<img alt="([^"]*)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(charts) == len(CHARTS) == 5
    for alt, data64 in charts:
        assert base64.b64decode(data64)[:8] == b"\x89PNG\r\n\x1a\n"
        assert alt  # the caption, for a screen reader
    # self-contained: nothing fetched from elsewhere; printable
    assert not re.search(r'(src|href)="(?!data:)', page)
    assert "@media print" in page
    assert "nothing in it was sent anywhere" in page
    # a table row per session, standalone ones marked; the week-20 sensitivity change flagged
    assert page.count("<tr>") >= len(report["sessions"]) + len(report["weeks"]) + 2
    assert page.count("without a computer</td>") == sum(
        1 for s in report["sessions"] if s["source"] == "standalone"
    )
    assert '<span class="flag">\u2691</span>' in page
    assert "pad.sensitivity 60 -&gt; 75 (between)" in page


def test_names_and_notes_are_escaped(tmp_path):
    with open_journal(tmp_path / "d") as j:
        sid = j.begin_session("<b>Mia</b> & co", "pad", bench.BASE)
        j.add_note(sid, bench.BASE + 5, "<script>alert(1)</script>")
        j.end_session(sid, bench.BASE + 60)
        page = render_html(client_report(j, "<b>Mia</b> & co"))
    assert "<b>Mia" not in page and "&lt;b&gt;Mia&lt;/b&gt; &amp; co" in page
    assert "<script>" not in page


def test_the_pdf_report_is_a_valid_pdf_with_pages(data, tmp_path):
    with open_journal(data) as j:
        out = write_report(j, "Sam", tmp_path / "sam.pdf")
    raw = out.read_bytes()
    assert raw.startswith(b"%PDF-") and raw.rstrip().endswith(b"%%EOF")
    pages = len(re.findall(rb"/Type\s*/Page\b", raw))
    assert pages >= 1 + len(CHARTS) + 2  # summary, charts, sessions and weeks tables


def test_attune_report_writes_the_file_and_says_where(data, tmp_path, capsys):
    out = tmp_path / "mia.html"
    code, said, err = attune(capsys, "report", "Mia", "--data", str(data), "--out", str(out))
    assert (code, err) == (0, "")
    assert said.startswith(f"Wrote Mia's report to {out}. 30 sessions from 2 January 2025 to")
    assert "It stays on this computer unless you share it." in said
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")


def test_attune_report_json_and_weeks(data, tmp_path, capsys):
    out = tmp_path / "sam.html"
    code, said, _ = attune(
        capsys, "report", "Sam", "--data", str(data), "--out", str(out), "--weeks", "4", "--json"
    )
    doc = json.loads(said)
    assert code == 0 and doc["sessions"] == 0  # the generated weeks are long past
    assert doc["report"]["weeks_asked"] == 4
    assert "No sessions are recorded for Sam in this period yet." in out.read_text()


def test_an_empty_client_gets_a_clear_message(data, tmp_path, capsys):
    out = tmp_path / "noor.pdf"
    code, said, _ = attune(capsys, "report", "Noor", "--data", str(data), "--out", str(out))
    assert code == 0
    assert said.startswith("No sessions are recorded for Noor in this period yet.")
    assert out.read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize(
    "argv, words",
    [
        (["Mai", "--out", "x.html"], "The journal has no client called 'Mai'. Known clients: "),
        (["Mia", "--out", "x.docx"], "A report is written as .html or .pdf, and 'x.docx' is"),
        (["Mia", "--out", "x.html", "--weeks", "0"], "--weeks takes a whole number of weeks"),
    ],
)
def test_mistakes_are_plain_errors_with_exit_status_2(data, tmp_path, capsys, argv, words):
    argv = [a if a != "x.html" else str(tmp_path / a) for a in argv]
    code, _, err = attune(capsys, "report", *argv, "--data", str(data))
    assert code == 2
    assert words in " ".join(err.split())
    assert not (tmp_path / "x.html").exists()


def test_a_report_that_cannot_be_written_says_so(data, tmp_path, capsys):
    out = tmp_path / "no-such-folder" / "mia.html"
    code, _, err = attune(capsys, "report", "Mia", "--data", str(data), "--out", str(out))
    assert code == 10
    assert "The report could not be written to" in " ".join(err.split())


def test_the_journal_guide_shows_the_sample_report_and_is_linked():
    root = bench.ROOT
    guide = (root / "docs" / "journal.md").read_text(encoding="utf-8")
    pictures = re.findall(r"\]\((img/journal/[^)]+\.png)\)", guide)
    assert len(pictures) == len(CHARTS) + 1  # and the page itself
    for rel in pictures:
        assert (root / "docs" / rel).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "attune journal forget" in guide and "secure_delete" in guide
    assert "(docs/journal.md)" in (root / "README.md").read_text(encoding="utf-8")
