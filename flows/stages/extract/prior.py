"""What the warehouse already holds, as far as extraction needs it (cross-run merging and counts)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from flows.stages.extract.gazetteer import EntityRef

PRIOR_TABLES = (
    "entities",
    "events",
    "event_arguments",
    "event_mentions",
    "stories",
    "article_stories",
    "articles",
)


@dataclass
class PriorArticle:
    article_id: str
    source: str | None
    published_at: datetime | None
    fetched_at: datetime | None
    title: str | None

    @property
    def seen_at(self) -> datetime | None:
        return as_utc(self.published_at or self.fetched_at)


@dataclass
class ExtractPrior:
    entities: dict[str, dict] = field(default_factory=dict)
    events: dict[str, dict] = field(default_factory=dict)
    event_arguments: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    event_mentions: dict[str, list[dict]] = field(default_factory=dict)  # event_id -> rows
    event_mentions_by_article: dict[str, list[dict]] = field(default_factory=dict)
    stories: dict[str, dict] = field(default_factory=dict)
    article_stories: dict[str, str] = field(default_factory=dict)
    articles: dict[str, PriorArticle] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> ExtractPrior:
        return cls()

    @classmethod
    def from_arrow(cls, tables: dict[str, pa.Table]) -> ExtractPrior:
        """Build from the warehouse's current tables; a missing table counts as empty."""
        unknown = set(tables) - set(PRIOR_TABLES)
        if unknown:
            raise ValueError(
                f"ExtractPrior.from_arrow: unexpected tables {sorted(unknown)}; expected {PRIOR_TABLES}"
            )

        def rows(name: str) -> list[dict]:
            table = tables.get(name)
            return table.to_pylist() if table is not None else []

        prior = cls()
        for row in rows("entities"):
            prior.entities[row["entity_id"]] = row
        for row in rows("events"):
            prior.events[row["event_id"]] = row
        arguments: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for row in rows("event_arguments"):
            arguments[row["event_id"]].append((row["role"], row["entity_id"]))
        prior.event_arguments = dict(arguments)
        by_event: dict[str, list[dict]] = defaultdict(list)
        by_article: dict[str, list[dict]] = defaultdict(list)
        for row in rows("event_mentions"):
            by_event[row["event_id"]].append(row)
            by_article[row["article_id"]].append(row)
        prior.event_mentions, prior.event_mentions_by_article = dict(by_event), dict(by_article)
        for row in rows("stories"):
            prior.stories[row["story_id"]] = row
        for row in rows("article_stories"):
            prior.article_stories[row["article_id"]] = row["story_id"]
        for row in rows("articles"):
            prior.articles[row["article_id"]] = PriorArticle(
                row["article_id"],
                row.get("source"),
                row.get("published_at"),
                row.get("fetched_at"),
                row.get("title"),
            )
        return prior

    def entity_ref(self, entity_id: str) -> EntityRef | None:
        row = self.entities.get(entity_id)
        if row is None:
            return None
        kind = "state" if row.get("country_code") and row["type"] == "GPE" else None
        return EntityRef(row["name"], row["type"], row.get("country_code"), row.get("wikidata_id"), kind)

    def entity_refs(self) -> list[EntityRef]:
        return [ref for entity_id in self.entities if (ref := self.entity_ref(entity_id)) is not None]


def as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # naive timestamps in the warehouse are UTC
    return value.astimezone(UTC)
