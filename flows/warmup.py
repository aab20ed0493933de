"""Warm-ups: slow imports and model loads started early, so they overlap earlier stages.

Nothing here changes what a run computes; each call only starts work a later stage would
otherwise wait for. The flows call these at the points named in their docstrings.
"""

from __future__ import annotations

import importlib
import threading

from flows.config import WirelakeConfig


def preload_pandas() -> None:
    """Import pandas (~1 s) in a background thread while Prefect sets the run up.

    Every run needs it: building any Arrow array from Python objects makes pyarrow import pandas
    (to check for pandas inputs), and so does binding a DuckDB parameter. Started before the flow,
    the import overlaps the API calls that create the flow run instead of stalling the first stage.
    """
    _import_in_background("pandas", "wirelake-preload-pandas")


def start_extract(config: WirelakeConfig, items: list) -> None:
    """With items to clean, start spaCy's NER process now: its model loads while clean and dedup run."""
    if items and config.task_runner == "thread":
        from flows.stages.extract import start_ner

        start_ner(config.extract)


def start_validation(new_articles: list) -> None:
    """With new articles, import Great Expectations (~4 s) in the background while extract runs.

    `validate_tables` imports it again; Python's import lock makes that wait for this import
    rather than start a second one. Nothing runs but the import.
    """
    if new_articles:
        _import_in_background("great_expectations", "wirelake-preload-gx")


def _import_in_background(module: str, thread_name: str) -> None:
    threading.Thread(target=importlib.import_module, args=(module,), name=thread_name, daemon=True).start()
