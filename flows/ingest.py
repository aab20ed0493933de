"""The ingestion flow: fetch → clean → dedup → extract → stage → validate → publish.

Each stage is one thin task over a whole batch (never one task per article): the stage
logic lives in `flows/stages/`, the warehouse logic in `warehouse/store.py`, and the
bookkeeping in `flows/run_records.py`. The flow holds the warehouse's write lock for
the whole run, so two runs never interleave their reads and writes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from prefect import flow, task, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.config import WirelakeConfig
from flows.health import final_state, summary_from_state
from flows.notify import notify_hook
from flows.ops_logging import log_summary
from flows.records import Source
from flows.run_records import RunSummary, new_run_id, summary_markdown
from flows.stages import load
from flows.stages.clean import clean_items
from flows.stages.dedup import deduplicate
from flows.stages.extract import extract, start_ner
from flows.stages.fetch import fetch_all


def _stage_task(name: str):
    # Stage logic is pure; the task adds only naming and Prefect's run record.
    return task(name=name, cache_policy=NO_CACHE, persist_result=False)


def on_runner(stage_task):
    """Run a pure stage on the flow's task runner (threads, or a Dask worker) and wait for it."""
    return lambda *args: stage_task.submit(*args).result()


@_stage_task("fetch")
def fetch_task(sources, cfg, state):
    return fetch_all(sources, cfg, state=state)


@_stage_task("clean")
def clean_task(items, cfg):
    return clean_items(items, cfg)


@_stage_task("read-fetch-state")
def fetch_state_task(lake):
    return load.read_fetch_state(lake)


@_stage_task("read-dedup-prior")
def dedup_prior_task(lake, cfg, needed):
    return load.read_dedup_prior(lake, cfg, needed)


@_stage_task("read-extract-prior")
def extract_prior_task(lake, needed):
    return load.read_extract_prior(lake, needed)


@_stage_task("dedup")
def dedup_task(articles, prior, cfg):
    return deduplicate(articles, prior, cfg)


@_stage_task("extract")
def extract_task(articles, cfg, prior):
    return extract(articles, cfg, prior)


@_stage_task("stage")
def stage_task(lake, batch):
    return load.stage_batch(lake, batch)


@_stage_task("validate")
def validate_task(lake, staged, summary, cfg):
    return load.validate_staged(lake, staged, summary, cfg)


@_stage_task("publish")
def publish_task(lake, staged, outcome, summary, cfg):
    result = load.publish_run(lake, staged, outcome, summary, cfg)
    create_markdown_artifact(markdown=summary_markdown(result), key="wirelake-run-summary",
                             description=f"wirelake run {result.run_id}: {result.status}")
    return result


def fetch_config(config: WirelakeConfig):
    """Fetching may not outlive the run: its stage deadline is capped by the run's timeout."""
    deadline = min(config.fetch.stage_deadline_seconds, config.run_timeout_seconds)
    return config.fetch.model_copy(update={"stage_deadline_seconds": deadline})


def lock_holder() -> str:
    """How this run names itself in the warehouse's lock file."""
    from prefect.runtime import flow_run

    return f"flow_run {flow_run.id}" if flow_run.id else ""


def reconcile_crashed(stale_holder: str) -> None:
    """A run that died holding the write lock is still RUNNING in Prefect: mark it Crashed.

    Only a holder that never released the lock leaves its name in the lock file, so this never
    touches a run that is alive (a live holder would still hold the lock we now hold).
    """
    match = re.search(r"flow_run ([0-9a-f-]{36})", stale_holder)
    if not match:
        return
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    with get_client(sync_client=True) as client:
        stale = client.read_flow_run(match.group(1))
        if stale.state is not None and not stale.state.is_final():
            client.set_flow_run_state(stale.id, Crashed(message="died while holding the warehouse write lock; "
                                                        "nothing it staged was published"), force=True)


def warm_up_extract(config: WirelakeConfig, batch: load.Batch) -> None:
    """With items to clean, start spaCy's NER process now: its model loads while clean and dedup run."""
    if batch.fetched.items and config.task_runner == "thread":
        start_ner(config.extract)


def warm_up_validation(batch: load.Batch) -> None:
    """With new articles, import Great Expectations in the background while extract runs."""
    if batch.new_articles:
        load.preload_validation()


def clean_by_source(items, cfg):
    """Clean in parallel, one task per group of sources (boilerplate is learnt per source).

    Groups are contiguous runs of the fetch order, so concatenating the results keeps the
    input order that dedup relies on (the first copy wins).
    """
    groups = load.source_groups(items, max_groups=4)
    futures = clean_task.map(groups, unmapped(cfg))
    articles, rejects = [], []
    for future in futures:
        got_articles, got_rejects = future.result()
        articles += got_articles
        rejects += got_rejects
    return articles, rejects


@flow(name="wirelake-ingest", log_prints=True, on_failure=[notify_hook], on_crashed=[notify_hook])
def ingest(config: WirelakeConfig, sources: list[Source]) -> dict:
    summary = RunSummary(run_id=new_run_id(), kind="ingest", started_at=datetime.now(UTC),
                         config_hash=config.config_hash(), config_json=config.model_dump_json())
    with load.open_lake(config, summary, holder=lock_holder()) as lake:
        reconcile_crashed(lake.stale_holder)
        batch = load.Batch(summary, config)
        batch.fetched = load.counted(summary, "fetch", len(sources), on_runner(fetch_task), sources,
                                     fetch_config(config), fetch_state_task(lake))
        warm_up_extract(config, batch)
        batch.cleaned = load.counted(summary, "clean", len(batch.fetched.items), clean_by_source,
                                     batch.fetched.items, config.clean)
        batch.release_items()
        batch.deduped = load.counted(summary, "dedup", len(batch.cleaned[0]), on_runner(dedup_task),
                                     batch.cleaned[0], dedup_prior_task(lake, config, bool(batch.cleaned[0])),
                                     config.dedup)
        warm_up_validation(batch)
        batch.extracted = load.counted(summary, "extract", len(batch.new_articles), on_runner(extract_task),
                                       batch.new_articles, config.extract,
                                       extract_prior_task(lake, bool(batch.new_articles)))
        staged = stage_task(lake, batch)
        batch.release_staged_inputs()
        outcome = validate_task(lake, staged, summary, config)
        publish_task(lake, staged, outcome, summary, config)
    return finish(load.summary_dict(summary))


def finish(summary: dict):
    """Log the outcome to the run log; a run not published or degraded ends Failed, not Completed."""
    log_summary(summary)
    return final_state(summary)


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


def configured_flow(config: WirelakeConfig):
    """The flow with this config's task runner and run timeout."""
    return ingest.with_options(task_runner=task_runner(config), timeout_seconds=config.run_timeout_seconds)


def run_ingest(config: WirelakeConfig, sources: list[Source], lock_wait: float | None = None) -> dict:
    """Run the flow once in this process; returns the summary dict."""
    if lock_wait:
        config = config.model_copy(update={"lock_wait_seconds": lock_wait})
    load.preload_pandas()
    return summary_from_state(configured_flow(config)(config=config, sources=sources, return_state=True))


def ingest_deployment(config: WirelakeConfig, sources: list[Source], cron: str | None = None,
                      name: str = "scheduled", interval_seconds: float | None = None):
    """A deployment of the flow on a cron (or interval) schedule, one run at a time (later runs queue)."""
    from dataclasses import asdict

    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    return configured_flow(config).to_deployment(
        name=name,
        cron=None if interval_seconds else cron,
        interval=interval_seconds,
        parameters={"config": config.model_dump(mode="json", by_alias=True),
                    "sources": [asdict(s) for s in sources]},
        concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE),
        description="wirelake ingestion: fetch → clean → dedup → extract → load → validate → publish",
        tags=["wirelake"],
    )
