"""The reprocess flow: stored raw documents → clean → extract → stage → validate → publish.

Run after the pipeline improves: every stored article (or those whose document was
fetched since a date) is rebuilt from the raw store, cleaned and extracted again by
today's code and written back under its own article_id. Nothing is fetched. The run is
recorded in `runs` with kind "reprocess" and validated like any run: a critical failure
publishes nothing. Reprocessing twice leaves the same rows. The stage logic lives in
`flows/stages/reprocess.py`; the clean, extract, validate and publish tasks are the
ingest flow's own.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.config import WirelakeConfig
from flows.notify import notify_hook
from flows.health import summary_from_state
from flows.ingest import clean_task, finish, extract_task, lock_holder, publish_task, reconcile_crashed, validate_task
from flows.run_records import RunSummary, new_run_id
from flows.stages import load
from flows.stages import reprocess as stages


def _stage_task(name: str):
    # As in flows/ingest.py: stage logic is pure; the task adds only naming and Prefect's run record.
    return task(name=name, cache_policy=NO_CACHE, persist_result=False)


@_stage_task("read-stored")
def stored_task(lake, since):
    return stages.read_stored(lake, since)


@_stage_task("replay")
def replay_task(selection, lake, cfg):
    return stages.replay_items(selection, lake.warehouse.read_raw, cfg)


@_stage_task("keep-identity")
def identity_task(replayed, cleaned):
    return stages.keep_identity(replayed, cleaned)


@_stage_task("read-prior")
def prior_task(lake, articles):
    return stages.read_reprocess_prior(lake, articles)


@_stage_task("stage")
def stage_task(lake, summary, config, selection, articles, extracted, rejects, documents_read):
    tables = stages.reprocess_tables(articles, selection, extracted, rejects, config, summary.run_id)
    return stages.stage_reprocess(lake, summary, tables, documents_read)


@flow(name="wirelake-reprocess", log_prints=True, on_failure=[notify_hook], on_crashed=[notify_hook])
def reprocess(config: WirelakeConfig, since: datetime | None = None) -> dict:
    summary = RunSummary(run_id=new_run_id(), kind="reprocess", started_at=datetime.now(UTC),
                         config_hash=config.config_hash(), config_json=config.model_dump_json())
    with load.open_lake(config, summary, holder=lock_holder()) as lake:
        reconcile_crashed(lake.stale_holder)
        selection = stored_task(lake, since)
        replayed = load.counted(summary, "replay", len(selection.articles), replay_task, selection, lake,
                                config.fetch)
        summary.stages["replay"].extra["documents"] = replayed.documents
        cleaned, clean_rejects = load.counted(summary, "clean", len(replayed.items), clean_task,
                                              replayed.items, config.clean)
        articles = identity_task(replayed, cleaned)
        prior = prior_task(lake, articles)
        extracted = load.counted(summary, "extract", len(articles), extract_task, articles, config.extract,
                                 prior)
        staged = stage_task(lake, summary, config, selection, articles, extracted,
                            [*replayed.rejects, *clean_rejects], replayed.documents)
        outcome = validate_task(lake, staged, summary, config)
        publish_task(lake, staged, outcome, summary, config)
    return finish(load.summary_dict(summary))


def run_reprocess(config: WirelakeConfig, since: datetime | None = None,
                  lock_wait: float | None = None) -> dict:
    """Run the reprocess flow once in this process; returns the summary dict."""
    from prefect.task_runners import ThreadPoolTaskRunner

    if lock_wait:
        config = config.model_copy(update={"lock_wait_seconds": lock_wait})
    configured = reprocess.with_options(task_runner=ThreadPoolTaskRunner(max_workers=config.max_workers),
                                        timeout_seconds=config.run_timeout_seconds)
    return summary_from_state(configured(config=config, since=since, return_state=True))
