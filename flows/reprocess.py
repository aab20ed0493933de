"""The reprocess flow: stored raw documents → clean → extract → stage → validate → publish.

Run after the pipeline improves: every stored article (or those whose document was
fetched since a date) is rebuilt from the raw store, cleaned and extracted again by
today's code and written back under its own article_id. Nothing is fetched. The run is
recorded in `runs` with kind "reprocess" and validated like any run: a critical failure
publishes nothing. Reprocessing twice leaves the same rows. The stage logic lives in
`flows/stages/reprocess.py`; the tasks, and the task runner, are the ones `flows/tasks.py`
gives both flows.
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from flows import tasks
from flows.config import WirelakeConfig
from flows.health import finish, summary_from_state
from flows.notify import notify_hook
from flows.run import run_scope, summary_dict


@flow(name="wirelake-reprocess", log_prints=True, on_failure=[notify_hook], on_crashed=[notify_hook])
def reprocess(config: WirelakeConfig, since: datetime | None = None) -> dict:
    with run_scope(config, "reprocess") as (lake, summary):
        selection = tasks.stored_task(lake, since)
        replayed = tasks.replay(summary, selection, lake, config.fetch)
        cleaned = tasks.clean_all(summary, replayed.items, config.clean)
        articles = tasks.identity_task(replayed, cleaned.articles)
        prior = tasks.reprocess_prior_task(lake, articles)
        extracted = tasks.extract(summary, articles, config.extract, prior)
        staged = tasks.reprocess_stage_task(lake, summary, config, selection, articles, extracted,
                                            [*replayed.rejects, *cleaned.rejects], replayed.documents)
        outcome = tasks.validate_task(lake, staged, summary, config)
        tasks.publish_task(lake, staged, outcome, summary, config)
    return finish(summary_dict(summary))


def run_reprocess(config: WirelakeConfig, since: datetime | None = None,
                  lock_wait: float | None = None) -> dict:
    """Run the reprocess flow once in this process, on the config's task runner; returns the summary dict."""
    if lock_wait:
        config = config.model_copy(update={"lock_wait_seconds": lock_wait})
    configured = reprocess.with_options(task_runner=tasks.task_runner(config),
                                        timeout_seconds=config.run_timeout_seconds)
    return summary_from_state(configured(config=config, since=since, return_state=True))
