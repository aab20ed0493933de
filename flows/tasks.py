"""The thin Prefect tasks both flows run, the stage wrappers that count them, and the task runner.

Stage logic is pure and lives in `flows/stages/`; a task adds only its name and Prefect's run
record. The stage wrappers (`fetch`, `clean`, `dedup`, `extract`, `replay`) run a task on the
flow's task runner, time it, and record the counts its result reports (`result.counts(rows_in)`)
in the run summary. Tasks that read the warehouse (`lake`) run in the flow's own thread: a
warehouse connection never travels to a worker.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from prefect import task, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows import progress
from flows.config import CleanConfig, DedupConfig, ExtractConfig, FetchConfig, WirelakeConfig
from flows.records import Article, Item, Source, StageCount
from flows.run import Lake
from flows.run_records import EXTRACT_TABLES, Outcome, RunSummary, summary_markdown
from flows.stages import gate, load
from flows.stages import reprocess as reprocessing
from flows.stages.clean import Cleaned, clean_items, source_groups
from flows.stages.dedup import DedupResult, PriorIndex, deduplicate
from flows.stages.extract import ExtractPrior, ExtractResult
from flows.stages.extract import extract as extract_articles
from flows.stages.fetch import FetchResult, FetchState, fetch_all
from flows.stages.memory import return_freed_memory

# Clean runs as at most this many tasks, one per group of whole sources.
CLEAN_GROUPS = 4


def _stage_task(name: str):
    # Stage logic is pure; the task adds only naming and Prefect's run record.
    return task(name=name, cache_policy=NO_CACHE, persist_result=False)


def task_runner(config: WirelakeConfig):
    """A bounded thread pool, or a Dask cluster (an address, else a LocalCluster of processes)."""
    if config.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        if config.dask_address:
            return DaskTaskRunner(address=config.dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": config.dask_workers, "threads_per_worker": 1,
                                              "processes": True, "dashboard_address": None})
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=config.max_workers)


def on_runner(stage_task):
    """Run a pure stage on the flow's task runner (threads, or a Dask worker) and wait for it."""
    return lambda *args: stage_task.submit(*args).result()


# ------------------------------------------------------------------ tasks over the warehouse


@_stage_task("read-fetch-state")
def fetch_state_task(lake: Lake) -> FetchState:
    return load.read_fetch_state(lake)


@_stage_task("read-dedup-prior")
def dedup_prior_task(lake: Lake, cfg: WirelakeConfig, needed: bool) -> PriorIndex:
    return load.read_dedup_prior(lake, cfg, needed)


@_stage_task("read-extract-prior")
def extract_prior_task(lake: Lake, needed: bool) -> ExtractPrior:
    return load.read_extract_prior(lake, needed)


@_stage_task("read-stored")
def stored_task(lake: Lake, since: datetime | None) -> reprocessing.StoredSelection:
    return reprocessing.read_stored(lake, since)


@_stage_task("read-prior")
def reprocess_prior_task(lake: Lake, articles: list[Article]) -> ExtractPrior:
    """`reprocess_prior` over the warehouse's current tables."""
    if not articles:
        return ExtractPrior.empty()
    return reprocessing.reprocess_prior(load.reprocess_prior_tables(lake), {a.article_id for a in articles})


@_stage_task("replay")
def replay_task(selection, lake: Lake, cfg: FetchConfig) -> reprocessing.Replayed:
    return reprocessing.replay_items(selection, lake.warehouse.read_raw, cfg)


@_stage_task("stage")
def stage_task(lake: Lake, rows: load.RunRows, summary: RunSummary, cfg: WirelakeConfig) -> load.Staged:
    return load.stage_run(lake, rows, summary, cfg)


@_stage_task("stage")
def reprocess_stage_task(lake, summary, config, selection, articles, extracted, rejects, documents_read):
    tables = reprocessing.reprocess_tables(articles, selection, extracted, rejects, config, summary.run_id)
    return reprocessing.stage_reprocess(lake, summary, tables, documents_read)


@_stage_task("validate")
def validate_task(lake: Lake, staged: load.Staged, summary: RunSummary, cfg: WirelakeConfig) -> Outcome:
    return gate.validate_staged(lake, staged, summary, cfg)


@_stage_task("publish")
def publish_task(lake: Lake, staged: load.Staged, outcome: Outcome, summary: RunSummary,
                 cfg: WirelakeConfig) -> RunSummary:
    result = load.publish_run(lake, staged, outcome, summary, cfg)
    create_markdown_artifact(markdown=summary_markdown(result), key="wirelake-run-summary",
                             description=f"wirelake run {result.run_id}: {result.status}")
    return result


# ------------------------------------------------------------------ pure tasks (any worker)


@_stage_task("fetch")
def fetch_task(sources: list[Source], cfg: FetchConfig, state: FetchState) -> FetchResult:
    return fetch_all(sources, cfg, state=state)


@_stage_task("clean")
def clean_task(items: list[Item], cfg: CleanConfig) -> Cleaned:
    return Cleaned(*clean_items(items, cfg))


@_stage_task("dedup")
def dedup_task(articles: list[Article], prior: PriorIndex, cfg: DedupConfig) -> DedupResult:
    return deduplicate(articles, prior, cfg)


@_stage_task("keep-identity")
def identity_task(replayed: reprocessing.Replayed, cleaned: list[Article]) -> list[Article]:
    return reprocessing.keep_identity(replayed, cleaned)


@_stage_task("extract")
def extract_task(articles: list[Article], cfg: ExtractConfig, prior: ExtractPrior) -> ExtractResult:
    return extract_articles(articles, cfg, prior)


# ------------------------------------------------------------------ counted stages


def _counted(summary: RunSummary, stage: str, rows_in: int, run: Callable[..., Any], *args: Any,
             counts: Callable[[Any, int], StageCount] | None = None) -> Any:
    """Run one stage, timing it and recording the counts its result reports."""
    progress.stage_started(stage, rows_in)
    with summary.stage(stage) as count:
        result = run(*args)
    return_freed_memory()  # what the stage built and dropped must not stay resident for the rest of the run
    reported = counts(result, rows_in) if counts else result.counts(rows_in)
    count.rows_in, count.rows_out, count.rejected = rows_in, reported.rows_out, reported.rejected
    count.extra.update(reported.extra)
    progress.stage_finished(stage, count.rows_out)
    return result


def fetch(summary: RunSummary, sources: list[Source], cfg: FetchConfig, state: FetchState) -> FetchResult:
    fetched = _counted(summary, "fetch", len(sources), on_runner(fetch_task), sources, cfg, state)
    summary.fetched = len(fetched.documents)
    summary.source_health = fetched.source_health
    summary.note_decoding(fetched.documents)
    return fetched


def clean(summary: RunSummary, fetched: FetchResult, cfg: CleanConfig) -> Cleaned:
    """Clean the fetched items, one task per group of sources; then drop the items (their text is
    in the articles now)."""
    cleaned = _counted(summary, "clean", len(fetched.items), clean_by_source, fetched.items, cfg)
    fetched.items = []
    return_freed_memory()
    return cleaned


def clean_by_source(items: list[Item], cfg: CleanConfig) -> Cleaned:
    """Clean in parallel, one task per group of sources (boilerplate is learnt per source).

    Groups are contiguous runs of the fetch order, so concatenating the results keeps the
    input order that dedup relies on (the first copy wins).
    """
    articles, rejects = [], []
    for future in clean_task.map(source_groups(items, max_groups=CLEAN_GROUPS), unmapped(cfg)):
        got = future.result()
        articles += got.articles
        rejects += got.rejects
    return Cleaned(articles, rejects)


def dedup(summary: RunSummary, articles: list[Article], prior: PriorIndex, cfg: DedupConfig) -> DedupResult:
    deduped = _counted(summary, "dedup", len(articles), on_runner(dedup_task), articles, prior, cfg)
    summary.new = summary.stages["dedup"].rows_out
    summary.duplicates = deduped.exact + deduped.near
    return deduped


def extract_counts(result: ExtractResult, rows_in: int) -> StageCount:
    # ExtractResult lives in flows/stages/extract/ (rewritten in another issue): counted here for now.
    rejected = len(result.rejects)
    return StageCount(rows_in, rows_out=rows_in - rejected, rejected=rejected,
                      extra={name: getattr(result, name).num_rows for name in EXTRACT_TABLES})


def extract(summary: RunSummary, articles: list[Article], cfg: ExtractConfig, prior: ExtractPrior) -> ExtractResult:
    return _counted(summary, "extract", len(articles), on_runner(extract_task), articles, cfg, prior,
                    counts=extract_counts)


def replay(summary: RunSummary, selection: reprocessing.StoredSelection, lake: Lake,
           cfg: FetchConfig) -> reprocessing.Replayed:
    return _counted(summary, "replay", len(selection.articles), replay_task, selection, lake, cfg)


def clean_all(summary: RunSummary, items: list[Item], cfg: CleanConfig) -> Cleaned:
    """Clean as one task (a reprocess cleans the stored batch as a whole)."""
    return _counted(summary, "clean", len(items), on_runner(clean_task), items, cfg)
