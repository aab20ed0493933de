"""The fetch stage against real files and a real HTTP server on 127.0.0.1.

Fixtures (tests/fixtures/fetch/) are invented articles: feeds whose links point at
pages on the same test server ({{BASE}} is replaced with the server's address
when served), a local folder with good and broken files, and windows-1252 bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from flows.config import FetchConfig
from flows.records import Source, content_key
from flows.stages.fetch import (
    AutoUrlSource,
    FeedSource,
    FetchError,
    HttpFetcher,
    LocalSource,
    NotAFeed,
    PageSource,
    decode_bytes,
    fetch_all,
    make_source,
    parse_feed_bytes,
    split_title,
)
from flows.stages.fetchers.decode import clean_text

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures" / "fetch"
FEEDS = FIXTURES / "feeds"
PAGES = FIXTURES / "pages"
LOCAL = FIXTURES / "local"

# Small thresholds so fixture articles (60-120 words) count as "full content".
# These tests are about parsing and HTTP limits, so their request logs must be exact:
# robots.txt is off and host spacing/backoff are tiny here (test_fetch_polite.py tests them).
CFG = FetchConfig(min_item_content_words=50, timeout_seconds=5.0, connect_timeout_seconds=2.0, concurrency=4,
                  obey_robots=False, per_host_min_interval_seconds=0.0, backoff_base_seconds=0.01)


# ---------------------------------------------------------------- server helpers


def base_url(srv: HTTPServer) -> str:
    return f"http://127.0.0.1:{srv.port}"


def serve_fixture(srv: HTTPServer, path: str, fixture: Path, content_type: str, status: int = 200) -> str:
    body = fixture.read_bytes().replace(b"{{BASE}}", base_url(srv).encode())
    srv.expect_request(path).respond_with_data(body, status=status, content_type=content_type)
    return base_url(srv) + path


def serve_page(srv: HTTPServer, name: str) -> str:
    return serve_fixture(srv, f"/news/{name}", PAGES / name, "text/html; charset=utf-8")


def requested_paths(srv: HTTPServer) -> list[str]:
    return [request.path for request, _ in srv.log]


# ---------------------------------------------------------------- decoding


def test_windows_1252_bytes_without_charset_decode_to_correct_text() -> None:
    original = "The café reopened. “We missed it,” said one regular — Élodie’s father."
    text, encoding = decode_bytes(original.encode("cp1252"))
    assert text == original
    assert encoding == "cp1252"


def test_lying_utf8_header_is_skipped_for_the_bytes_that_fit() -> None:
    original = "<p>Crêpes at the café “Marais” — £3.50</p>"
    text, encoding = decode_bytes(original.encode("cp1252"), content_type="text/html; charset=utf-8")
    assert text == original
    assert encoding != "utf-8"


def test_latin1_label_is_read_as_windows_1252_so_smart_quotes_survive() -> None:
    original = "“Quoted” — dash"
    text, encoding = decode_bytes(original.encode("cp1252"), content_type="text/html; charset=ISO-8859-1")
    assert (text, encoding) == (original, "cp1252")


def test_latin1_label_on_utf8_bytes_is_read_as_utf8() -> None:
    original = "café — “quoted”"
    text, encoding = decode_bytes(original.encode("utf-8"), content_type="text/html; charset=iso-8859-1")
    assert (text, encoding) == (original, "utf-8")


def test_meta_declaration_and_bom_are_used() -> None:
    koi8 = '<html><head><meta charset="koi8-r"></head><body>Привет</body></html>'
    text, encoding = decode_bytes(koi8.encode("koi8-r"))
    assert "Привет" in text and encoding == "koi8-r"
    # A BOM beats a header that says otherwise.
    text, encoding = decode_bytes(
        "\ufeffhello café".encode("utf-16-le"), content_type="text/plain; charset=utf-8"
    )
    assert (text, encoding) == ("hello café", "utf-16")


def test_clean_text_strips_controls_and_makes_valid_utf8() -> None:
    dirty = "a\x00b\x07c\r\nd\te\x1f\ud800f"
    cleaned = clean_text(dirty)
    assert cleaned == "abc\nd\te?f"
    cleaned.encode("utf-8")  # would raise on a lone surrogate


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Harbour bridge reopens\n\nThe bridge carried traffic again.", "Harbour bridge reopens"),
        ("Harbour bridge reopens\nThe bridge carried traffic again.", "Harbour bridge reopens"),
        ("The bridge carried traffic again.\n\nMore text.", None),  # final period: a sentence
        ("The council voted on Tuesday to approve the budget, which\nthe mayor called fair.", None),
        ("Only one line, no body", None),
    ],
)
def test_split_title(text: str, title: str | None) -> None:
    found, body = split_title(text)
    assert found == title
    assert body.strip()
    if title:
        assert title not in body


# ---------------------------------------------------------------- local folders


def test_local_folder_reads_every_kind_and_rejects_the_bad_files() -> None:
    result = fetch_all([Source("local-samples", str(LOCAL))], CFG)
    by_name = {Path(item.uri.split("#")[0]).name: item for item in result.items if "#" not in item.uri}
    assert set(by_name) == {
        "01-river-cleanup.txt",
        "02-market-hall.html",
        "2024-old-mill-sale.txt",
        "cafe-windows1252.txt",
    }
    # The first line is the title when it looks like one, and is not repeated in the body.
    river = by_name["01-river-cleanup.txt"]
    assert river.title == "Volunteers pull two tonnes of rubbish from the Marrow"
    assert river.format == "text" and river.content.startswith("PORT ELSWORTH — More than 150")
    html_item = by_name["02-market-hall.html"]
    assert html_item.format == "html" and html_item.title == "Market hall traders given a year's rent relief"
    cafe = by_name["cafe-windows1252.txt"]
    assert cafe.encoding == "cp1252"
    assert cafe.title == "Café Marais reopens on the quay"
    assert "“We kept the old counter,” Mrs Dufrêne said." in cafe.content
    assert "Élodie" in cafe.content

    # JSONL: one document, one item per good line, the bad line a reject naming file:line.
    records = [item for item in result.items if item.uri.startswith(str(LOCAL / "records.jsonl"))]
    assert [item.uri.rsplit("#", 1)[1] for item in records] == ["L1", "L2", "L4"]
    assert len({item.doc_id for item in records}) == 1
    assert records[0].published_at is not None and records[0].published_at.tzinfo == UTC
    assert records[0].published_at.hour == 7  # 08:15+01:00 in UTC
    assert records[2].author == "Lena Fischer"
    assert records[0].url == "https://courier.example/news/harbour-road-cycle-lane"

    rejects = {reject.input: reject.error for reject in result.rejects}
    assert set(rejects) == {str(LOCAL / "empty.txt"), f"{LOCAL / 'records.jsonl'}:3"}
    assert "empty file" in rejects[str(LOCAL / "empty.txt")]
    assert rejects[f"{LOCAL / 'records.jsonl'}:3"].startswith(
        f"file {LOCAL / 'records.jsonl'}:3: not valid JSON"
    )
    assert all(r.stage == "fetch" and r.source == "local-samples" for r in result.rejects)
    # Hidden files and unknown extensions are neither items nor rejects.
    assert not any(".draft" in i.uri or ".xyz" in i.uri for i in result.items)


def test_local_folder_is_walked_in_sorted_order_and_documents_are_content_addressed() -> None:
    result = fetch_all([Source("local", str(LOCAL))], CFG)
    uris = [doc.uri for doc in result.documents]
    assert uris == sorted(uris)
    for doc in result.documents:
        body = Path(doc.uri).read_bytes()
        assert doc.body == body and doc.bytes == len(body)
        assert doc.sha256 == hashlib.sha256(body).hexdigest()
        assert doc.doc_id == content_key(doc.uri, doc.sha256)
        assert doc.http_status is None
    assert {item.doc_id for item in result.items} <= {doc.doc_id for doc in result.documents}


def test_file_over_max_file_bytes_is_refused_and_others_still_load(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("Big story\n\n" + "word " * 400, encoding="utf-8")
    (tmp_path / "small.txt").write_text("Small story\n\nA short body.", encoding="utf-8")
    result = LocalSource("s", str(tmp_path), CFG.model_copy(update={"max_file_bytes": 500})).fetch()
    assert [item.title for item in result.items] == ["Small story"]
    [reject] = result.rejects
    assert reject.input == str(tmp_path / "big.txt") and "max_file_bytes=500" in reject.error


def test_symlink_leaving_the_root_is_refused_but_one_inside_is_read(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "secret.txt"
    outside.write_text("Private notes\n\nNot an article.", encoding="utf-8")
    (root / "story.txt").write_text("Story title\n\nThe story body.", encoding="utf-8")
    (root / "escape.txt").symlink_to(outside)
    (root / "alias.txt").symlink_to(root / "story.txt")
    result = LocalSource("s", str(root), CFG).fetch()
    assert sorted(Path(item.uri).name for item in result.items) == ["alias.txt", "story.txt"]
    [reject] = result.rejects
    assert reject.input == str(root / "escape.txt")
    assert "outside the source root" in reject.error


def test_single_file_missing_path_and_unsupported_file(tmp_path: Path) -> None:
    notes = tmp_path / "notes.xyz"
    notes.write_text("not an article", encoding="utf-8")
    sources = [
        Source("one", str(LOCAL / "01-river-cleanup.txt")),
        Source("missing", str(tmp_path / "nope")),
        Source("odd", str(notes)),
    ]
    result = fetch_all(sources, CFG)
    assert [item.source for item in result.items] == ["one"]
    errors = {reject.source: reject.error for reject in result.rejects}
    assert "does not exist" in errors["missing"] and str(tmp_path / "nope") in errors["missing"]
    assert "unsupported file type '.xyz'" in errors["odd"]


def test_json_file_of_records_and_json_feed_file_in_a_folder(tmp_path: Path) -> None:
    (tmp_path / "export.json").write_text(
        '[{"title": "Pier lights restored", "text": "The pier lights are back.", "published": 1744704000},'
        ' {"title": "No text here"}]',
        encoding="utf-8",
    )
    shutil.copy(FEEDS / "jsonfeed.json", tmp_path / "island.json")
    result = LocalSource("s", str(tmp_path), CFG).fetch()
    titles = [item.title for item in result.items]
    assert titles == [
        "Pier lights restored",
        "Lighthouse keepers' cottages go up for sale",
        "Puffin count starts early after mild winter",
    ]
    assert result.items[0].published_at is not None and result.items[0].published_at.year == 2025
    [reject] = result.rejects
    assert reject.input == f"{tmp_path / 'export.json'}:[1]" and "no 'text'" in reject.error


# ---------------------------------------------------------------- feed parsing (bytes only)


def test_parse_feed_bytes_reads_rss_atom_and_json_feed() -> None:
    rss = parse_feed_bytes((FEEDS / "rss_teaser.xml").read_bytes())
    assert rss.version == "rss20" and len(rss.entries) == 3
    assert rss.entries[0].author == "Lena Fischer"  # from "newsdesk@courier.example (Lena Fischer)"
    atom = parse_feed_bytes((FEEDS / "atom.xml").read_bytes())
    assert atom.version == "atom10"
    assert atom.entries[0].published_at is not None
    assert atom.entries[0].published_at.utcoffset().total_seconds() == 0
    assert atom.entries[0].published_at.hour == 5  # 07:20+02:00
    feed = parse_feed_bytes((FEEDS / "jsonfeed.json").read_bytes())
    assert feed.version == "json1.1"
    assert [e.author for e in feed.entries] == ["Nell Harrow", "Carrick Island Post newsroom"]


def test_parse_feed_bytes_refuses_entity_expansion_and_non_feeds() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b"<rss><channel><item><title>&b;</title></item></channel></rss>"
    )
    with pytest.raises(NotAFeed, match="entities"):
        parse_feed_bytes(bomb)
    with pytest.raises(NotAFeed, match="got text/html"):
        parse_feed_bytes((PAGES / "login.html").read_bytes(), content_type="application/rss+xml")
    with pytest.raises(NotAFeed, match="got image/png"):
        parse_feed_bytes(b"\x89PNG\r\n", content_type="image/png")
    with pytest.raises(NotAFeed, match="neither XML nor JSON"):
        parse_feed_bytes(b"just some words", content_type="text/plain")


def test_local_feed_file_never_causes_network_fetches(http: HTTPServer, tmp_path: Path) -> None:
    feed_file = tmp_path / "briefs.rss"
    feed_file.write_bytes(
        (FEEDS / "rss_teaser.xml").read_bytes().replace(b"{{BASE}}", base_url(http).encode())
    )
    serve_page(http, "library-reopens.html")
    source = make_source(
        Source("saved", str(feed_file)), CFG.model_copy(update={"fetch_item_pages": "always"})
    )
    assert isinstance(source, FeedSource)
    result = source.fetch()
    assert len(result.items) == 3
    assert all(item.doc_id == result.documents[0].doc_id for item in result.items)
    assert requested_paths(http) == []


# ---------------------------------------------------------------- feeds over HTTP


def test_rss_with_full_content_fetches_no_pages(http: HTTPServer) -> None:
    feed_url = serve_fixture(http, "/rss.xml", FEEDS / "rss_full.xml", "application/rss+xml; charset=utf-8")
    serve_page(http, "robotics-prize.html")
    result = fetch_all([Source("courier", feed_url, kind="feed")], CFG)
    assert requested_paths(http) == ["/rss.xml"]
    assert result.rejects == []
    assert [item.title for item in result.items] == [
        "Harbour bridge reopens after six-month repair",
        "Valley school wins national robotics prize",
    ]
    bridge = result.items[0]
    assert bridge.format == "html" and "swing bridge" in bridge.content and "£2.4 million" in bridge.content
    assert bridge.url == base_url(http) + "/news/harbour-bridge.html"
    assert bridge.uri == f"{feed_url}#courier-2025-0412-bridge"
    assert bridge.author == "Amira Okafor"
    assert bridge.published_at is not None and bridge.published_at.tzinfo is not None
    assert bridge.published_at.isoformat() == "2025-04-12T08:30:00+00:00"
    [document] = result.documents
    assert document.http_status == 200 and document.content_type.startswith("application/rss+xml")
    assert document.doc_id == bridge.doc_id and document.sha256 == hashlib.sha256(document.body).hexdigest()
    # The User-Agent from config is what the server saw.
    assert http.log[0][0].headers["User-Agent"] == CFG.user_agent


def test_teaser_feed_fetches_item_pages_and_keeps_entry_when_page_404s(http: HTTPServer) -> None:
    feed_url = serve_fixture(http, "/briefs.xml", FEEDS / "rss_teaser.xml", "application/rss+xml")
    serve_page(http, "library-reopens.html")
    serve_page(http, "ferry-timetable.html")
    http.expect_request("/news/missing-story.html").respond_with_data("gone", status=404)
    result = fetch_all([Source("briefs", feed_url)], CFG)

    assert sorted(requested_paths(http)) == sorted(
        [
            "/briefs.xml",
            "/news/library-reopens.html",
            "/news/ferry-timetable.html",
            "/news/missing-story.html",
        ]
    )
    library, ferry, parking = result.items
    assert library.format == "html" and "fourteen-week refurbishment" in library.content
    assert library.url == library.uri == base_url(http) + "/news/library-reopens.html"
    assert library.title == "Central library reopens with longer hours"  # the entry's, not the <title>
    assert library.author == "Lena Fischer"
    assert "Carrick Island" in ferry.content
    # The 404 page: a reject naming the URL, and the entry's teaser is still an item.
    assert parking.uri.startswith(feed_url + "#") and "moved to June" in parking.content
    [reject] = result.rejects
    missing = base_url(http) + "/news/missing-story.html"
    assert reject.input == missing
    assert reject.error.startswith(f"GET {missing}: HTTP 404")
    # One document for the feed and one per page read.
    assert len(result.documents) == 3
    assert {library.doc_id, ferry.doc_id, parking.doc_id} == {d.doc_id for d in result.documents}


def test_atom_feed_item_page_behind_a_redirect_gets_the_final_url(http: HTTPServer) -> None:
    feed_url = serve_fixture(http, "/atom.xml", FEEDS / "atom.xml", "application/atom+xml")
    serve_page(http, "flood-defences.html")
    http.expect_request("/news/old-mill.html").respond_with_data(
        "", status=301, headers={"Location": "/news/2025/old-mill.html"}
    )
    serve_fixture(http, "/news/2025/old-mill.html", PAGES / "old-mill.html", "text/html")
    result = fetch_all([Source("gazette", feed_url)], CFG)
    assert result.rejects == []
    flood, mill = result.items
    assert "£9 million scheme" in flood.content and flood.author == "Dafydd Price"
    assert mill.url == base_url(http) + "/news/2025/old-mill.html"
    assert "Hatton&#8217;s Mill" in mill.content or "Hatton’s Mill" in mill.content
    assert mill.published_at is not None and mill.published_at.isoformat() == "2025-04-14T15:00:00+00:00"


def test_json_feed_fetches_only_the_page_of_the_summary_item(http: HTTPServer) -> None:
    feed_url = serve_fixture(http, "/feed.json", FEEDS / "jsonfeed.json", "application/feed+json")
    serve_page(http, "puffin-count.html")
    result = fetch_all([Source("island", feed_url)], CFG)
    assert sorted(requested_paths(http)) == ["/feed.json", "/news/puffin-count.html"]
    lighthouse, puffins = result.items
    assert lighthouse.format == "html" and "£600,000" in lighthouse.content
    assert lighthouse.uri == f"{feed_url}#post-2025-04-16-lighthouse"
    assert "1,946 occupied burrows" in puffins.content


def test_fetch_item_pages_never_uses_entry_content_only(http: HTTPServer) -> None:
    feed_url = serve_fixture(http, "/briefs.xml", FEEDS / "rss_teaser.xml", "application/rss+xml")
    result = fetch_all([Source("briefs", feed_url)], CFG.model_copy(update={"fetch_item_pages": "never"}))
    assert requested_paths(http) == ["/briefs.xml"]
    assert len(result.items) == 3 and result.rejects == []


def test_max_items_per_feed_caps_and_says_so(http: HTTPServer) -> None:
    feed_url = serve_fixture(http, "/rss.xml", FEEDS / "rss_full.xml", "application/rss+xml")
    result = fetch_all([Source("courier", feed_url)], CFG.model_copy(update={"max_items_per_feed": 1}))
    assert len(result.items) == 1
    [reject] = result.rejects
    assert reject.input == feed_url and "kept the first 1" in reject.error


def test_broken_feeds_are_rejects_naming_the_url_and_good_sources_still_load(http: HTTPServer) -> None:
    truncated = serve_fixture(http, "/truncated.xml", FEEDS / "truncated.xml", "application/rss+xml")
    login = serve_fixture(http, "/members.xml", PAGES / "login.html", "application/rss+xml")
    not_found = serve_fixture(http, "/gone.xml", PAGES / "login.html", "text/html", status=404)
    http.expect_request("/error.xml").respond_with_data("oops", status=500)
    good = serve_fixture(http, "/rss.xml", FEEDS / "rss_full.xml", "application/rss+xml")
    sources = [
        Source("truncated", truncated, kind="feed"),
        Source("login", login, kind="feed"),
        Source("gone", not_found, kind="feed"),
        Source("error", base_url(http) + "/error.xml", kind="feed"),
        Source("good", good, kind="feed"),
        Source("local", str(LOCAL / "01-river-cleanup.txt")),
    ]
    result = fetch_all(sources, CFG)
    assert {item.source for item in result.items} == {"good", "local"}
    assert len([i for i in result.items if i.source == "good"]) == 2
    errors = {reject.source: reject for reject in result.rejects}
    assert errors["truncated"].input == truncated
    assert (
        errors["truncated"].error.startswith(f"feed {truncated}: ")
        and "malformed XML" in errors["truncated"].error
    )
    assert errors["login"].error.startswith(
        f"feed {login}: not a feed (got text/html; served as application/rss+xml)"
    )
    assert errors["gone"].error == f"GET {not_found}: HTTP 404"
    assert errors["error"].error == f"GET {base_url(http)}/error.xml: HTTP 500"
    assert all("\n" not in reject.error for reject in result.rejects)


# ---------------------------------------------------------------- pages and HTTP limits


def test_page_in_windows_1252_with_lying_or_absent_charset(http: HTTPServer) -> None:
    body = (PAGES / "cafe-cp1252.html").read_bytes()
    http.expect_request("/lying.html").respond_with_data(body, content_type="text/html; charset=utf-8")
    http.expect_request("/plain.html").respond_with_data(body, content_type="text/html")
    result = fetch_all(
        [
            Source("lying", base_url(http) + "/lying.html", kind="page"),
            Source("absent", base_url(http) + "/plain.html", kind="page"),
        ],
        CFG,
    )
    assert result.rejects == []
    for item in result.items:
        assert item.format == "html" and item.encoding == "cp1252"
        assert "Café Marais reopens on the quay" in item.content
        assert "“We kept the old counter and the brass lamps,”" in item.content
        assert "didn’t" in item.content and "£3.50" in item.content and "7am–4pm" in item.content
        assert item.title == "Café Marais reopens on the quay"
        item.content.encode("utf-8")
    assert [doc.body for doc in result.documents] == [body, body]


def test_page_of_the_wrong_type_is_rejected_naming_url_and_type(http: HTTPServer) -> None:
    http.expect_request("/photo.png").respond_with_data(b"\x89PNG\r\n\x1a\n", content_type="image/png")
    http.expect_request("/report.pdf").respond_with_data(b"%PDF-1.7", content_type="application/pdf")
    http.expect_request("/blob").respond_with_data(b"\x00\x01", content_type="application/octet-stream")
    sources = [
        Source("png", base_url(http) + "/photo.png", kind="page"),
        Source("pdf", base_url(http) + "/report.pdf"),  # auto
        Source("blob", base_url(http) + "/blob", kind="feed"),
    ]
    result = fetch_all(sources, CFG)
    assert result.items == []
    errors = {reject.source: reject.error for reject in result.rejects}
    assert errors["png"] == f"GET {base_url(http)}/photo.png: not a web page (got image/png); " + (
        "only text/html and application/xhtml+xml pages are read"
    )
    assert f"{base_url(http)}/report.pdf" in errors["pdf"] and "application/pdf" in errors["pdf"]
    assert errors["blob"].startswith(f"feed {base_url(http)}/blob: not a feed (got application/octet-stream)")


def test_auto_kind_sniffs_feed_or_page(http: HTTPServer) -> None:
    feed_url = serve_fixture(http, "/feed.txt", FEEDS / "rss_full.xml", "text/plain")
    page_url = serve_page(http, "flood-defences.html")
    feed_source = make_source(Source("f", feed_url), CFG)
    assert isinstance(feed_source, AutoUrlSource)
    assert isinstance(make_source(Source("p", page_url, kind="page"), CFG), PageSource)
    result = fetch_all([Source("f", feed_url), Source("p", page_url)], CFG)
    assert result.rejects == []
    assert [item.format for item in result.items] == ["html", "html", "html"]
    assert result.items[0].uri.startswith(feed_url + "#")
    assert result.items[2].uri == page_url and result.items[2].title.startswith("Flood defences approved")


def test_body_over_max_bytes_is_refused(http: HTTPServer) -> None:
    http.expect_request("/big.html").respond_with_data(b"<html>" + b"x" * 5000, content_type="text/html")
    result = fetch_all(
        [Source("big", base_url(http) + "/big.html")], CFG.model_copy(update={"max_bytes": 1000})
    )
    [reject] = result.rejects
    assert reject.input == base_url(http) + "/big.html" and "max_bytes=1000" in reject.error
    assert result.documents == [] and result.items == []


_BOMB_SERVER = """
import gzip, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
body = gzip.compress(b"<rss><channel>" + b" " * 20_000_000 + b"</channel></rss>")
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
server = HTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.handle_request()
"""


def test_gzip_body_is_capped_on_its_decompressed_size(http: HTTPServer) -> None:
    compressed = gzip.compress(b"<rss><channel>" + b" " * 20_000_000 + b"</channel></rss>")
    assert len(compressed) < 40_000  # small on the wire, 20 MB inflated
    http.expect_request("/bomb.xml").respond_with_data(
        compressed, content_type="application/rss+xml", headers={"Content-Encoding": "gzip"}
    )
    cfg = CFG.model_copy(update={"max_bytes": 100_000})
    # The bomb is served from another process, so tracemalloc sees only the client's memory.
    server = subprocess.Popen([sys.executable, "-c", _BOMB_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        with HttpFetcher(cfg) as fetcher:
            tracemalloc.start()
            try:
                with pytest.raises(FetchError, match="after decompression") as caught:
                    fetcher.get(f"http://127.0.0.1:{port}/bomb.xml")
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    finally:
        server.kill()
        server.wait(timeout=10)
    assert str(caught.value).startswith(f"GET http://127.0.0.1:{port}/bomb.xml: body exceeds max_bytes=100000")
    # Inflation stopped near the cap instead of inflating the whole 20 MB first.
    assert peak < 3_000_000, f"peak {peak} bytes: the body was inflated past the cap"
    # Under the cap the same gzip body is read and inflated in full.
    with HttpFetcher(CFG.model_copy(update={"max_bytes": 25_000_000})) as fetcher:
        assert len(fetcher.get(base_url(http) + "/bomb.xml").body) == 20_000_030


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib-deflate", "raw-deflate"])
def test_deflate_bodies_are_inflated(http: HTTPServer, wbits: int) -> None:
    page = (PAGES / "flood-defences.html").read_bytes()
    packer = zlib.compressobj(wbits=wbits)
    http.expect_request("/deflated.html").respond_with_data(
        packer.compress(page) + packer.flush(),
        content_type="text/html",
        headers={"Content-Encoding": "deflate"},
    )
    with HttpFetcher(CFG) as fetcher:
        assert fetcher.get(base_url(http) + "/deflated.html").body == page


def test_slow_server_is_cut_off_at_the_total_deadline(http: HTTPServer) -> None:
    def trickle(_request: Request) -> Response:
        def chunks() -> Iterator[bytes]:
            yield b"<html><body>"
            for _ in range(15):  # 15 x 0.15 s: every read is quick, the whole is not
                time.sleep(0.15)
                yield b"<p>still loading</p>"

        return Response(chunks(), content_type="text/html")

    http.expect_request("/slow.html").respond_with_handler(trickle)
    serve_page(http, "ferry-timetable.html")
    cfg = CFG.model_copy(update={"timeout_seconds": 0.6, "connect_timeout_seconds": 0.5})
    started = time.monotonic()
    result = fetch_all(
        [
            Source("slow", base_url(http) + "/slow.html"),
            Source("ok", base_url(http) + "/news/ferry-timetable.html"),
        ],
        cfg,
    )
    elapsed = time.monotonic() - started
    assert elapsed < 1.8, f"deadline not enforced: took {elapsed:.2f}s"
    [reject] = result.rejects
    assert reject.source == "slow" and "total deadline of 0.6s" in reject.error
    assert [item.source for item in result.items] == ["ok"]


def test_server_that_never_answers_times_out(http: HTTPServer) -> None:
    def stall(_request: Request) -> Response:
        time.sleep(1.0)
        return Response("late", content_type="text/html")

    http.expect_request("/stall.html").respond_with_handler(stall)
    cfg = CFG.model_copy(update={"timeout_seconds": 0.4, "connect_timeout_seconds": 0.4})
    result = fetch_all([Source("stall", base_url(http) + "/stall.html")], cfg)
    [reject] = result.rejects
    assert reject.error == f"GET {base_url(http)}/stall.html: timed out waiting for the server"


def test_redirect_limits_and_schemes(http: HTTPServer) -> None:
    for hop in range(7):
        http.expect_request(f"/hop{hop}").respond_with_data(
            "", status=302, headers={"Location": f"/hop{hop + 1}"}
        )
    http.expect_request("/to-file").respond_with_data(
        "", status=302, headers={"Location": "file:///etc/passwd"}
    )
    sources = [
        Source("loop", base_url(http) + "/hop0", kind="page"),
        Source("file", base_url(http) + "/to-file", kind="page"),
        Source("ftp", "ftp://127.0.0.1/feed.xml"),
    ]
    result = fetch_all(sources, CFG)
    errors = {reject.source: reject.error for reject in result.rejects}
    assert errors["loop"].startswith(f"GET {base_url(http)}/hop0: more than 5 redirects")
    assert "non-http(s) URL file:///etc/passwd" in errors["file"]
    assert errors["ftp"].startswith("source ftp: ftp://127.0.0.1/feed.xml: only http(s) URLs")
    assert requested_paths(http).count("/hop0") == 1 and "/hop6" not in requested_paths(http)


def test_connection_refused_is_a_reject() -> None:
    # A port nothing listens on: bind one, note it, close it.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = fetch_all([Source("down", f"http://127.0.0.1:{port}/rss.xml", kind="feed")], CFG)
    [reject] = result.rejects
    assert reject.error.startswith(f"GET http://127.0.0.1:{port}/rss.xml: cannot connect")


def test_results_keep_source_order_under_concurrency(http: HTTPServer) -> None:
    names = [
        "library-reopens.html",
        "ferry-timetable.html",
        "flood-defences.html",
        "old-mill.html",
        "puffin-count.html",
    ]
    urls = [serve_page(http, name) for name in names]
    sources = [Source(f"s{index}", url, kind="page") for index, url in enumerate(urls)]
    result = fetch_all(sources, CFG.model_copy(update={"concurrency": 3}))
    assert [item.url for item in result.items] == urls
    assert [doc.source for doc in result.documents] == [s.name for s in sources]


def test_make_source_picks_the_implementation(tmp_path: Path) -> None:
    assert isinstance(make_source(Source("a", str(LOCAL)), CFG), LocalSource)
    assert isinstance(make_source(Source("b", str(FEEDS / "atom.xml")), CFG), FeedSource)
    assert isinstance(make_source(Source("c", str(FEEDS / "jsonfeed.json")), CFG), FeedSource)
    assert isinstance(make_source(Source("d", str(LOCAL / "records.jsonl")), CFG), LocalSource)
    assert isinstance(make_source(Source("e", "http://127.0.0.1:1/x", kind="feed"), CFG), FeedSource)
    with pytest.raises(ValueError, match='kind "page" needs an http'):
        make_source(Source("f", str(tmp_path), kind="page"), CFG)
    with pytest.raises(ValueError, match='kind "local" needs a path'):
        make_source(Source("g", "http://127.0.0.1:1/x", kind="local"), CFG)


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_every_stored_string_is_valid_utf8_without_controls(tmp_path: Path) -> None:
    (tmp_path / "dirty.txt").write_bytes(
        b"Dirty\x00 title\n\nBody with \x01bell\x07 and NUL\x00 bytes.\r\nEnd."
    )
    (tmp_path / "dirty.jsonl").write_text(
        '{"title": "Bad \\ud800 surrogate", "text": "Text with \\u0000 NUL and \\ud83d lone half."}\n',
        encoding="utf-8",
    )
    result = LocalSource("s", str(tmp_path), CFG).fetch()
    assert len(result.items) == 2
    for item in result.items:
        for value in (item.content, item.title):
            assert value is not None
            value.encode("utf-8")
            assert not any(ord(ch) < 32 and ch not in "\n\t" for ch in value)


def test_a_caller_supplied_client_is_used_and_left_open(http: HTTPServer) -> None:
    page_url = serve_page(http, "old-mill.html")
    with httpx.Client(headers={"X-Wirelake-Run": "run-42"}) as client:
        result = fetch_all([Source("p", page_url, kind="page")], CFG, client=client)
        assert not client.is_closed
    assert len(result.items) == 1
    # By path: a slow handler from an earlier test may still append to the shared server's log.
    [request] = [r for r, _ in http.log if r.path.endswith("old-mill.html")]
    assert request.headers["X-Wirelake-Run"] == "run-42"
    assert request.headers["User-Agent"] == CFG.user_agent  # the config's, not httpx's default


@pytest.mark.unit
@pytest.mark.parametrize(("name", "expected"), [
    ("2023-01-11-defence-pact.txt", (2023, 1, 11)),
    ("2023-02-30-bad-day.txt", None),
    ("notes-2023-01-11.txt", None),
    ("20230111.txt", None),
])
def test_text_files_are_dated_by_a_leading_iso_date_in_their_name(name, expected):
    from flows.stages.fetchers.local import date_from_filename

    got = date_from_filename(name)
    assert (None if got is None else (got.year, got.month, got.day)) == expected
    if got is not None:
        assert got.tzinfo is not None
