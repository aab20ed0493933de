"""A bounded Great Expectations Data Docs site.

The site lives in `docs_dir` (the warehouse passes `<warehouse>/reports/data_docs`). GX renders
pages from a validation results store; ours is a file store at `docs_dir/_results/` holding
only the last `retention_runs` runs. Before each build the older runs are deleted from that
store, and GX's site builder then deletes their pages (`skip_and_clean_missing`), so the site,
and the index GX rebuilds each time, stay the same size after thousands of runs. Only this
run's pages (and the suite pages) are rendered, which keeps each build's cost flat too.

GX makes a new jinja Environment for every view, so each build recompiled every page template:
about 0.12 s of a 0.16 s build. The views below share one in-memory jinja bytecode cache, so
a template is compiled once per process. This module imports GX at the top; only
`validate_tables` imports it, after GX is loaded anyway.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView

from flows.stages.validation.offline_docs import OFFLINE_DIR, offline_html

RESULTS_SUBDIR = "_results"
SITE_NAME = "wirelake"
# Result keys that can hold a value per failing row; Data Docs shows the partial lists instead.
_BULKY_RESULT_KEYS = ("unexpected_list", "unexpected_index_list", "unexpected_index_query", "unexpected_rows")


class _InMemoryBytecodeCache(jinja2.BytecodeCache):
    """jinja's bucket checks the template source checksum on load, so an edited template recompiles."""

    def __init__(self) -> None:
        self._bytecode: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self._bytecode:
            bucket.bytecode_from_string(self._bytecode[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._bytecode[bucket.key] = bucket.bytecode_to_string()


# A few dozen GX templates: bounded, and shared by every build in the process.
_TEMPLATE_BYTECODE = _InMemoryBytecodeCache()


class _SharedBytecodeViewMixin:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = _TEMPLATE_BYTECODE
        # Offline pages (see offline_docs): our few templates first, then GX's.
        self.env.loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(OFFLINE_DIR), self.env.loader])

    def render(self, document: Any, template: Any = None, **kwargs: Any) -> str:
        return offline_html(super().render(document, template, **kwargs))


class PageView(_SharedBytecodeViewMixin, DefaultJinjaPageView):
    """GX's suite and validation page view, with templates compiled once per process."""


class IndexPageView(_SharedBytecodeViewMixin, DefaultJinjaIndexPageView):
    """GX's index page view, with templates compiled once per process."""


def _view(class_name: str) -> dict[str, str]:
    return {"module_name": __name__, "class_name": class_name}


def context_config(docs_dir: Path | None) -> Any:
    """GX project config: in-memory stores, plus a file results store and a site when docs are wanted."""
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    defaults = InMemoryStoreBackendDefaults(init_temp_docs_sites=False)
    stores = copy.deepcopy(defaults.stores)
    sites: dict[str, Any] = {}
    if docs_dir is not None:
        stores[defaults.validation_results_store_name] = {
            "class_name": "ValidationResultsStore",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(Path(docs_dir) / RESULTS_SUBDIR),
            },
        }
        sites[SITE_NAME] = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "view": _view("IndexPageView")},
            # Merged by GX into its default sections; only the view class changes.
            "site_section_builders": {
                section: {"view": _view("PageView")} for section in ("expectations", "validations", "profiling")
            },
        }
    return DataContextConfig(
        store_backend_defaults=defaults,
        stores=stores,
        data_docs_sites=sites,
        # No usage statistics: the pipeline runs offline and must not phone home.
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )


def _trimmed(suite_result: Any) -> Any:
    """A copy without per-row lists: the site shows samples, and 100k indices would bloat it."""
    trimmed = copy.deepcopy(suite_result)
    for result in trimmed.results:
        for key in _BULKY_RESULT_KEYS:
            if result.result:
                result.result.pop(key, None)
    return trimmed


def prune_runs(store: Any, keep_runs: int, keep_run_names: Sequence[str] = ()) -> list[str]:
    """Delete all but the newest `keep_runs` runs from the results store; returns dropped run names."""
    newest_time: dict[str, Any] = {}
    keys_by_run: dict[str, list[Any]] = {}
    for key in store.list_keys():
        run_name = key.run_id.run_name or ""
        keys_by_run.setdefault(run_name, []).append(key)
        run_time = key.run_id.run_time
        if run_name not in newest_time or run_time > newest_time[run_name]:
            newest_time[run_name] = run_time
    ordered = sorted(keys_by_run, key=lambda name: newest_time[name], reverse=True)
    keep = set(keep_run_names) | set(ordered[: max(keep_runs, 0)])
    dropped = [name for name in ordered if name not in keep]
    for name in dropped:
        for key in keys_by_run[name]:
            store.remove_key(key)
    return dropped


def build_site(context: Any, suite_results: dict[str, Any], run_id: str, run_time: Any,
               retention_runs: int, docs_dir: Path) -> Path:
    """Store this run's (trimmed) results, prune old runs, render this run's pages and the index."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    store = context.validation_results_store
    # Re-validating a run replaces its pages instead of adding a second copy.
    for key in store.list_keys():
        if key.run_id.run_name == run_id:
            store.remove_key(key)
    identifiers: list[Any] = []
    gx_run_id = RunIdentifier(run_name=run_id, run_time=run_time)
    for suite_name, suite_result in suite_results.items():
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite_name),
            run_id=gx_run_id,
            batch_identifier=f"{suite_name}-{run_id}",
        )
        page = _trimmed(suite_result)
        # batch.validate leaves these unset; the page header shows them.
        page.meta["run_id"] = gx_run_id
        page.meta["validation_time"] = run_time
        store.set(key, page)
        identifiers.append(key)
        identifiers.append(ExpectationSuiteIdentifier(name=suite_name))
    prune_runs(store, retention_runs, keep_run_names=[run_id])
    context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=identifiers)
    # GX removes files but leaves their run/time folders; thousands of runs would pile them up.
    for root in (Path(docs_dir) / RESULTS_SUBDIR, Path(docs_dir) / "validations"):
        remove_empty_dirs(root)
    return Path(docs_dir) / "index.html"


def remove_empty_dirs(root: Path) -> None:
    if not root.is_dir():
        return
    directories = [p for p in root.rglob("*") if p.is_dir()]
    for directory in sorted(directories, key=lambda p: len(p.parts), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()
