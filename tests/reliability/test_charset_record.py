"""RELIABILITY-PLAN.md B4, case 33: the charset decision is recorded, not only made.

Every variant (a)-(f) is served over real HTTP on 127.0.0.1 and read by one real flow run into
a DuckLake warehouse in tmp; the tests then read the `documents` rows (encoding, encoding_note,
parse_warning), the `wirelake report` page and the run summary Markdown. A unit test checks that
a warehouse made before these columns existed gains them and keeps its rows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from flows.cli import app
from flows.config import FetchConfig, WirelakeConfig
from flows.records import RawDocument, Source
from flows.run_records import RunSummary, documents_table, summary_markdown
from flows.stages.fetch import fetch_all
from warehouse.store import StagedRun, Warehouse, to_arrow

STORY = ("The lock keepers on the eastern canal voted on Monday to extend their summer hours, after barge "
         "operators complained that the evening queue at the second gate now stretches past the boatyard. "
         "A spokesperson said the longer shifts would start in May and run until the end of September.")
CAFE = "Café owners at the quay say “the barge tax” is naïve"
QUOTES = "Harbour chief says “no comment” on dredging – again"


def page(title: str, body: str = STORY) -> str:
    return (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"<p>{body}</p></article></body></html>")


def rss(base: str, name: str, title: str, declaration: str = '<?xml version="1.0" encoding="utf-8"?>',
        body: str = STORY) -> str:
    link = f"{base}/story/{name}"
    return (f'{declaration}\n<rss version="2.0"><channel><title>Canal news</title><link>{base}/</link>'
            f"<description>d</description><item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
            f"<description>{body}</description></item></channel></rss>")


# source name → (path, body, Content-Type); the comment names the plan's variant
def variants(base: str) -> dict[str, tuple[str, bytes, str]]:
    return {
        # (a) header says ISO-8859-1, the bytes are UTF-8: a page, and a feed labelled windows-1252
        # (no ” in it: 0x9D is undefined in windows-1252, so feedparser would obey the label and store "cafÃ©")
        "a-page": ("/a.html", page(CAFE).encode(), "text/html; charset=ISO-8859-1"),
        "a-feed": ("/a.xml", rss(base, "a", "Quay café’s barge tax – a levy").encode(),
                   "application/rss+xml; charset=windows-1252"),
        # (b) the XML declaration says UTF-8, the bytes are windows-1252 smart quotes
        "b-feed": ("/b.xml", rss(base, "b", QUOTES).encode("cp1252"), "application/rss+xml"),
        # (c) invalid UTF-8 bytes in the title of a page labelled UTF-8
        "c-page": ("/c.html", page("Lock gate \xff\xfe repairs").encode("latin-1"), "text/html; charset=utf-8"),
        # (d) UTF-16 without a BOM, unlabelled
        "d-page": ("/d.html", page("Tide tables for the canal").encode("utf-16-le"), "text/html"),
        # (e) a UTF-8 BOM contradicting a windows-1252 header
        "e-page": ("/e.html", b"\xef\xbb\xbf" + page(CAFE).encode(), "text/html; charset=windows-1252"),
        # (f) NUL and C0 controls inside the XML: not well formed, feedparser's bozo
        "f-feed": ("/f.xml", rss(base, "f", "Sluice \x00 control \x01 chars").encode(), "application/rss+xml"),
        # honest documents: nothing to record
        "clean-page": ("/clean.html", page(CAFE).encode(), "text/html; charset=utf-8"),
        "clean-feed": ("/clean.xml", rss(base, "clean", QUOTES).encode(), "application/rss+xml"),
        "clean-json": ("/clean.json", json.dumps({
            "version": "https://jsonfeed.org/version/1.1", "title": "j",
            "items": [{"id": "j1", "url": f"{base}/story/j1", "title": "Lone \ud800 surrogate",
                       "content_text": STORY}]}).encode(), "application/feed+json"),
    }


KINDS = {"page": "page", "feed": "feed", "json": "feed"}


class CharsetRun:
    root: Path
    summary: dict
    rows: dict[str, dict]
    report: str


def _serve_variants(server, base: str) -> list[Source]:
    """Serve every charset variant (and a missing robots.txt); one source per variant."""
    server.expect_request("/robots.txt").respond_with_data("", status=404)
    sources = []
    for name, (path, body, content_type) in variants(base).items():
        server.expect_request(path).respond_with_data(body, content_type=content_type)
        sources.append(Source(name, base + path, KINDS[name.rsplit("-", 1)[1]]))
    return sources


@pytest.fixture(scope="module")
def charset_run(tmp_path_factory, prefect_harness) -> CharsetRun:
    from flows.ingest import run_ingest

    run = CharsetRun()
    run.root = tmp_path_factory.mktemp("charset") / "wh"
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        base = server.url_for("").rstrip("/")
        sources = _serve_variants(server, base)
        config = WirelakeConfig(warehouse=run.root, fetch={
            "per_host_min_interval_seconds": 0.0, "fetch_item_pages": "never", "min_item_content_words": 20,
            "max_retries": 0})
        run.summary = run_ingest(config, sources)
    finally:
        server.clear()
        server.stop()
    with Warehouse(run.root).reader() as con:
        cursor = con.execute("SELECT source, encoding, encoding_note, parse_warning FROM documents")
        names = [d[0] for d in cursor.description]
        run.rows = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    result = CliRunner().invoke(app, ["report", "--warehouse", str(run.root)])
    assert result.exit_code == 0, result.output
    run.report = Path(result.output.strip()).read_text(encoding="utf-8")
    return run


@pytest.mark.integration
def test_33_every_variant_is_stored_with_its_encoding_and_note(charset_run):
    assert charset_run.summary["status"] == "published", charset_run.summary
    rows = charset_run.rows
    assert set(rows) == {name for name in variants("http://x")}, "every document is stored, none lost"
    expected = {
        "a-page": ("utf-8", "declared ISO-8859-1 in Content-Type but the body is valid UTF-8"),
        "a-feed": ("utf-8", "declared windows-1252 in Content-Type but the body is valid UTF-8"),
        "b-feed": ("windows-1252", "declared utf-8 in the XML declaration but not valid UTF-8; "
                                   "decoded as windows-1252 (guessed; mojibake risk)"),
        "c-page": ("windows-1252", "declared utf-8 in Content-Type but not valid UTF-8"),
        "d-page": ("utf-16le", "UTF-16 without BOM detected (utf-16le)"),
        "e-page": ("utf-8", "BOM utf-8 contradicts the charset declared windows-1252 in Content-Type"),
    }
    for name, (encoding, note) in expected.items():
        assert rows[name]["encoding"] == encoding, (name, rows[name])
        assert note in (rows[name]["encoding_note"] or ""), (name, rows[name])
    for name in ("clean-page", "clean-feed", "clean-json"):
        assert rows[name]["encoding"] == "utf-8" and rows[name]["encoding_note"] is None, rows[name]
    # (f): read as declared, and the note says which controls clean_text took out of the stored text
    assert rows["f-feed"]["encoding"] == "utf-8"
    assert rows["f-feed"]["encoding_note"] == ("2 NUL/control character(s) (U+0000, U+0001) removed from "
                                               "the stored text"), rows["f-feed"]
    # feedparser settled on windows-1252 for (a) and would have stored mojibake: parsed again as UTF-8
    assert "feedparser read it as windows-1252; parsed again as utf-8" in rows["a-feed"]["encoding_note"]


@pytest.mark.integration
def test_33_feedparser_bozo_is_stored_as_the_parse_warning(charset_run):
    rows = charset_run.rows
    assert rows["f-feed"]["parse_warning"].startswith("SAXParseException: ")
    assert "not well-formed" in rows["f-feed"]["parse_warning"]
    assert rows["b-feed"]["parse_warning"] == ("CharacterEncodingOverride: document declared as utf-8, "
                                              "but parsed as windows-1252")
    for name in ("clean-feed", "clean-json", "a-page", "clean-page"):
        assert rows[name]["parse_warning"] is None, rows[name]
    for row in rows.values():  # one line, no control characters
        for text in (row["encoding_note"], row["parse_warning"]):
            assert text is None or not any(ord(c) < 32 for c in text), text


@pytest.mark.integration
def test_33_b_is_flagged_as_mojibake_risk_and_its_text_is_right(charset_run):
    flagged = {name for name, row in charset_run.rows.items() if "mojibake risk" in (row["encoding_note"] or "")}
    assert flagged == {"b-feed", "c-page"}  # the two whose declared UTF-8 was a lie; a guess decoded them
    with Warehouse(charset_run.root).reader() as con:
        titles = dict(con.execute("SELECT source, title FROM articles").fetchall())
    # clean may straighten typographic quotes; what matters is that no byte became mojibake
    straight = str.maketrans({"“": '"', "”": '"', "’": "'"})
    assert titles["b-feed"].translate(straight) == QUOTES.translate(straight)
    assert titles["a-feed"].translate(straight) == "Quay café's barge tax – a levy"  # not "cafÃ©â€™s"


@pytest.mark.integration
def test_33_report_lists_the_overridden_and_bozo_documents(charset_run):
    html = charset_run.report
    section = html[html.index('<section id="decoding">'):]
    section = section[:section.index("</section>")]
    assert 'data-decoding-count="7"' in section and "7 of 10 documents" in section
    for name in ("a-page", "a-feed", "b-feed", "c-page", "d-page", "e-page", "f-feed"):
        assert f"<td>{name}</td>" in section, name
    for name in ("clean-page", "clean-feed", "clean-json"):
        assert f"<td>{name}</td>" not in section, name
    assert "mojibake risk" in section and "CharacterEncodingOverride: document declared as utf-8" in section
    assert "SAXParseException: " in section and "UTF-16 without BOM detected" in section


@pytest.mark.unit
def test_33_run_summary_lists_the_flagged_documents(http):
    base = http.url_for("").rstrip("/")
    sources = _serve_variants(http, base)
    result = fetch_all(sources, FetchConfig(per_host_min_interval_seconds=0.0, fetch_item_pages="never",
                                            max_retries=0))
    summary = RunSummary(run_id="r33", kind="ingest", started_at=datetime.now(UTC), config_hash="c",
                         config_json="{}")
    summary.note_decoding(result.documents)
    markdown = summary_markdown(summary)
    assert "**Decoding:** 7 document(s)" in markdown
    table = [line for line in markdown.splitlines() if line.startswith("| ") and "http://" in line]
    assert sorted(line.split(" | ")[0][2:] for line in table) == sorted(
        ["a-page", "a-feed", "b-feed", "c-page", "d-page", "e-page", "f-feed"])
    b_line = next(line for line in table if line.startswith("| b-feed "))
    assert "| windows-1252 |" in b_line and "mojibake risk" in b_line and "CharacterEncodingOverride" in b_line
    # and when nothing needed saying, one short line
    clean = RunSummary(run_id="r0", kind="ingest", started_at=datetime.now(UTC), config_hash="c", config_json="{}")
    clean.note_decoding([d for d in result.documents if d.source.startswith("clean")])
    tail = summary_markdown(clean).splitlines()[-1]
    assert tail.startswith("**Decoding:** every document read as its declared charset")


@pytest.mark.unit
def test_33_a_guessed_charset_is_one_browsers_use_so_the_feed_is_not_parsed_as_mac_latin2():
    """The hostile run's windows-1252 feed: charset-normalizer's best fit is mac-latin2, which would
    turn its smart quotes into "ďquietlyĒ" now that a feed is parsed with our charset."""
    from flows.stages.fetch import parse_feed_bytes
    from flows.stages.fetchers.decode import decode_document

    from .test_hostile_run import _feed

    body = _feed("http://127.0.0.1:9", 100).replace("Officials said", "Officials said “quietly” that")
    body = body.encode("cp1252", "replace")
    assert decode_document(body, content_type="application/rss+xml").codec == "cp1252"
    feed = parse_feed_bytes(body, content_type="application/rss+xml")
    assert feed.encoding == "cp1252" and "mojibake risk" in feed.encoding_note
    assert all("“quietly” that" in entry.content for entry in feed.entries)


@pytest.mark.unit
@pytest.mark.parametrize("label", ["koi8-r", "iso-8859-5", "windows-1251", "iso-8859-2", "cp866"])
def test_33_any_single_byte_label_on_a_utf8_body_is_overruled_and_said(label):
    """Variant (a) with other lying single-byte labels: each would decode the bytes without error
    (every byte is some Cyrillic or Latin letter in these), so only the UTF-8 check catches it."""
    from flows.stages.fetchers.decode import decode_document

    body = page("Причал: “новый” тариф – café").encode()
    decoded = decode_document(body, content_type=f"text/html; charset={label}")
    assert decoded.codec == "utf-8" and "Причал: “новый” тариф – café" in decoded.text
    assert f"declared {label} in Content-Type but the body is valid UTF-8" in decoded.note


@pytest.mark.unit
def test_33_a_real_single_byte_body_keeps_its_declared_charset():
    """The other side of the rule above: genuine KOI8-R and windows-1251 text is not valid UTF-8."""
    from flows.stages.fetchers.decode import decode_document

    text = "Городской совет утвердил тариф на причал"
    for label, codec in (("koi8-r", "koi8-r"), ("windows-1251", "cp1251")):
        decoded = decode_document(page(text).encode(codec), content_type=f"text/html; charset={label}")
        assert decoded.codec == codec and text in decoded.text and decoded.note is None, decoded.note


@pytest.mark.unit
def test_33_controls_are_noted_only_when_there_are_some():
    from flows.stages.fetchers.decode import clean_text, decode_document

    clean = decode_document(page("Tabs\tand\nnewlines are text").encode(), content_type="text/html")
    assert clean.note is None
    dirty = decode_document(page("Bell\x07 and\x1b escape\x07").encode(), content_type="text/html")
    assert dirty.note == "6 NUL/control character(s) (U+0007, U+001B) removed from the stored text"  # title and h1
    assert clean_text(dirty.text).count("\x07") == 0 and "Bell and escape" in clean_text(dirty.text)


# ---------------------------------------------------------------- an old warehouse gains the columns

OLD_COLUMNS = ["doc_id", "run_id", "source", "uri", "fetched_at", "http_status", "content_type", "sha256", "bytes"]


@pytest.mark.unit
def test_33_a_warehouse_from_before_the_columns_gains_them_and_keeps_its_rows(tmp_path):
    from flows.report import build_report

    wh = Warehouse(tmp_path / "wh")
    wh.init()
    now = datetime(2025, 4, 1, 8, 0, tzinfo=UTC)
    con = wh.connect()
    try:
        # The documents table as it was: no decoding columns, and a row written in that shape.
        for column in ("encoding", "encoding_note", "parse_warning"):
            con.execute(f"ALTER TABLE documents DROP COLUMN {column}")
        con.execute(f"INSERT INTO documents ({', '.join(OLD_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    ["old-doc", "r-old", "s", "http://h/old", now, 200, "text/html", "0" * 64, 10])
        wh.publish(con, StagedRun(tables={"runs": to_arrow("runs", [{
            "run_id": "r-old", "kind": "ingest", "started_at": now, "finished_at": now, "status": "published",
            "config_hash": "c", "config_json": "{}", "fetched": 1, "rejected": 0, "new": 0, "duplicates": 0,
            "stage_counts": "{}"}])}))
    finally:
        con.close()
    with wh.reader() as reader:
        page_html = build_report(reader, tmp_path / "old.html", None).read_text(encoding="utf-8")
    assert "predates the documents.encoding columns" in page_html  # the reader never alters the schema

    con = wh.connect()
    try:
        wh.ensure_schema(con)  # what the next run does first
        columns = [r[0] for r in con.execute("DESCRIBE documents").fetchall()]
        assert columns == [*OLD_COLUMNS, "encoding", "encoding_note", "parse_warning"]
        new_doc = RawDocument(doc_id="new-doc", source="s", uri="http://h/new", fetched_at=now, http_status=200,
                              content_type="text/html", sha256="1" * 64, bytes=12, encoding="windows-1252",
                              encoding_note="declared utf-8 in Content-Type but not valid UTF-8; decoded as "
                                            "windows-1252 (guessed; mojibake risk)")
        wh.publish(con, wh.stage(con, {"documents": documents_table([new_doc], "r-new")}))
        rows = con.execute("SELECT doc_id, encoding, encoding_note, parse_warning FROM documents "
                           "ORDER BY doc_id").fetchall()
    finally:
        con.close()
    assert rows == [("new-doc", "windows-1252", new_doc.encoding_note, None), ("old-doc", None, None, None)]
