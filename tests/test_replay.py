"""Replaying stored raw documents: the item rebuilt from the bytes is the item the fetch made.

Every test fetches for real (local files, or pages and feeds from a loopback server), then
replays each item from its document's row and bytes alone and compares the two Items.
Also: the pure reprocess helpers (hints, identity, the extract prior) and the warehouse's
write-rule override.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from pytest_httpserver import HTTPServer

from flows.config import FetchConfig
from flows.records import Article, Item, Reject, Source
from flows.stages.extract import ExtractPrior
from flows.stages.fetch import FetchResult, LocalSource, fetch_all
from flows.stages.fetchers.feed import items_from_feed_file
from flows.stages.fetchers.replay import DOCUMENT_FIELDS, items_from_stored
from flows.stages.reprocess import Replayed, keep_identity, reprocess_prior, since_datetime, with_stored_hints
from warehouse.store import StagedRun, Warehouse, to_arrow

pytestmark = pytest.mark.unit

FETCH_FIXTURES = Path(__file__).parent / "fixtures" / "fetch"
CFG = FetchConfig(
    min_item_content_words=50,
    timeout_seconds=5.0,
    connect_timeout_seconds=2.0,
    obey_robots=False,
    per_host_min_interval_seconds=0.0,
    backoff_base_seconds=0.01,
)


def replay_every_item(result: FetchResult, cfg: FetchConfig = CFG) -> list[tuple[Item, Item | Reject]]:
    """(live item, replayed item) for every item the fetch made, from its document's row and bytes."""
    documents = {d.doc_id: d for d in result.documents}
    pairs = []
    for item in result.items:
        doc = documents[item.doc_id]
        row = {name: getattr(doc, name) for name in DOCUMENT_FIELDS}
        pairs.append((item, items_from_stored(row, doc.body, item.uri, cfg)))
    return pairs


@pytest.fixture
def http() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


def serve(server: HTTPServer, path: str, fixture: Path, content_type: str) -> str:
    base = f"http://127.0.0.1:{server.port}"
    server.expect_request(path).respond_with_data(
        fixture.read_bytes().replace(b"{{BASE}}", base.encode()), content_type=content_type
    )
    return base + path


def test_local_text_html_jsonl_and_windows_1252_files_replay_to_the_same_items() -> None:
    result = fetch_all([Source("local-samples", str(FETCH_FIXTURES / "local"))], CFG)
    pairs = replay_every_item(result)
    uris = {live.uri.rsplit("/", 1)[-1] for live, _ in pairs}
    # Every local kind is covered: plain text, HTML, JSONL lines, a windows-1252 file, a subfolder.
    assert {
        "01-river-cleanup.txt",
        "02-market-hall.html",
        "cafe-windows1252.txt",
        "2024-old-mill-sale.txt",
        "records.jsonl#L1",
        "records.jsonl#L4",
    } <= uris
    for live, replayed in pairs:
        assert replayed == live, live.uri


def test_json_array_items_single_records_and_local_feed_entries_replay(tmp_path: Path) -> None:
    (tmp_path / "export.json").write_text(
        '[{"title": "Pier lights restored", "text": "The pier lights are back on the east pier.",'
        ' "published": 1744704000}, {"title": "Tide gauge fixed",'
        ' "text": "The harbour tide gauge reads again.", "author": "Ines Moreau", "url": "https://example.org/tide"}]',
        encoding="utf-8",
    )
    (tmp_path / "one.json").write_text(
        '{"title": "Ferry fares frozen", "text": "Island ferry fares stay put."}', encoding="utf-8"
    )
    shutil.copy(FETCH_FIXTURES / "feeds" / "jsonfeed.json", tmp_path / "island.json")
    shutil.copy(FETCH_FIXTURES / "feeds" / "atom.xml", tmp_path / "gazette.xml")
    result = LocalSource("s", str(tmp_path), CFG).fetch()
    pairs = replay_every_item(result)
    anchors = sorted(live.uri.replace(str(tmp_path) + "/", "") for live, _ in pairs)
    assert "export.json#0" in anchors and "export.json#1" in anchors and "one.json" in anchors
    assert any(a.startswith("island.json#") for a in anchors) and any(
        a.startswith("gazette.xml#") for a in anchors
    )
    for live, replayed in pairs:
        assert replayed == live, live.uri


def test_feed_saved_with_another_extension_replays_as_a_feed(tmp_path: Path) -> None:
    path = tmp_path / "wire-export.txt"  # read as a feed only because its source says kind = "feed"
    shutil.copy(FETCH_FIXTURES / "feeds" / "atom.xml", path)
    result = items_from_feed_file("wire", path, CFG)
    assert result.items
    for live, replayed in replay_every_item(result):
        assert replayed == live


def test_http_feed_entries_and_pages_replay_without_the_network(http: HTTPServer) -> None:
    feed_url = serve(http, "/local.xml", FETCH_FIXTURES / "feeds" / "rss_full.xml", "application/rss+xml")
    page_url = serve(
        http, "/news/old-mill.html", FETCH_FIXTURES / "pages" / "old-mill.html", "text/html; charset=utf-8"
    )
    cafe_url = serve(http, "/news/cafe.html", FETCH_FIXTURES / "pages" / "cafe-cp1252.html", "text/html")
    result = fetch_all(
        [
            Source("courier", feed_url, "feed"),
            Source("mill", page_url, "page"),
            Source("cafe", cafe_url, "page"),
        ],
        CFG.model_copy(update={"fetch_item_pages": "never"}),
    )
    assert not result.rejects
    requests_before = len(http.log)
    pairs = replay_every_item(result)
    assert len(http.log) == requests_before  # replay asked the server for nothing
    assert sum(live.uri.startswith(feed_url + "#") for live, _ in pairs) >= 2
    assert {page_url, cafe_url} <= {live.uri for live, _ in pairs}
    for live, replayed in pairs:
        assert replayed == live, live.uri


def test_page_read_for_a_feed_entry_replays_with_the_entry_hints(http: HTTPServer) -> None:
    feed_url = serve(http, "/briefs.xml", FETCH_FIXTURES / "feeds" / "rss_teaser.xml", "application/rss+xml")
    page_url = serve(
        http,
        "/news/library-reopens.html",
        FETCH_FIXTURES / "pages" / "library-reopens.html",
        "text/html; charset=utf-8",
    )
    serve(http, "/news/ferry-timetable.html", FETCH_FIXTURES / "pages" / "ferry-timetable.html", "text/html")
    http.expect_request("/news/missing-story.html").respond_with_data("gone", status=404)
    result = fetch_all([Source("briefs", feed_url)], CFG)
    library = next(item for item in result.items if item.uri == page_url)
    [(_, replayed)] = [pair for pair in replay_every_item(result) if pair[0].uri == page_url]
    assert isinstance(replayed, Item)
    # The page alone does not know what the feed entry said about it...
    assert replayed.title != library.title and replayed.author is None
    # ...which is why reprocess passes the stored article's hints back in.
    stored = {
        "title": library.title,
        "author": library.author,
        "published_at": library.published_at,
        "url": library.url,
        "fetched_at": library.fetched_at,
    }
    assert with_stored_hints(replayed, stored) == library


def test_damaged_or_unknown_items_are_rejects_naming_document_and_item() -> None:
    result = fetch_all([Source("local", str(FETCH_FIXTURES / "local" / "records.jsonl"))], CFG)
    [doc] = result.documents
    row = {name: getattr(doc, name) for name in DOCUMENT_FIELDS}
    damaged = items_from_stored(row, doc.body + b"\n", f"{doc.uri}#L1", CFG)
    assert isinstance(damaged, Reject) and damaged.stage == "reprocess"
    assert doc.doc_id in damaged.error and doc.sha256 in damaged.error and "damaged" in damaged.error
    unknown = items_from_stored(row, doc.body, f"{doc.uri}#L3", CFG)  # the broken line never became an item
    assert (
        isinstance(unknown, Reject) and f"{doc.uri}#L3" in unknown.error and unknown.input == f"{doc.uri}#L3"
    )
    with pytest.raises(ValueError, match="lacks"):
        items_from_stored({"doc_id": doc.doc_id}, doc.body, doc.uri, CFG)


# ---------------------------------------------------------------- pure reprocess helpers


def _article(article_id: str, uri: str, doc_id: str = "d1") -> Article:
    return Article(
        article_id=article_id,
        doc_id=doc_id,
        source="s",
        url=None,
        title="t",
        author=None,
        published_at=None,
        language="en",
        dateline=None,
        text="some text",
        word_count=2,
        content_hash="0" * 64,
        fetched_at=datetime(2024, 1, 1, tzinfo=UTC),
        item_uri=uri,
    )


def _item(uri: str, doc_id: str = "d1") -> Item:
    return Item(
        doc_id=doc_id,
        source="s",
        uri=uri,
        format="text",
        content="x",
        fetched_at=datetime(2024, 1, 1, tzinfo=UTC),
    )


def test_keep_identity_pairs_articles_with_their_stored_rows_past_clean_rejects() -> None:
    stored_at = datetime(2023, 6, 1, tzinfo=UTC)
    rows = [
        {
            "article_id": f"stored-{n}",
            "duplicate_of": "stored-0" if n == 2 else None,
            "near_duplicate_of": None,
            "similarity": None,
            "fetched_at": stored_at,
        }
        for n in range(3)
    ]
    replayed = Replayed(
        items=[_item("f#L1"), _item("f#L2"), _item("f#L3")], rejects=[], stored=rows, documents=1
    )
    # Clean rejected the second item; the new ids are what clean would key the new texts by.
    restored = keep_identity(replayed, [_article("new-a", "f#L1"), _article("new-c", "f#L3")])
    assert [a.article_id for a in restored] == ["stored-0", "stored-2"]
    assert restored[1].duplicate_of == "stored-0" and restored[0].fetched_at == stored_at
    with pytest.raises(RuntimeError, match="matches no replayed item"):
        keep_identity(replayed, [_article("x", "elsewhere")])


def test_since_accepts_iso_dates_as_utc_and_names_a_bad_value() -> None:
    assert since_datetime("2024-03-01") == datetime(2024, 3, 1, tzinfo=UTC)
    assert since_datetime("2024-03-01T12:00+02:00") == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert since_datetime(None) is None
    with pytest.raises(ValueError, match="'March'.*2024-03-01"):
        since_datetime("March")


def _table(rows: list[dict], **types: pa.DataType) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=pa.schema(list(types.items())))


def test_reprocess_prior_forgets_what_the_reprocessed_articles_contributed() -> None:
    seen = datetime(2024, 1, 1, tzinfo=UTC)
    tables = {
        "event_mentions": _table(
            [
                {"event_id": "only-a", "article_id": "a"},
                {"event_id": "shared", "article_id": "a"},
                {"event_id": "shared", "article_id": "b"},
            ],
            event_id=pa.string(),
            article_id=pa.string(),
        ),
        "events": _table(
            [{"event_id": "only-a", "event_type": "MEET"}, {"event_id": "shared", "event_type": "AGREE"}],
            event_id=pa.string(),
            event_type=pa.string(),
        ),
        "event_arguments": _table(
            [
                {"event_id": "only-a", "role": "participant", "entity_id": "e-a"},
                {"event_id": "shared", "role": "signatory", "entity_id": "e-shared"},
            ],
            event_id=pa.string(),
            role=pa.string(),
            entity_id=pa.string(),
        ),
        "article_stories": _table(
            [{"article_id": "a", "story_id": "s-a"}, {"article_id": "b", "story_id": "s-b"}],
            article_id=pa.string(),
            story_id=pa.string(),
        ),
        "stories": _table([{"story_id": "s-a"}, {"story_id": "s-b"}], story_id=pa.string()),
        "entities": _table(
            [{"entity_id": e, "name": e, "type": "ORG"} for e in ("e-a", "e-shared", "e-b", "e-q")],
            entity_id=pa.string(),
            name=pa.string(),
            type=pa.string(),
        ),
        "entity_mentions": _table(
            [{"article_id": "a", "entity_id": "e-a"}, {"article_id": "b", "entity_id": "e-b"}],
            article_id=pa.string(),
            entity_id=pa.string(),
        ),
        "quotes": _table(
            [{"article_id": "b", "speaker_entity_id": "e-q"}, {"article_id": "b", "speaker_entity_id": None}],
            article_id=pa.string(),
            speaker_entity_id=pa.string(),
        ),
        "articles": _table(
            [
                {"article_id": a, "source": "s", "published_at": seen, "fetched_at": seen, "title": a}
                for a in ("a", "b")
            ],
            article_id=pa.string(),
            source=pa.string(),
            published_at=pa.timestamp("us", tz="UTC"),
            fetched_at=pa.timestamp("us", tz="UTC"),
            title=pa.string(),
        ),
    }
    prior = reprocess_prior(tables, {"a"})
    assert isinstance(prior, ExtractPrior)
    assert set(prior.events) == {"shared"}  # "only-a" had no other report
    assert [m["article_id"] for m in prior.event_mentions["shared"]] == ["b"]
    assert prior.event_arguments == {"shared": [("signatory", "e-shared")]}
    assert set(prior.stories) == {"s-b"} and prior.article_stories == {"b": "s-b"}
    assert set(prior.entities) == {"e-shared", "e-b", "e-q"}  # e-a: only article a named it
    assert set(prior.articles) == {"b"}
    # Reprocessing nothing leaves the prior whole.
    whole = reprocess_prior(tables, set())
    assert set(whole.events) == {"only-a", "shared"} and len(whole.entities) == 4


# ---------------------------------------------------------------- the warehouse's write-rule override


def test_stage_rules_override_replaces_stored_rows_by_key(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "wh")
    wh.init()
    now = datetime(2024, 5, 1, tzinfo=UTC)

    def article(text: str) -> dict:
        return {
            "article_id": "a1",
            "doc_id": "d1",
            "run_id": "r1",
            "source": "s",
            "text": text,
            "word_count": 1,
            "content_hash": "0" * 64,
            "fetched_at": now,
        }

    con = wh.connect()
    try:
        wh.publish(con, wh.stage(con, {"articles": to_arrow("articles", [article("first")])}))
        again = wh.stage(con, {"articles": to_arrow("articles", [article("second")])})
        assert again.rows("articles") == 0  # the default rule: insert if new
        replaced = wh.stage(
            con, {"articles": to_arrow("articles", [article("second")])}, rules={"articles": "replace"}
        )
        assert replaced.rows("articles") == 1 and replaced.rules == {"articles": "replace"}
        wh.publish(con, replaced)
        assert con.execute("SELECT text FROM articles").fetchall() == [("second",)]
        # publish obeys the override carried by the StagedRun, not only stage()
        wh.publish(
            con,
            StagedRun(
                tables={"articles": to_arrow("articles", [article("third")])}, rules={"articles": "replace"}
            ),
        )
        assert con.execute("SELECT text FROM articles").fetchall() == [("third",)]
        with pytest.raises(ValueError, match="expected one of"):
            wh.stage(con, {}, rules={"articles": "upsert"})
        with pytest.raises(ValueError, match="no key"):
            wh.stage(con, {}, rules={"runs": "replace"})
        with pytest.raises(ValueError, match="unknown warehouse table"):
            wh.stage(con, {}, rules={"nope": "replace"})
    finally:
        con.close()


def test_reprocess_flow_imports_and_defines_its_stage_tasks() -> None:
    """Smoke: the reprocess flow imports, its own tasks are named as its stages, and both flows get
    their tasks and their task runner from the one shared module (no flow imports the other)."""
    import inspect

    from prefect import Flow

    from flows import ingest, reprocess, tasks

    assert isinstance(reprocess.reprocess, Flow)
    own = [tasks.stored_task, tasks.replay_task, tasks.identity_task, tasks.reprocess_prior_task,
           tasks.reprocess_stage_task]
    assert [t.name for t in own] == ["read-stored", "replay", "keep-identity", "read-prior", "stage"]
    for module in (ingest, reprocess):
        source = inspect.getsource(module)
        assert "from flows import tasks" in source and "tasks.task_runner(config)" in source
    assert "flows.ingest" not in inspect.getsource(reprocess)
