"""Validate a run's staged rows with Great Expectations, before the run is published.

One committed GX suite per table (`expectations/<table>.json`) is loaded at run time and run
over the table's staged rows as a pandas DataFrame; the run's stage counts are validated as a
small frame by the `stage_counts` suite. Every expectation carries `meta.severity`:
a failed *critical* expectation blocks publishing (mode "fail") or sends the failing rows to
quarantine (mode "quarantine"); a *warning* is recorded and shown, nothing more.

Pure: no Prefect, no warehouse access, and GX (a multi-second import) is imported only inside
the functions that need it.

Stage-count reconciliation (suite `stage_counts`, see its JSON for the equations):
    fetch.out == clean.in                               every fetched item reaches clean
    clean.in  == clean.out + clean.rejected (+dropped)  clean keeps or rejects each item
    clean.out == dedup.in                               every clean article reaches dedup
    dedup.in  == dedup.out (+rejected +dropped)         dedup marks duplicates, never drops
    dedup.out == extract.in                             extraction reads every article
An equation naming a stage that did not run, or an in/out count it did not report, is skipped
(listed in the observed value); absent "rejected"/"dropped" counts are 0.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from flows.config import ValidateConfig
from flows.stages.validation import rules

DEFAULT_SUITES_DIR = Path(__file__).resolve().parents[2] / "expectations"
SEVERITIES = ("critical", "warning")
STAGE_COUNTS_SUITE = "stage_counts"
# Warehouse tables that have no suite on purpose (bookkeeping, or written by validation itself).
TABLES_WITHOUT_SUITE = frozenset({"article_signatures", "fetch_state", "runs", "validation_results", "quarantine"})
_TYPES_EXPECTATION = "expect_table_columns_to_have_logical_types"
_REFERENCE_EXPECTATION = "expect_column_values_to_exist_in_reference_keys"
_RESULT_FORMAT = {"result_format": "COMPLETE", "partial_unexpected_count": rules.SAMPLE_LIMIT}


@dataclass
class ValidationOutcome:
    run_id: str
    # One row per expectation, shaped like warehouse/schema/validation_results.sql.
    results: list[dict[str, Any]]
    critical_failed: bool
    # table -> row position in the staged frame -> names of the expectations the row failed.
    failing_rows: dict[str, dict[int, list[str]]]
    docs_index: Path | None = None
    # "suite: expectation" for critical failures no row can be blamed for (missing columns,
    # stage counts that do not add up). Quarantine cannot fix these, so they still block.
    batch_failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def quarantinable(self) -> bool:
        """True when every critical failure is tied to rows, so holding them back is enough."""
        return not self.batch_failures


@dataclass(frozen=True)
class LoadedSuite:
    name: str
    path: Path
    suite: Any  # great_expectations.core.ExpectationSuite
    row_key: tuple[str, ...]
    column_types: dict[str, str]
    severity_by_name: dict[str, str]
    # column -> key set name, from the suite's referential expectations.
    references: dict[str, str]


def expectation_name(expectation_type: str, kwargs: Mapping[str, Any]) -> str:
    """A readable, stable name: the type plus the column(s) it looks at."""
    if "column" in kwargs:
        return f"{expectation_type}({kwargs['column']})"
    if "column_A" in kwargs:
        return f"{expectation_type}({kwargs['column_A']},{kwargs['column_B']})"
    if "column_list" in kwargs:
        return f"{expectation_type}({','.join(kwargs['column_list'])})"
    return expectation_type


def load_suites(suites_dir: Path = DEFAULT_SUITES_DIR) -> dict[str, LoadedSuite]:
    """Read every committed suite JSON under `suites_dir` into GX suites, checking our conventions."""
    from great_expectations.core import ExpectationSuite
    from great_expectations.core.expectation_suite import expectationSuiteSchema

    import flows.stages.validation.expectations  # noqa: F401  (registers the custom expectation types)

    suites_dir = Path(suites_dir)
    paths = sorted(suites_dir.glob("*.json"))
    if not paths:
        raise ValueError(f"suites {suites_dir}: no *.json suites found; is this the expectations/ folder?")
    loaded: dict[str, LoadedSuite] = {}
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"suite {path}: not readable JSON ({exc})") from exc
        if data.get("name") != path.stem:
            raise ValueError(
                f"suite {path}: name {data.get('name')!r} must equal the file name {path.stem!r}"
            )
        severity_by_name: dict[str, str] = {}
        column_types: dict[str, str] = {}
        references: dict[str, str] = {}
        for position, item in enumerate(data.get("expectations", [])):
            kind = item.get("type", "?")
            name = expectation_name(kind, item.get("kwargs", {}))
            severity = (item.get("meta") or {}).get("severity")
            if severity not in SEVERITIES:
                raise ValueError(
                    f"suite {path}: expectation #{position} {name} has meta.severity {severity!r}; "
                    'set "meta": {"severity": "critical"} or "warning"'
                )
            if item.get("severity", severity) != severity:
                raise ValueError(
                    f"suite {path}: expectation #{position} {name} has severity {item['severity']!r} "
                    f"but meta.severity {severity!r}; make them agree"
                )
            if name in severity_by_name:
                raise ValueError(f"suite {path}: two expectations are named {name}; remove one")
            severity_by_name[name] = severity
            if kind == _TYPES_EXPECTATION:
                column_types = dict(item["kwargs"]["column_types"])
            if kind == _REFERENCE_EXPECTATION:
                references[item["kwargs"]["column"]] = item["kwargs"]["key_set"]
        try:
            suite = ExpectationSuite(**expectationSuiteSchema.load(data))
        except Exception as exc:  # GX raises several types for an unknown or malformed expectation
            raise ValueError(f"suite {path}: GX cannot load it ({exc}); check the expectation types") from exc
        meta = data.get("meta") or {}
        loaded[path.stem] = LoadedSuite(
            name=path.stem,
            path=path,
            suite=suite,
            row_key=tuple(meta.get("row_key") or ()),
            column_types=column_types,
            severity_by_name=severity_by_name,
            references=references,
        )
    return loaded


def _frame_for(suite: LoadedSuite, staged: Mapping[str, pd.DataFrame], stage_counts: Mapping) -> pd.DataFrame:
    if suite.name == STAGE_COUNTS_SUITE:
        return rules.stage_counts_frame(stage_counts or {})
    frame = staged.get(suite.name)
    if frame is None:
        # A table this run did not produce is an empty batch with the DDL columns, not an error.
        return pd.DataFrame({column: pd.Series([], dtype=object) for column in suite.column_types})
    return frame.reset_index(drop=True)


def _json(value: Any) -> str:
    return json.dumps(value, default=_json_default, allow_nan=False, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (dt.datetime, dt.date, pd.Timestamp)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def _clean_sample(values: list[Any]) -> list[Any]:
    cleaned = []
    for value in values[: rules.SAMPLE_LIMIT]:
        if isinstance(value, float) and math.isnan(value):
            cleaned.append(None)
        else:
            cleaned.append(value)
    return cleaned


def _row_positions(result: Mapping[str, Any]) -> list[int]:
    positions = []
    for item in result.get("unexpected_index_list") or []:
        if isinstance(item, Mapping):  # GX gives dicts when unexpected_index_column_names is set
            item = item.get("index")
        if item is not None:
            positions.append(int(item))
    return positions


def validate_tables(
    staged: dict[str, pd.DataFrame],
    reference: dict[str, set[str]],
    stage_counts: dict,
    run_id: str,
    cfg: ValidateConfig,
    suites_dir: Path = DEFAULT_SUITES_DIR,
    docs_dir: Path | None = None,
) -> ValidationOutcome:
    """Run every suite over this run's staged rows; see the module docstring for the rules.

    `staged` maps table name to DataFrame (a table may be missing or empty); `reference` maps a
    key set name ("article_id", "entity_id", "event_id", "story_id") to the keys visible once
    this run is staged; `stage_counts` is {"fetch": {"in": n, "out": n, "rejected": n}, ...}.
    Data Docs are built under `docs_dir` when given, keeping `cfg.data_docs_retention_runs` runs.
    """
    import time

    started = time.perf_counter()
    import great_expectations as gx

    from flows.stages.validation import data_docs
    from flows.stages.validation.expectations import reference_key_sets

    suites = load_suites(suites_dir)
    unknown = sorted(set(staged) - set(suites) - TABLES_WITHOUT_SUITE)
    if unknown:
        raise ValueError(
            f"run {run_id}: staged tables {unknown} have no suite in {suites_dir}; add <table>.json there"
        )
    frames = {name: _frame_for(suite, staged, stage_counts) for name, suite in suites.items()}
    for name, suite in suites.items():
        needed = {key_set for key_set in suite.references.values() if key_set not in reference}
        if needed and len(frames[name]):
            raise ValueError(
                f"run {run_id}: table {name} has rows but reference lacks key sets {sorted(needed)}; "
                "pass reference={'<key>': {...keys visible after staging...}}"
            )

    context = gx.get_context(mode="ephemeral", project_config=data_docs.context_config(docs_dir))
    datasource = context.data_sources.add_pandas(name="wirelake_staged")
    validated_at = dt.datetime.now(dt.UTC)
    rows: list[dict[str, Any]] = []
    failing_rows: dict[str, dict[int, list[str]]] = {}
    batch_failures: list[str] = []
    suite_results: dict[str, Any] = {}

    key_sets = {name: frozenset(keys) for name, keys in reference.items()}
    for suite in suites.values():
        for key_set in suite.references.values():
            # Only empty tables get here without their key set (checked above): nothing to look up.
            key_sets.setdefault(key_set, frozenset())
    token = reference_key_sets.set(key_sets)
    try:
        for name, suite in suites.items():
            gx_suite = context.suites.add(suite.suite) if docs_dir is not None else suite.suite
            batch_definition = datasource.add_dataframe_asset(name=name).add_batch_definition_whole_dataframe(
                "staged"
            )
            batch = batch_definition.get_batch(batch_parameters={"dataframe": frames[name]})
            suite_result = batch.validate(gx_suite, result_format=_RESULT_FORMAT)
            suite_results[name] = suite_result
            for expectation_result in suite_result.results:
                config = expectation_result.expectation_config
                expectation = expectation_name(config.type, config.kwargs)
                severity = suite.severity_by_name[expectation]
                result = dict(expectation_result.result or {})
                exception = expectation_result.exception_info or {}
                success = bool(expectation_result.success)
                if exception.get("raised_exception"):
                    success = False
                    result.setdefault("observed_value", {"exception": exception.get("exception_message")})
                positions = _row_positions(result) if not success else []
                for position in positions:
                    failing_rows.setdefault(name, {}).setdefault(position, []).append(expectation)
                if not success and severity == "critical" and not positions:
                    batch_failures.append(f"{name}: {expectation}")
                observed = result.get("observed_value")
                if observed is None and "element_count" in result:
                    observed = {
                        "element_count": result.get("element_count"),
                        "unexpected_percent": result.get("unexpected_percent"),
                    }
                rows.append(
                    {
                        "run_id": run_id,
                        "suite": name,
                        "expectation": expectation,
                        "severity": severity,
                        "success": success,
                        "unexpected_count": result.get("unexpected_count"),
                        "unexpected_sample": _json(
                            _clean_sample(list(result.get("partial_unexpected_list") or []))
                        ),
                        "observed_value": _json(observed),
                        "validated_at": validated_at,
                    }
                )
    finally:
        reference_key_sets.reset(token)

    docs_index = None
    if docs_dir is not None:
        docs_index = data_docs.build_site(
            context, suite_results, run_id, validated_at, cfg.data_docs_retention_runs, Path(docs_dir)
        )
    critical_failed = any(not row["success"] and row["severity"] == "critical" for row in rows)
    return ValidationOutcome(
        run_id=run_id,
        results=rows,
        critical_failed=critical_failed,
        failing_rows=failing_rows,
        docs_index=docs_index,
        batch_failures=batch_failures,
        seconds=time.perf_counter() - started,
    )


def _row_json(frame: pd.DataFrame, position: int) -> str:
    record = frame.iloc[position].to_dict()
    return _json({k: (None if rules._is_missing(v) else v) for k, v in record.items()})


def _row_key(frame: pd.DataFrame, position: int, key_columns: tuple[str, ...]) -> str | None:
    parts = []
    for column in key_columns:
        if column not in frame.columns:
            return None
        value = frame.iloc[position][column]
        parts.append("" if rules._is_missing(value) else str(value))
    return "|".join(parts) if parts else None


def quarantine_positions(
    staged: dict[str, pd.DataFrame],
    outcome: ValidationOutcome,
    suites_dir: Path = DEFAULT_SUITES_DIR,
) -> dict[str, dict[int, list[str]]]:
    """Table → row position → reasons, for rows held back by a critical failure or a cascade."""
    suites = _suite_metadata(suites_dir)
    critical = {(r["suite"], r["expectation"]) for r in outcome.results if r["severity"] == "critical"}
    held: dict[str, dict[int, list[str]]] = {}
    for table, by_row in outcome.failing_rows.items():
        for position, names in by_row.items():
            critical_names = [n for n in names if (table, n) in critical]
            if critical_names:
                held.setdefault(table, {})[position] = critical_names

    frames = {table: frame.reset_index(drop=True) for table, frame in staged.items()}
    # Cascade: a key held back in the table that owns it must not be referenced by rows that
    # publish. Repeat until stable (an article held back holds back its event mentions, ...).
    changed = True
    while changed:
        changed = False
        held_keys: dict[str, set[str]] = {}
        for table, by_row in held.items():
            owned = suites.get(table, {}).get("owns_key")
            if owned is None or table not in frames or owned not in frames[table].columns:
                continue
            keys = frames[table][owned].iloc[sorted(by_row)]
            held_keys.setdefault(owned, set()).update(str(k) for k in keys if not rules._is_missing(k))
        for table, frame in frames.items():
            for column, key_set in suites.get(table, {}).get("references", {}).items():
                if column not in frame.columns or not held_keys.get(key_set):
                    continue
                hits = np.flatnonzero(frame[column].astype(object).isin(held_keys[key_set]).to_numpy())
                reason = f"cascade:{column}"
                for position in hits:
                    names = held.setdefault(table, {}).setdefault(int(position), [])
                    if reason not in names:
                        names.append(reason)
                        changed = True

    return held


def without_quarantined(tables: Mapping[str, pa.Table], frames: dict[str, pd.DataFrame],
                        outcome: ValidationOutcome) -> dict[str, pa.Table]:
    """The staged tables that lose rows to quarantine, with those rows left out."""
    kept: dict[str, pa.Table] = {}
    for name, held in quarantine_positions(frames, outcome).items():
        table = tables[name]
        kept[name] = table.filter(pa.array([i not in held for i in range(table.num_rows)]))
    return kept


def split_quarantine(
    staged: dict[str, pd.DataFrame],
    outcome: ValidationOutcome,
    suites_dir: Path = DEFAULT_SUITES_DIR,
) -> tuple[dict[str, pd.DataFrame], list[dict[str, Any]]]:
    """Hold back rows that failed a critical expectation; the rest may publish.

    Returns the passing rows per table and quarantine rows shaped like
    warehouse/schema/quarantine.sql (one per row and failed expectation). Rows that reference a
    quarantined parent (a mention of a held-back article, an argument of a held-back event) are
    held back too, under "cascade:<table>.<column>", so publishing never leaves a dangling key.
    Warnings never quarantine. Batch-level failures (`outcome.batch_failures`) cannot be fixed by
    holding rows back; the caller should not publish when there are any.
    """
    suites = _suite_metadata(suites_dir)
    held = quarantine_positions(staged, outcome, suites_dir)
    frames = {table: frame.reset_index(drop=True) for table, frame in staged.items()}
    passing: dict[str, pd.DataFrame] = {}
    quarantined: list[dict[str, Any]] = []
    for table, frame in frames.items():
        by_row = held.get(table, {})
        key_columns = tuple(suites.get(table, {}).get("row_key", ()))
        keep = np.ones(len(frame), dtype=bool)
        for position in sorted(by_row):
            keep[position] = False
            row_json = _row_json(frame, position)
            row_key = _row_key(frame, position, key_columns)
            for name in by_row[position]:
                quarantined.append(
                    {
                        "run_id": outcome.run_id,
                        "table_name": table,
                        "row_key": row_key,
                        "expectation": name,
                        "row_json": row_json,
                    }
                )
        passing[table] = frame[keep].reset_index(drop=True)
    return passing, quarantined


def _suite_metadata(suites_dir: Path) -> dict[str, dict[str, Any]]:
    """Row keys and references per suite, read from the JSON without importing GX."""
    metadata: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(suites_dir).glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        references = {
            item["kwargs"]["column"]: item["kwargs"]["key_set"]
            for item in data.get("expectations", [])
            if item.get("type") == _REFERENCE_EXPECTATION
        }
        meta = data.get("meta") or {}
        metadata[path.stem] = {
            "row_key": tuple(meta.get("row_key") or ()),
            "owns_key": meta.get("owns_key"),
            "references": references,
        }
    return metadata
