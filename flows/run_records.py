"""Run bookkeeping: per-stage counts, the run summary and record → Arrow conversion.

Pure helpers the flow uses between stages; no Prefect here.
"""

from __future__ import annotations

import html
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from flows.records import Article, RawDocument, Reject, StageCount
from warehouse.store import arrow_schema, to_arrow

EXIT_OK, EXIT_ERROR, EXIT_NOT_PUBLISHED, EXIT_DEGRADED = 0, 1, 2, 3
# The tables an extraction result fills, each an attribute of `ExtractResult` of the same name.
EXTRACT_TABLES = ("entities", "entity_mentions", "events", "event_arguments", "event_mentions",
                  "quotes", "stories", "article_stories")


def new_run_id() -> str:
    # Time-ordered, so `ORDER BY run_id` is chronological.
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


@dataclass
class RunSummary:
    run_id: str
    kind: str
    started_at: datetime
    config_hash: str
    config_json: str
    stages: dict[str, StageCount] = field(default_factory=dict)
    finished_at: datetime | None = None
    status: str = "running"
    message: str | None = None
    fetched: int = 0
    rejected: int = 0
    new: int = 0
    duplicates: int = 0
    validation: list[dict[str, Any]] = field(default_factory=list)
    snapshot_id: int | None = None
    # This run's documents whose charset was overridden or guessed, or whose feed parse was
    # bozo (see `decoding_rows`); shown in the summary so a mislabelled source gets noticed.
    # None: not recorded (a run that fetched nothing), and the summary says nothing about it.
    decoding: list[dict[str, Any]] | None = None
    # Per configured source: status (ok | partial | empty | failed), items, rejects (see flows/health.py).
    # None: the run fetched nothing (a reprocess).
    source_health: list[dict[str, Any]] | None = None

    def stage(self, name: str) -> StageTimer:
        return StageTimer(self.stages.setdefault(name, StageCount()))

    def note_decoding(self, documents: list[RawDocument]) -> None:
        """Keep the decoding notes of the documents this run fetched (for `summary_markdown`)."""
        self.decoding = decoding_rows(documents)

    @property
    def exit_code(self) -> int:
        if self.status in ("published", "no_new_data"):
            return EXIT_OK
        if self.status == "not_published":
            return EXIT_NOT_PUBLISHED
        if self.status == "degraded":
            return EXIT_DEGRADED
        return EXIT_ERROR

    def stage_counts_json(self) -> str:
        return json.dumps({k: v.as_dict() for k, v in self.stages.items()}, sort_keys=False)

    def runs_row(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "kind": self.kind, "started_at": self.started_at,
            "finished_at": self.finished_at, "status": self.status, "config_hash": self.config_hash,
            "config_json": self.config_json, "fetched": self.fetched, "rejected": self.rejected,
            "new": self.new, "duplicates": self.duplicates, "stage_counts": self.stage_counts_json(),
            "message": self.message, "snapshot_id": self.snapshot_id,
            "source_health": json.dumps(self.source_health) if self.source_health is not None else None,
        }


def summary_markdown(summary: RunSummary) -> str:
    """The run summary as Markdown, for the Prefect artifact people see in the UI."""
    lines = [f"# wirelake run `{summary.run_id}`: **{summary.status}**", ""]
    if summary.message:
        lines += [summary.message, ""]
    lines += ["| stage | in | out | rejected | seconds |", "|---|---:|---:|---:|---:|"]
    for name, c in summary.stages.items():
        lines.append(f"| {name} | {c.rows_in} | {c.rows_out} | {c.rejected} | {c.seconds:.2f} |")
    failed = [r for r in summary.validation if not r.get("success")]
    lines += ["", f"**Validation:** {len(summary.validation) - len(failed)} of {len(summary.validation)} "
                  "expectations passed.", ""]
    if failed:
        lines += ["| suite | expectation | severity | unexpected |", "|---|---|---|---:|"]
        lines += [f"| {r['suite']} | {r['expectation']} | {r['severity']} | {r.get('unexpected_count')} |"
                  for r in failed]
    if summary.decoding is not None:
        lines += ([""] if lines[-1] else []) + decoding_markdown(summary.decoding)
    return "\n".join(lines)


# At most this many documents are listed in the summary; the count covers them all.
DECODING_ROWS_SHOWN = 20


def decoding_rows(documents: list[RawDocument]) -> list[dict[str, Any]]:
    """Documents whose charset was not simply the declared one, or whose feed parse was bozo."""
    return [{"source": d.source, "uri": d.uri, "encoding": d.encoding, "encoding_note": d.encoding_note,
             "parse_warning": d.parse_warning}
            for d in documents if d.encoding_note or d.parse_warning]


def decoding_markdown(rows: list[dict[str, Any]]) -> list[str]:
    """The summary's decoding lines: one line when there is nothing to say, else a short table."""
    if not rows:
        return ["**Decoding:** every document read as its declared charset; no feed parse warnings."]
    lines = [f"**Decoding:** {len(rows)} document(s) with an overridden or guessed charset or a feed "
             "parse warning.", "", "| source | uri | encoding | note / warning |", "|---|---|---|---|"]
    for row in rows[:DECODING_ROWS_SHOWN]:
        said = " · ".join(filter(None, [row.get("encoding_note"), row.get("parse_warning")]))
        cells = (row["source"], row["uri"], row.get("encoding"), said)
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    if len(rows) > DECODING_ROWS_SHOWN:
        lines.append(f"| … | {len(rows) - DECODING_ROWS_SHOWN} more | | |")
    return lines


def _md_cell(value: object) -> str:
    # Notes quote labels and parser messages ("<unknown>:2:7: ..."): one cell, no markup.
    text = "" if value is None else " ".join(str(value).split())
    text = text if len(text) <= 300 else text[:299] + "…"
    return html.escape(text, quote=False).replace("\\", "\\\\").replace("|", "\\|")


class StageTimer:
    """`with summary.stage("clean") as count:` times the block and exposes its StageCount."""

    def __init__(self, count: StageCount):
        self.count = count
        self._t0 = 0.0

    def __enter__(self) -> StageCount:
        self._t0 = time.perf_counter()
        return self.count

    def __exit__(self, *exc: object) -> None:
        self.count.seconds += time.perf_counter() - self._t0


def _fields(obj: object, names: list[str]) -> dict[str, Any]:
    return {n: getattr(obj, n, None) for n in names}


def documents_table(docs: list[RawDocument], run_id: str) -> pa.Table:
    names = ["doc_id", "source", "uri", "fetched_at", "http_status", "content_type", "sha256", "bytes",
             "encoding", "encoding_note", "parse_warning"]
    return to_arrow("documents", [{**_fields(d, names), "run_id": run_id} for d in docs])


def articles_table(articles: list[Article], run_id: str) -> pa.Table:
    names = ["article_id", "doc_id", "source", "url", "title", "author", "published_at", "language",
             "dateline", "text", "word_count", "content_hash", "duplicate_of", "near_duplicate_of",
             "similarity", "fetched_at", "site_name", "canonical_url", "item_uri", "authors"]
    return to_arrow("articles", [{**_fields(a, names), "run_id": run_id} for a in articles])


def rejects_table(rejects: list[Reject], run_id: str) -> pa.Table:
    return to_arrow("rejects", [{"run_id": run_id, "source": r.source, "input": r.input,
                                 "stage": r.stage, "error": r.error} for r in rejects])


def signatures_table(signatures: list[tuple[str, Any]], num_perm: int, seed: int, shingle_size: int) -> pa.Table:
    """MinHash signatures as a list<uint64> column, built from one numpy block (no per-value Python)."""
    import numpy as np

    schema = arrow_schema("article_signatures")
    n = len(signatures)
    flat = np.concatenate([np.asarray(s, dtype=np.uint64) for _, s in signatures]) if n else np.array([], np.uint64)
    offsets = np.arange(0, (n + 1) * num_perm, num_perm, dtype=np.int32)
    column = pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=pa.uint64()))
    return pa.table({
        "article_id": pa.array([aid for aid, _ in signatures], pa.string()),
        "num_perm": pa.array([num_perm] * n, pa.int32()),
        "seed": pa.array([seed] * n, pa.int32()),
        "shingle_size": pa.array([shingle_size] * n, pa.int32()),
        "signature": column.cast(schema.field("signature").type),
    }, schema=schema)


def extract_tables(extracted: Any) -> dict[str, pa.Table]:
    """An `ExtractResult`'s rows per table."""
    return {name: getattr(extracted, name) for name in EXTRACT_TABLES}


@dataclass
class Outcome:
    """What validation decided for a staged run."""

    results: list[dict[str, Any]] = field(default_factory=list)
    critical_failed: bool = False
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    docs_index: Path | None = None
