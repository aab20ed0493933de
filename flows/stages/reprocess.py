"""Reprocess: clean → extract again from the raw store, keeping every article's identity.

`flows/tasks.py` wraps these in tasks. A reprocess reads no network: each stored
article's item is rebuilt from its document's raw bytes (`fetchers/replay.py`), cleaned
and extracted by today's code, and written back over the stored rows.

Identity. An article keeps its stored `article_id` (and `run_id`, the run that first stored
it), its dedup marks (`duplicate_of`, `near_duplicate_of`, `similarity`) and its
`fetched_at`; everything clean decides (text, word_count, content_hash, title, language,
dateline, ...) is replaced. The stored title, author, published_at and url are passed to
clean as hints, as the feed entry or record that came with the document once did.

Counts. Extraction counts (events' article_count/source_count, stories' members, entity
aliases) are computed against a prior from which everything the reprocessed articles
contributed is removed (`reprocess_prior`), so the reprocessed articles are counted once,
as in a clean run. Reprocessing everything therefore extracts as one clean run over the
same articles would.

Limits, by design or for later:
* A stored article that clean now rejects keeps its stored row (the reject says why).
* Rows are replaced by key only: a reprocessed article whose new extraction has no quotes
  (or event mentions) keeps its old ones, and an event, entity or story that no article
  mentions any more stays as it was. With no code change there are none of either.
* Boilerplate lines are learnt per source over the batch, so `--since` (a smaller batch)
  may clean an article differently from the ingest that stored it.

Functions that take a `Lake` read the warehouse; the others are pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from flows import progress
from flows.config import FetchConfig, WirelakeConfig
from flows.records import Article, Item, Reject, StageCount, as_utc
from flows.run import Lake
from flows.run_records import RunSummary, articles_table, extract_tables, rejects_table, signatures_table
from flows.stages.dedup import minhash_signatures
from flows.stages.extract import ExtractPrior, ExtractResult
from flows.stages.fetchers.replay import STAGE, items_from_stored
from warehouse.store import StagedRun

# What clean decides anew; every other article column is the stored article's identity.
HINT_COLUMNS = ("title", "author", "published_at", "url")
# The stored rows are rewritten under their own keys.
REPROCESS_RULES = {"articles": "replace", "article_signatures": "replace"}


@dataclass
class StoredSelection:
    """The stored articles to reprocess, in the order they were stored, and their documents."""

    articles: list[dict[str, Any]] = field(default_factory=list)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)  # doc_id -> documents row
    signed: set[str] = field(default_factory=set)  # article_ids with a stored MinHash signature


class Replayed(NamedTuple):
    """Items rebuilt from the raw store; `stored[i]` is the stored article `items[i]` rebuilds.

    """

    items: list[Item]
    rejects: list[Reject]
    stored: list[dict[str, Any]]
    documents: int  # distinct documents read from the raw store

    def counts(self, rows_in: int) -> StageCount:
        return StageCount(rows_in, rows_out=len(self.items), rejected=len(self.rejects),
                          extra={"documents": self.documents})


def since_datetime(value: str | None) -> datetime | None:
    """`--since` as an aware UTC datetime: an ISO date (midnight UTC) or date-time (naive = UTC)."""
    if value is None or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"--since {value!r}: not an ISO date; write e.g. 2024-03-01 "
                         "or 2024-03-01T12:00") from None
    return as_utc(parsed)


def read_stored(lake: Lake, since: datetime | None) -> StoredSelection:
    """The stored articles whose document was fetched at or after `since` (all when None)."""
    con = lake.con
    # Stored (insertion) order, so the batch is the one the ingest cleaned and extracted.
    if since is None:
        articles = con.execute("SELECT * FROM articles ORDER BY rowid").to_arrow_table()
    else:
        articles = con.execute(
            "SELECT * FROM articles WHERE doc_id IN (SELECT doc_id FROM documents WHERE fetched_at >= ?) "
            "ORDER BY rowid", [since]).to_arrow_table()
    rows = articles.to_pylist()
    doc_ids = {row["doc_id"] for row in rows}
    documents = {doc["doc_id"]: doc for doc in lake.warehouse.read_table(con, "documents").to_pylist()
                 if doc["doc_id"] in doc_ids}
    ids = {row["article_id"] for row in rows}
    signed = {a for a in lake.warehouse.read_table(con, "article_signatures", ["article_id"])
              .column("article_id").to_pylist() if a in ids}
    return StoredSelection(articles=rows, documents=documents, signed=signed)


def replay_items(selection: StoredSelection, read_raw: Callable[[str], bytes], cfg: FetchConfig) -> Replayed:
    """Rebuild each stored article's item from its document's raw bytes; one failure never stops the rest.

    `read_raw(sha256)` returns a document's stored bytes (`Warehouse.read_raw`); each
    document is read once however many articles it holds.
    """
    items: list[Item] = []
    stored: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    bodies: dict[str, bytes | Reject] = {}
    for row in selection.articles:
        where = row.get("item_uri") or row["article_id"]
        doc = selection.documents.get(row["doc_id"])
        if doc is None:
            rejects.append(Reject(row["source"], where, STAGE, f"article {row['article_id']}: its document "
                                                               f"{row['doc_id']} has no documents row"))
            continue
        if not row.get("item_uri"):
            rejects.append(Reject(row["source"], doc["uri"], STAGE,
                                  f"article {row['article_id']} (document {doc['doc_id']}, {doc['uri']}): "
                                  "no item_uri stored, so the item cannot be found in its document again"))
            continue
        body = bodies.get(doc["doc_id"])
        if body is None:
            body = bodies[doc["doc_id"]] = _read_body(doc, read_raw)
        if isinstance(body, Reject):
            rejects.append(replace(body, input=row["item_uri"]))
            continue
        item = items_from_stored(doc, body, row["item_uri"], cfg)
        if isinstance(item, Reject):
            rejects.append(item)
            continue
        items.append(with_stored_hints(item, row))
        stored.append(row)
    documents = sum(1 for body in bodies.values() if not isinstance(body, Reject))
    return Replayed(items=items, rejects=rejects, stored=stored, documents=documents)


def _read_body(doc: Mapping[str, Any], read_raw: Callable[[str], bytes]) -> bytes | Reject:
    try:
        return read_raw(doc["sha256"])
    except OSError as exc:
        return Reject(doc["source"], doc["uri"], STAGE,
                      f"document {doc['doc_id']} ({doc['uri']}): raw bytes sha256 {doc['sha256']} "
                      f"are missing from the raw store ({exc.strerror or type(exc).__name__}); "
                      "restore <warehouse>/raw from a backup, or fetch the source again with `wirelake run`")


def with_stored_hints(item: Item, row: Mapping[str, Any]) -> Item:
    """The item with the stored article's title, author, published_at and url where it has them.

    They may have come from outside the document (a feed entry whose page is the
    document), so the document alone cannot give them back. `fetched_at` is the
    article's own: a document read again by a later run keeps its first fetch time.
    """
    hints = {name: row[name] for name in HINT_COLUMNS if row.get(name) is not None}
    if row.get("fetched_at") is not None:
        hints["fetched_at"] = row["fetched_at"]
    return replace(item, **hints)


def keep_identity(replayed: Replayed, cleaned: list[Article]) -> list[Article]:
    """Give each cleaned article its stored article's key, dedup marks and fetch time.

    `clean_items` returns articles in item order with the rejected items left out, so
    walking both lists in step pairs each article with the item (and stored row) it came from.
    """
    restored: list[Article] = []
    position = 0
    for article in cleaned:
        while position < len(replayed.items) and not _same_item(replayed.items[position], article):
            position += 1  # this item was rejected by clean
        if position == len(replayed.items):
            raise RuntimeError(f"reprocess: cleaned article {article.item_uri} matches no replayed item; "
                               "clean_items must keep its input order")
        row = replayed.stored[position]
        position += 1
        restored.append(replace(article, article_id=row["article_id"], duplicate_of=row.get("duplicate_of"),
                                near_duplicate_of=row.get("near_duplicate_of"),
                                similarity=row.get("similarity"),
                                fetched_at=row.get("fetched_at") or article.fetched_at))
    return restored


def _same_item(item: Item, article: Article) -> bool:
    return item.doc_id == article.doc_id and item.uri == article.item_uri


def reprocess_prior(tables: Mapping[str, pa.Table], article_ids: set[str]) -> ExtractPrior:
    """The extract prior as if the articles `article_ids` had never been extracted.

    `tables` are the warehouse's entities, events, event_arguments, event_mentions, stories,
    article_stories, articles (article_id, source, published_at, fetched_at, title),
    entity_mentions and quotes. Their rows of `article_ids` go; then events no article
    mentions any more (and their arguments), stories with no member left, and entities
    nothing refers to. Rows that other articles share (an event also reported elsewhere)
    stay, with their stored names and first/last seen.
    """
    gone = pa.array(sorted(article_ids), pa.string())

    def without(table: pa.Table, column: str, values: pa.Array) -> pa.Table:
        return table.filter(pc.invert(pc.is_in(table[column], value_set=values)))

    def only(table: pa.Table, column: str, values: pa.Array) -> pa.Table:
        return table.filter(pc.is_in(table[column], value_set=values))

    event_mentions = without(tables["event_mentions"], "article_id", gone)
    article_stories = without(tables["article_stories"], "article_id", gone)
    live_events = pc.unique(event_mentions["event_id"])
    events = only(tables["events"], "event_id", live_events)
    event_arguments = only(tables["event_arguments"], "event_id", live_events)
    stories = only(tables["stories"], "story_id", pc.unique(article_stories["story_id"]))
    referenced = set(without(tables["entity_mentions"], "article_id", gone)["entity_id"].to_pylist())
    referenced |= set(without(tables["quotes"], "article_id", gone)["speaker_entity_id"].to_pylist())
    referenced |= set(event_arguments["entity_id"].to_pylist())
    referenced.discard(None)
    return ExtractPrior.from_arrow({
        "entities": only(tables["entities"], "entity_id", pa.array(sorted(referenced), pa.string())),
        "events": events,
        "event_arguments": event_arguments,
        "event_mentions": event_mentions,
        "stories": stories,
        "article_stories": article_stories,
        "articles": without(tables["articles"], "article_id", gone),
    })


def reprocess_tables(articles: list[Article], selection: StoredSelection, extracted: ExtractResult | None,
                     rejects: list[Reject], config: WirelakeConfig, run_id: str) -> dict[str, pa.Table]:
    """The reprocess run's rows per table: articles (under their stored run_id), signatures, extraction."""
    first_run = {row["article_id"]: row["run_id"] for row in selection.articles}
    table = articles_table(articles, run_id)
    table = table.set_column(table.schema.get_field_index("run_id"), table.schema.field("run_id"),
                             pa.array([first_run[a.article_id] for a in articles], pa.string()))
    # Only first copies have a signature; a new text needs a new one for later runs' near-duplicate checks.
    signed = [a for a in articles if a.article_id in selection.signed]
    knobs = config.dedup
    signatures = minhash_signatures([a.text for a in signed], knobs)
    tables = {
        "articles": table,
        "article_signatures": signatures_table(
            list(zip([a.article_id for a in signed], signatures, strict=True)),
            knobs.num_perm, knobs.seed, knobs.shingle_size),
    }
    if extracted is not None:
        tables.update(extract_tables(extracted))
        rejects = [*rejects, *extracted.rejects]
    tables["rejects"] = rejects_table(rejects, run_id)
    return tables


ARTICLE_SCOPED = ("entity_mentions", "event_mentions", "quotes", "article_stories")


def stage_reprocess(lake: Lake, summary: RunSummary, tables: dict[str, pa.Table],
                    documents_read: int) -> tuple[StagedRun, dict[str, bytes]]:
    """Stage the rows with articles and signatures replaced by key; no raw bytes are new."""
    progress.stage_started("stage")
    with summary.stage("stage") as count:
        staged = lake.warehouse.stage(lake.con, tables, rules=REPROCESS_RULES)
        rewritten = staged.tables["articles"].column("article_id").to_pylist() if "articles" in staged.tables else []
        if rewritten:
            # Re-extraction is the whole truth for these articles: mentions, quotes and story
            # links it no longer finds must go, not linger from the earlier run.
            staged.scopes.update({name: rewritten for name in ARTICLE_SCOPED})
    count.rows_in = sum(t.num_rows for t in tables.values())
    count.rows_out = sum(t.num_rows for t in staged.tables.values())
    count.extra["articles_rewritten"] = staged.rows("articles")
    summary.fetched = documents_read
    summary.rejected = staged.rows("rejects")
    progress.stage_finished("stage", count.rows_out)
    return staged, {}
