"""The ingestion flow: fetch → clean → dedup → extract → stage → validate → publish.

The flow body is the DAG: each stage's result is a value handed to the next. Each stage is
one thin task over a whole batch (never one task per article), defined in `flows/tasks.py`;
the stage logic lives in `flows/stages/`, the run's lock and bookkeeping in `flows/run.py`,
and the early imports and model loads in `flows/warmup.py`.
"""

from __future__ import annotations

from prefect import flow

from flows import tasks, warmup
from flows.config import WirelakeConfig
from flows.health import finish, summary_from_state
from flows.notify import notify_hook
from flows.records import Source
from flows.run import run_scope, summary_dict
from flows.stages.load import RunRows
from flows.stages.memory import return_freed_memory


@flow(name="wirelake-ingest", log_prints=True, on_failure=[notify_hook], on_crashed=[notify_hook])
def ingest(config: WirelakeConfig, sources: list[Source]) -> dict:
    with run_scope(config, "ingest") as (lake, summary):
        fetched = tasks.fetch(summary, sources, fetch_config(config), tasks.fetch_state_task(lake))
        warmup.start_extract(config, fetched.items)
        cleaned = tasks.clean(summary, fetched, config.clean)
        prior = tasks.dedup_prior_task(lake, config, bool(cleaned.articles))
        deduped = tasks.dedup(summary, cleaned.articles, prior, config.dedup)
        new_articles = deduped.articles_to_store()
        warmup.start_validation(new_articles)
        prior = tasks.extract_prior_task(lake, bool(new_articles))
        extracted = tasks.extract(summary, new_articles, config.extract, prior)
        staged = tasks.stage_task(lake, RunRows(fetched, cleaned, deduped, extracted), summary, config)
        # The staged tables hold the run's rows now: validation must not hold a second copy.
        del fetched, cleaned, prior, deduped, new_articles, extracted
        return_freed_memory()
        outcome = tasks.validate_task(lake, staged, summary, config)
        tasks.publish_task(lake, staged, outcome, summary, config)
    return finish(summary_dict(summary))


def fetch_config(config: WirelakeConfig):
    """Fetching may not outlive the run: its stage deadline is capped by the run's timeout."""
    deadline = min(config.fetch.stage_deadline_seconds, config.run_timeout_seconds)
    return config.fetch.model_copy(update={"stage_deadline_seconds": deadline})


def configured_flow(config: WirelakeConfig):
    """The flow with this config's task runner and run timeout."""
    return ingest.with_options(task_runner=tasks.task_runner(config), timeout_seconds=config.run_timeout_seconds)


def run_ingest(config: WirelakeConfig, sources: list[Source], lock_wait: float | None = None) -> dict:
    """Run the flow once in this process; returns the summary dict."""
    if lock_wait:
        config = config.model_copy(update={"lock_wait_seconds": lock_wait})
    warmup.preload_pandas()
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
