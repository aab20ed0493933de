"""wirelake's custom Great Expectations: small, named domain checks over pandas DataFrames.

Importing this module imports GX (seconds) and registers the classes with GX's registry, which
must happen before a suite naming them is loaded. So import it only inside functions
(`flows.stages.validate` does). Each expectation is a `BatchExpectation` backed by one table
metric that runs a pure rule from `flows.stages.validation.rules` and reports the failing row
positions itself, so quarantine can hold back exactly those rows.

GX's SQL datasource does not work on DuckDB and `UnexpectedRowsExpectation` needs SQL, which is
why these are DataFrame expectations rather than queries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Set
from contextvars import ContextVar
from typing import Any, ClassVar, Dict, List, Optional, Tuple

from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import BatchExpectation
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.table_metric_provider import TableMetricProvider

from flows.stages.validation import rules

# Key sets for referential checks, bound by `flows.stages.validate.validate_tables` for the
# duration of one validation (see ExpectColumnValuesToExistInReferenceKeys for why).
reference_key_sets: ContextVar[Mapping[str, Set[str]] | None] = ContextVar(
    "wirelake_reference_key_sets", default=None
)

# ---------------------------------------------------------------- plumbing


class _RuleMetric(TableMetricProvider):
    """A table metric whose value is a rule's result over the whole batch DataFrame."""

    @classmethod
    def evaluate(cls, frame, **kwargs: Any) -> rules.RuleResult:  # pragma: no cover - abstract
        raise NotImplementedError

    @metric_value(engine=PandasExecutionEngine)
    def _pandas(
        cls, execution_engine, metric_domain_kwargs, metric_value_kwargs, metrics, runtime_configuration
    ):
        frame, _, _ = execution_engine.get_compute_domain(
            domain_kwargs=metric_domain_kwargs, domain_type=MetricDomainTypes.TABLE
        )
        # Positions, not labels: the caller validates a frame with a fresh RangeIndex.
        outcome = cls.evaluate(frame.reset_index(drop=True), **dict(metric_value_kwargs))
        return {
            "success": outcome.success,
            "element_count": outcome.element_count,
            "failing_rows": outcome.failing_rows,
            "sample": outcome.sample,
            "observed": outcome.observed,
        }


class _RuleExpectation(BatchExpectation):
    """Turns a `_RuleMetric` value into a GX result with `unexpected_index_list`."""

    metric_dependencies: ClassVar[Tuple[str, ...]] = ()

    def _validate(self, metrics: Dict, runtime_configuration: Optional[dict] = None, execution_engine=None):
        value = metrics[self.metric_dependencies[0]]
        failing = value["failing_rows"]
        element_count = value["element_count"]
        observed = value["observed"]
        if observed is None:
            observed = f"{len(failing)} of {element_count} rows break the rule"
        return {
            "success": value["success"],
            "result": {
                "observed_value": observed,
                "element_count": element_count,
                "unexpected_count": len(failing),
                "unexpected_percent": (100.0 * len(failing) / element_count) if element_count else 0.0,
                "partial_unexpected_list": value["sample"],
                "unexpected_index_list": failing,
            },
        }


# ---------------------------------------------------------------- schema


class TableColumnTypes(_RuleMetric):
    metric_name = "wirelake.column_type_failures"
    value_keys = ("column_types",)

    @classmethod
    def evaluate(cls, frame, column_types):
        return rules.column_type_failures(frame, column_types)


class ExpectTableColumnsToHaveLogicalTypes(_RuleExpectation):
    """Every DDL column is present and its non-null values have the column's logical type."""

    column_types: Dict[str, str]
    description: Optional[str] = (
        "Every DDL column is present; non-null values have the column's logical type "
        "(string, integer, float, boolean, timestamp, date, string_list)."
    )
    metric_dependencies: ClassVar[Tuple[str, ...]] = ("wirelake.column_type_failures",)
    success_keys: ClassVar[Tuple[str, ...]] = ("column_types",)
    args_keys: ClassVar[Tuple[str, ...]] = ("column_types",)


# ---------------------------------------------------------------- references and codes


class ColumnMissingReferences(_RuleMetric):
    metric_name = "wirelake.missing_reference_failures"
    value_keys = ("column", "key_set")

    @classmethod
    def evaluate(cls, frame, column, key_set):
        key_sets = reference_key_sets.get()
        if key_sets is None or key_set not in key_sets:
            raise ValueError(
                f"reference key set {key_set!r} was not supplied; pass reference={{{key_set!r}: {{...}}}} "
                "to validate_tables"
            )
        return rules.missing_reference_failures(frame[column], key_sets[key_set])


class ExpectColumnValuesToExistInReferenceKeys(_RuleExpectation):
    """Referential integrity: each non-null value is a key that exists after this run is staged.

    The suite names the key set (`key_set: "article_id"`); `validate_tables` binds the sets to
    `reference_key_sets` while it validates. They do not travel as GX suite parameters because
    GX copies and re-validates kwargs through pydantic several times per expectation: measured
    6.5 s for one expectation with 200k keys, against milliseconds this way.
    """

    column: str
    key_set: str
    description: Optional[str] = "Each value points to a key that exists (no dangling reference)."
    metric_dependencies: ClassVar[Tuple[str, ...]] = ("wirelake.missing_reference_failures",)
    success_keys: ClassVar[Tuple[str, ...]] = ("column", "key_set")
    args_keys: ClassVar[Tuple[str, ...]] = ("column", "key_set")


class ColumnNonIsoAlpha3(_RuleMetric):
    metric_name = "wirelake.iso_alpha3_failures"
    value_keys = ("column",)

    @classmethod
    def evaluate(cls, frame, column):
        return rules.iso_alpha3_failures(frame[column])


class ExpectColumnValuesToBeIsoAlpha3Codes(_RuleExpectation):
    """Each code (or each code in a list cell) is an ISO 3166-1 alpha-3 code, per pycountry."""

    column: str
    description: Optional[str] = "Values are ISO 3166-1 alpha-3 country codes (the set comes from pycountry)."
    metric_dependencies: ClassVar[Tuple[str, ...]] = ("wirelake.iso_alpha3_failures",)
    success_keys: ClassVar[Tuple[str, ...]] = ("column",)
    args_keys: ClassVar[Tuple[str, ...]] = ("column",)


# ---------------------------------------------------------------- dates


class ColumnImplausibleDates(_RuleMetric):
    metric_name = "wirelake.date_range_failures"
    value_keys = ("column", "earliest", "max_years_ahead")

    @classmethod
    def evaluate(cls, frame, column, earliest, max_years_ahead):
        today = dt.datetime.now(dt.UTC).date()
        try:
            latest = today.replace(year=today.year + int(max_years_ahead))
        except ValueError:  # 29 February in a year that has none
            latest = today.replace(year=today.year + int(max_years_ahead), day=28)
        return rules.date_range_failures(frame[column], dt.date.fromisoformat(earliest), latest)


class ExpectColumnDatesToBePlausible(_RuleExpectation):
    """Dates fall between `earliest` and today plus `max_years_ahead` years (judged at run time)."""

    column: str
    earliest: str = "1500-01-01"
    max_years_ahead: int = 5
    description: Optional[str] = (
        "Dates are plausible: not before `earliest`, not more than a few years ahead."
    )
    metric_dependencies: ClassVar[Tuple[str, ...]] = ("wirelake.date_range_failures",)
    success_keys: ClassVar[Tuple[str, ...]] = ("column", "earliest", "max_years_ahead")
    args_keys: ClassVar[Tuple[str, ...]] = ("column",)


class ColumnTimestampsAfterOther(_RuleMetric):
    metric_name = "wirelake.timestamp_order_failures"
    value_keys = ("column", "other_column", "tolerance_hours")

    @classmethod
    def evaluate(cls, frame, column, other_column, tolerance_hours):
        return rules.timestamp_order_failures(
            frame, column, other_column, dt.timedelta(hours=float(tolerance_hours))
        )


class ExpectColumnTimestampsToPrecedeOtherColumn(_RuleExpectation):
    """`column` is not later than `other_column` plus a tolerance (e.g. published before fetched)."""

    column: str
    other_column: str
    tolerance_hours: float = 24.0
    description: Optional[str] = "A timestamp is not later than another one plus a tolerance."
    metric_dependencies: ClassVar[Tuple[str, ...]] = ("wirelake.timestamp_order_failures",)
    success_keys: ClassVar[Tuple[str, ...]] = ("column", "other_column", "tolerance_hours")
    args_keys: ClassVar[Tuple[str, ...]] = ("column", "other_column")


# ---------------------------------------------------------------- agreements


class RaaMissingSignatories(_RuleMetric):
    metric_name = "wirelake.raa_signatory_failures"
    value_keys = ("min_parties",)

    @classmethod
    def evaluate(cls, frame, min_parties):
        return rules.raa_signatory_failures(frame, int(min_parties))


class ExpectReciprocalAccessAgreementsToNameBothSignatories(_RuleExpectation):
    """Every RAA record names both signatories.

    An event whose name says "Reciprocal Access Agreement" (or whose short name is RAA) lists at
    least two signatory parties, and a name of the form "X–Y …" has both X and Y among them.
    """

    min_parties: int = 2
    description: Optional[str] = (
        "Every Reciprocal Access Agreement names both signatories; an 'X–Y …' name has X and Y "
        "among its signatories (UK/Britain resolve to United Kingdom)."
    )
    metric_dependencies: ClassVar[Tuple[str, ...]] = ("wirelake.raa_signatory_failures",)
    success_keys: ClassVar[Tuple[str, ...]] = ("min_parties",)


class SignedAgreementsMissingParties(_RuleMetric):
    metric_name = "wirelake.signed_agreement_failures"
    value_keys = ("min_parties",)

    @classmethod
    def evaluate(cls, frame, min_parties):
        return rules.signed_agreement_failures(frame, int(min_parties))


class ExpectSignedAgreementsToHaveTwoSignatories(_RuleExpectation):
    """An AGREE event with status "signed" lists at least two distinct signatory parties."""

    min_parties: int = 2
    description: Optional[str] = (
        "A signed agreement (AGREE, status signed) has at least two signatory parties."
    )
    metric_dependencies: ClassVar[Tuple[str, ...]] = ("wirelake.signed_agreement_failures",)
    success_keys: ClassVar[Tuple[str, ...]] = ("min_parties",)


# ---------------------------------------------------------------- run counts


class StageCountsUnreconciled(_RuleMetric):
    metric_name = "wirelake.stage_count_reconciliation"
    value_keys = ("equations",)

    @classmethod
    def evaluate(cls, frame, equations):
        return rules.stage_count_reconciliation(rules.stage_counts_from_frame(frame), list(equations))


class ExpectStageCountsToReconcile(_RuleExpectation):
    """Rows in and out of each stage add up (e.g. "clean.in == clean.out + clean.rejected")."""

    equations: List[str]
    description: Optional[str] = (
        "The run's stage counts reconcile: what one stage hands on, the next receives."
    )
    metric_dependencies: ClassVar[Tuple[str, ...]] = ("wirelake.stage_count_reconciliation",)
    success_keys: ClassVar[Tuple[str, ...]] = ("equations",)
    args_keys: ClassVar[Tuple[str, ...]] = ("equations",)
