"""Arrow schemas of the extraction tables (columns exactly as warehouse/schema/*.sql) and the result type."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from flows.records import Reject

TIMESTAMP = pa.timestamp("us", tz="UTC")
STRINGS = pa.list_(pa.string())

SCHEMAS: dict[str, pa.Schema] = {
    "entities": pa.schema(
        [
            pa.field("entity_id", pa.string(), nullable=False),
            pa.field("name", pa.string(), nullable=False),
            pa.field("type", pa.string(), nullable=False),
            pa.field("country_code", pa.string()),
            pa.field("wikidata_id", pa.string()),
            pa.field("aliases", STRINGS),
        ]
    ),
    "entity_mentions": pa.schema(
        [
            pa.field("article_id", pa.string(), nullable=False),
            pa.field("entity_id", pa.string(), nullable=False),
            pa.field("mention", pa.string(), nullable=False),
            pa.field("label", pa.string(), nullable=False),
            pa.field("sentence_index", pa.int32(), nullable=False),
            pa.field("start_char", pa.int32(), nullable=False),
            pa.field("end_char", pa.int32(), nullable=False),
        ]
    ),
    "events": pa.schema(
        [
            pa.field("event_id", pa.string(), nullable=False),
            pa.field("event_type", pa.string(), nullable=False),
            pa.field("name", pa.string()),
            pa.field("short_name", pa.string()),
            pa.field("status", pa.string()),
            pa.field("event_date", pa.date32()),
            pa.field("location", pa.string()),
            pa.field("signatories", STRINGS),
            pa.field("signatory_codes", STRINGS),
            pa.field("signers", STRINGS),
            pa.field("story_id", pa.string()),
            pa.field("article_count", pa.int32(), nullable=False),
            pa.field("source_count", pa.int32(), nullable=False),
            pa.field("first_seen", TIMESTAMP),
            pa.field("last_seen", TIMESTAMP),
        ]
    ),
    "event_arguments": pa.schema(
        [
            pa.field("event_id", pa.string(), nullable=False),
            pa.field("role", pa.string(), nullable=False),
            pa.field("entity_id", pa.string(), nullable=False),
        ]
    ),
    "event_mentions": pa.schema(
        [
            pa.field("event_id", pa.string(), nullable=False),
            pa.field("article_id", pa.string(), nullable=False),
            pa.field("sentence", pa.string(), nullable=False),
            pa.field("start_char", pa.int32(), nullable=False),
            pa.field("end_char", pa.int32(), nullable=False),
            pa.field("status_in_article", pa.string()),
            pa.field("confidence", pa.float64(), nullable=False),
        ]
    ),
    "quotes": pa.schema(
        [
            pa.field("article_id", pa.string(), nullable=False),
            pa.field("speaker_entity_id", pa.string()),
            pa.field("text", pa.string(), nullable=False),
            pa.field("start_char", pa.int32(), nullable=False),
            pa.field("end_char", pa.int32(), nullable=False),
        ]
    ),
    "stories": pa.schema(
        [
            pa.field("story_id", pa.string(), nullable=False),
            pa.field("title", pa.string()),
            pa.field("first_seen", TIMESTAMP),
            pa.field("last_seen", TIMESTAMP),
            pa.field("article_count", pa.int32(), nullable=False),
        ]
    ),
    "article_stories": pa.schema(
        [
            pa.field("article_id", pa.string(), nullable=False),
            pa.field("story_id", pa.string(), nullable=False),
        ]
    ),
}
TABLE_NAMES = tuple(SCHEMAS)


def to_table(name: str, rows: list[dict]) -> pa.Table:
    schema = SCHEMAS[name]
    columns = {f.name: [row.get(f.name) for row in rows] for f in schema}
    return pa.Table.from_pydict(columns, schema=schema)


@dataclass
class ExtractResult:
    """One Arrow table per extraction table, plus the articles that failed.

    Write rules (docs/architecture.md): entities/events/stories rows replace rows with the same id
    (they are full, updated rows); entity_mentions/event_mentions/quotes/article_stories replace all
    rows of their article_id; event_arguments replace all rows of their event_id.
    """

    entities: pa.Table
    entity_mentions: pa.Table
    events: pa.Table
    event_arguments: pa.Table
    event_mentions: pa.Table
    quotes: pa.Table
    stories: pa.Table
    article_stories: pa.Table
    rejects: list[Reject] = field(default_factory=list)
    # rows in / out / dropped with reasons, for the run summary
    counts: dict[str, int] = field(default_factory=dict)

    def tables(self) -> dict[str, pa.Table]:
        return {name: getattr(self, name) for name in TABLE_NAMES}

    @classmethod
    def empty(cls) -> ExtractResult:
        return cls(**{name: to_table(name, []) for name in TABLE_NAMES})


class TableBuilder:
    """Rows appended one by one become one Arrow table, converted in slices of `slice_rows`.

    A large run has hundreds of thousands of mention rows; as Python dicts they cost ~10x their
    Arrow size, so they are never all held at once.
    """

    def __init__(self, name: str, slice_rows: int = 20_000) -> None:
        self.name, self.slice_rows = name, slice_rows
        self._rows: list[dict] = []
        self._slices: list[pa.Table] = []

    def append(self, row: dict) -> None:
        self._rows.append(row)
        if len(self._rows) >= self.slice_rows:
            self._flush()

    def extend(self, rows) -> None:
        for row in rows:
            self.append(row)

    def _flush(self) -> None:
        if self._rows:
            self._slices.append(to_table(self.name, self._rows))
            self._rows = []

    def table(self) -> pa.Table:
        self._flush()
        if not self._slices:
            return to_table(self.name, [])
        return pa.concat_tables(self._slices).combine_chunks()
