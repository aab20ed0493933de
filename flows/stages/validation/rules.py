"""Domain rules over pandas DataFrames, free of Great Expectations.

Each rule returns a `RuleResult`: which rows break it (positional indices, so the caller can
quarantine exactly those rows) and a short sample that says why. The GX custom expectations in
`flows.stages.validation.expectations` are thin wrappers around these functions, so the rules
can be read, tested and reused without paying the GX import.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

SAMPLE_LIMIT = 20


@dataclass(frozen=True)
class RuleResult:
    element_count: int
    failing_rows: list[int] = field(default_factory=list)  # positional row indices
    sample: list[Any] = field(default_factory=list)  # at most SAMPLE_LIMIT JSON-able values
    observed: Any = None
    # Batch-level rules (no single row to blame) set this; row rules leave it None.
    batch_failed: bool | None = None

    @property
    def success(self) -> bool:
        if self.batch_failed is not None:
            return not self.batch_failed and not self.failing_rows
        return not self.failing_rows


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _as_list(value: Any) -> list[Any] | None:
    """A list cell as a Python list (DuckDB/Arrow give numpy arrays); None when missing."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [v for v in value if not _is_missing(v)]
    if _is_missing(value):
        return None
    return None


def _rows(mask: Iterable[bool]) -> list[int]:
    return [int(i) for i in np.flatnonzero(np.asarray(list(mask), dtype=bool))]


# ---------------------------------------------------------------- column types

_LIST_TYPES = {"string_list": str}


def _value_has_type(value: Any, logical_type: str) -> bool:
    if logical_type == "string":
        return isinstance(value, str)
    if logical_type == "integer":
        if isinstance(value, (bool, np.bool_)):
            return False
        if isinstance(value, (int, np.integer)):
            return True
        # A nullable INTEGER column arrives as float64 (NaN for NULL): integral floats are fine.
        return isinstance(value, (float, np.floating)) and float(value).is_integer()
    if logical_type == "float":
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if logical_type == "boolean":
        return isinstance(value, (bool, np.bool_))
    if logical_type == "timestamp":
        return isinstance(value, (dt.datetime, pd.Timestamp, np.datetime64))
    if logical_type == "date":
        return isinstance(value, (dt.date, pd.Timestamp, np.datetime64))
    if logical_type in _LIST_TYPES:
        if not isinstance(value, (list, tuple, np.ndarray)):
            return False
        return all(isinstance(v, _LIST_TYPES[logical_type]) for v in value if not _is_missing(v))
    raise ValueError(
        f"unknown logical type {logical_type!r}; use one of string, integer, float, boolean, "
        "timestamp, date, string_list"
    )


def _dtype_settles_type(series: pd.Series, logical_type: str) -> bool:
    """True when the column's dtype alone proves every value has the type (the fast path)."""
    dtype = series.dtype
    if logical_type == "string":
        return pd.api.types.is_string_dtype(dtype) and dtype != object
    if logical_type == "integer":
        return pd.api.types.is_integer_dtype(dtype)
    if logical_type == "float":
        return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    if logical_type == "boolean":
        return pd.api.types.is_bool_dtype(dtype)
    if logical_type in ("timestamp", "date"):
        return pd.api.types.is_datetime64_any_dtype(dtype)
    return False


def column_type_failures(df: pd.DataFrame, column_types: Mapping[str, str]) -> RuleResult:
    """Every DDL column is present and each non-null value has the column's logical type."""
    missing = sorted(set(column_types) - set(df.columns))
    extra = sorted(set(df.columns) - set(column_types))
    bad = np.zeros(len(df), dtype=bool)
    sample: list[Any] = []
    for column, logical_type in column_types.items():
        if column not in df.columns:
            continue
        series = df[column]
        if _dtype_settles_type(series, logical_type):
            continue
        col_bad = np.array(
            [not _is_missing(v) and not _value_has_type(v, logical_type) for v in series], dtype=bool
        )
        if col_bad.any():
            for i in np.flatnonzero(col_bad)[: SAMPLE_LIMIT - len(sample)]:
                sample.append(f"{column}: {type(series.iloc[i]).__name__} is not {logical_type}")
            bad |= col_bad
    return RuleResult(
        element_count=len(df),
        failing_rows=_rows(bad),
        sample=sample,
        observed={"missing_columns": missing, "unexpected_columns": extra},
        batch_failed=bool(missing),
    )


# ---------------------------------------------------------------- references and codes


def missing_reference_failures(series: pd.Series, known_keys: Iterable[str]) -> RuleResult:
    """Non-null values that are not among the known keys (a dangling reference)."""
    known = known_keys if isinstance(known_keys, (set, frozenset)) else set(known_keys)
    present = series.notna().to_numpy()
    in_known = series.isin(known).to_numpy()
    bad = present & ~in_known
    rows = _rows(bad)
    sample = list(dict.fromkeys(str(series.iloc[i]) for i in rows))[:SAMPLE_LIMIT]
    return RuleResult(element_count=len(series), failing_rows=rows, sample=sample)


@lru_cache(maxsize=1)
def iso_alpha3_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-3 codes from pycountry, read at run time so the list follows pycountry."""
    import pycountry  # local: pycountry loads its JSON database on first use

    return frozenset(country.alpha_3 for country in pycountry.countries)


def iso_alpha3_failures(series: pd.Series) -> RuleResult:
    """Cells (a code or a list of codes) holding anything that is not an ISO alpha-3 code."""
    codes = iso_alpha3_codes()
    bad_values: list[str] = []
    bad = np.zeros(len(series), dtype=bool)
    for i, value in enumerate(series):
        items = _as_list(value) if not isinstance(value, str) else [value]
        if items is None:
            continue
        wrong = [str(v) for v in items if not isinstance(v, str) or v not in codes]
        if wrong:
            bad[i] = True
            bad_values.extend(wrong)
    sample = list(dict.fromkeys(bad_values))[:SAMPLE_LIMIT]
    return RuleResult(element_count=len(series), failing_rows=_rows(bad), sample=sample)


# ---------------------------------------------------------------- dates


def _to_date(value: Any) -> dt.date | None:
    if _is_missing(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value).date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    raise TypeError(f"{type(value).__name__} is not a date")


def date_range_failures(series: pd.Series, earliest: dt.date, latest: dt.date) -> RuleResult:
    """Dates outside [earliest, latest], or values that are not dates at all."""
    bad = np.zeros(len(series), dtype=bool)
    sample: list[str] = []
    for i, value in enumerate(series):
        try:
            day = _to_date(value)
        except (TypeError, ValueError):
            bad[i] = True
            sample.append(str(value))
            continue
        if day is not None and not (earliest <= day <= latest):
            bad[i] = True
            sample.append(day.isoformat())
    return RuleResult(
        element_count=len(series),
        failing_rows=_rows(bad),
        sample=list(dict.fromkeys(sample))[:SAMPLE_LIMIT],
        observed={"earliest": earliest.isoformat(), "latest": latest.isoformat()},
    )


def _utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, errors="coerce", utc=True)


def timestamp_order_failures(
    df: pd.DataFrame, column: str, later_column: str, tolerance: dt.timedelta
) -> RuleResult:
    """Rows where `column` is after `later_column` + tolerance (both present)."""
    if column not in df.columns or later_column not in df.columns:
        return RuleResult(
            element_count=len(df),
            observed={"missing_columns": sorted({column, later_column} - set(df.columns))},
            batch_failed=True,
        )
    first, later = _utc(df[column]), _utc(df[later_column])
    bad = (first.notna() & later.notna() & (first > later + tolerance)).to_numpy()
    rows = _rows(bad)
    sample = [f"{first.iloc[i].isoformat()} > {later.iloc[i].isoformat()}" for i in rows[:SAMPLE_LIMIT]]
    return RuleResult(element_count=len(df), failing_rows=rows, sample=sample)


# ---------------------------------------------------------------- parties and agreements

# Names that pycountry does not know but news copy uses for states. Keys are casefolded.
_PARTY_ALIASES = {
    "uk": "GBR",
    "u.k.": "GBR",
    "britain": "GBR",
    "great britain": "GBR",
    "british": "GBR",
    "england": "GBR",
    "us": "USA",
    "u.s.": "USA",
    "usa": "USA",
    "america": "USA",
    "american": "USA",
    "united states of america": "USA",
    "russia": "RUS",
    "south korea": "KOR",
    "korea": "KOR",
    "republic of korea": "KOR",
    "north korea": "PRK",
    "japanese": "JPN",
    "chinese": "CHN",
    "prc": "CHN",
    "australian": "AUS",
    "philippine": "PHL",
    "filipino": "PHL",
    "the philippines": "PHL",
    "french": "FRA",
    "german": "DEU",
    "indian": "IND",
    "canadian": "CAN",
    "italian": "ITA",
    "vietnam": "VNM",
    "turkey": "TUR",
    "iran": "IRN",
    "syria": "SYR",
    "laos": "LAO",
    "bolivia": "BOL",
    "venezuela": "VEN",
    "tanzania": "TZA",
    "moldova": "MDA",
    "brunei": "BRN",
}


@lru_cache(maxsize=4096)
def party_key(name: str) -> str:
    """A comparable key for a party: its ISO alpha-3 code when it is a state, else its folded name."""
    text = " ".join(name.replace("\u2019", "'").split()).strip(" .,'\"")
    folded = text.casefold()
    if folded.startswith("the "):
        folded = folded[4:]
    if folded in _PARTY_ALIASES:
        return _PARTY_ALIASES[folded]
    if len(text) == 3 and text.isupper() and text in iso_alpha3_codes():
        return text
    import pycountry  # local: pycountry loads its database on first use

    for attribute in ("name", "common_name", "official_name"):
        try:
            country = pycountry.countries.get(**{attribute: folded})
        except (KeyError, LookupError):
            country = None
        if country is not None:
            return country.alpha_3
    if len(text) == 2 and text.isupper():
        country = pycountry.countries.get(alpha_2=text)
        if country is not None:
            return country.alpha_3
    return "name:" + folded


def signatory_parties(signatories: Any, signatory_codes: Any) -> set[str]:
    """Distinct parties named by an event's signatories and signatory codes."""
    parties = {party_key(str(s)) for s in (_as_list(signatories) or []) if str(s).strip()}
    parties |= {str(c).strip().upper() for c in (_as_list(signatory_codes) or []) if str(c).strip()}
    return parties


_RAA_WORDS = re.compile(r"reciprocal\s+access\s+agreement|\bRAA\b", re.IGNORECASE)
# "UK–Japan Reciprocal Access Agreement", "Japan-Philippines RAA": the two parties before the name.
_RAA_PAIR = re.compile(
    r"^\s*(?:the\s+)?(?P<x>[^\W\d][\w.' ]*?)\s*[\u2010-\u2015\-/]\s*(?P<y>[^\W\d][\w.' ]*?)\s+"
    r"(?:reciprocal\s+access\s+agreement|RAA)\b",
    re.IGNORECASE,
)


def _text(value: Any) -> str:
    return "" if _is_missing(value) else str(value)


def is_reciprocal_access_agreement(name: Any, short_name: Any) -> bool:
    return bool(_RAA_WORDS.search(_text(name))) or _text(short_name).strip().upper() == "RAA"


def raa_named_pair(name: Any) -> tuple[str, str] | None:
    """The two parties an RAA's name puts before it ("UK–Japan …" → ("UK", "Japan"))."""
    match = _RAA_PAIR.search(_text(name))
    if match is None:
        return None
    return match.group("x").strip(), match.group("y").strip()


def _event_label(row: Mapping[str, Any]) -> str:
    return _text(row.get("name")) or _text(row.get("short_name")) or _text(row.get("event_id"))


def raa_signatory_failures(events: pd.DataFrame, min_parties: int = 2) -> RuleResult:
    """Every Reciprocal Access Agreement names both signatories.

    An event whose name mentions "reciprocal access agreement" (or RAA), or whose short name is
    "RAA", must list at least `min_parties` distinct parties; when the name reads "X–Y …", both X
    and Y must be among them (resolved through aliases, so "UK" matches "United Kingdom"/GBR).
    """
    bad = np.zeros(len(events), dtype=bool)
    sample: list[dict[str, Any]] = []
    raa_count = 0
    for i, row in enumerate(events.to_dict("records")):
        if not is_reciprocal_access_agreement(row.get("name"), row.get("short_name")):
            continue
        raa_count += 1
        parties = signatory_parties(row.get("signatories"), row.get("signatory_codes"))
        reasons = []
        if len(parties) < min_parties:
            reasons.append(f"lists {len(parties)} signatory part{'y' if len(parties) == 1 else 'ies'}")
        pair = raa_named_pair(row.get("name"))
        if pair is not None:
            absent = [p for p in pair if party_key(p) not in parties]
            if absent:
                reasons.append("name says " + "–".join(pair) + ", signatories lack " + ", ".join(absent))
        if reasons:
            bad[i] = True
            if len(sample) < SAMPLE_LIMIT:
                sample.append(
                    {
                        "event_id": _text(row.get("event_id")),
                        "name": _event_label(row),
                        "signatories": sorted(str(s) for s in (_as_list(row.get("signatories")) or [])),
                        "reason": "; ".join(reasons),
                    }
                )
    return RuleResult(
        element_count=len(events), failing_rows=_rows(bad), sample=sample, observed={"raa_events": raa_count}
    )


def signed_agreement_failures(events: pd.DataFrame, min_parties: int = 2) -> RuleResult:
    """A signed AGREE event has at least `min_parties` distinct signatory parties."""
    bad = np.zeros(len(events), dtype=bool)
    sample: list[dict[str, Any]] = []
    signed = 0
    for i, row in enumerate(events.to_dict("records")):
        if _text(row.get("event_type")) != "AGREE" or _text(row.get("status")) != "signed":
            continue
        signed += 1
        parties = signatory_parties(row.get("signatories"), row.get("signatory_codes"))
        if len(parties) < min_parties:
            bad[i] = True
            if len(sample) < SAMPLE_LIMIT:
                sample.append({"event_id": _text(row.get("event_id")), "name": _event_label(row),
                               "parties": len(parties)})
    return RuleResult(
        element_count=len(events), failing_rows=_rows(bad), sample=sample,
        observed={"signed_agreements": signed},
    )


# ---------------------------------------------------------------- stage counts

# Counts a stage may leave out: absent means nothing was dropped there.
_ZERO_IF_ABSENT = frozenset({"rejected", "dropped"})
_TERM = re.compile(r"^(?P<stage>[a-z_]+)\.(?P<key>[a-z_]+)$")


def _parse_side(side: str, equation: str) -> list[tuple[str, str]]:
    terms = []
    for raw in side.split("+"):
        match = _TERM.match(raw.strip())
        if match is None:
            raise ValueError(
                f"stage count equation {equation!r}: term {raw.strip()!r} is not <stage>.<count>"
            )
        terms.append((match.group("stage"), match.group("key")))
    return terms


def stage_count_reconciliation(
    stage_counts: Mapping[str, Mapping[str, Any]], equations: Sequence[str]
) -> RuleResult:
    """Check equations such as "clean.in == clean.out + clean.rejected" against the run's counts.

    An equation naming a stage that did not run (absent from `stage_counts`), or an "in"/"out"
    count the stage did not report, is skipped and listed, because a partial run (for example a
    reprocess that starts at extract) has nothing to reconcile there. "rejected" and "dropped"
    count as 0 when absent.
    """
    checks: list[dict[str, Any]] = []
    skipped: list[str] = []
    failed: list[str] = []
    for equation in equations:
        if equation.count("==") != 1:
            raise ValueError(f"stage count equation {equation!r}: write exactly one '=='")
        left_text, right_text = equation.split("==")
        sides = [_parse_side(left_text, equation), _parse_side(right_text, equation)]
        totals: list[int] = []
        missing = False
        for terms in sides:
            total = 0
            for stage, key in terms:
                counts = stage_counts.get(stage)
                value = None if counts is None else counts.get(key)
                if value is None:
                    if counts is not None and key in _ZERO_IF_ABSENT:
                        value = 0
                    else:
                        missing = True
                        break
                total += int(value)
            totals.append(total)
        if missing:
            skipped.append(equation)
            continue
        ok = totals[0] == totals[1]
        checks.append({"equation": equation, "left": totals[0], "right": totals[1], "ok": ok})
        if not ok:
            failed.append(f"{equation}: {totals[0]} != {totals[1]}")
    return RuleResult(
        element_count=len(stage_counts),
        sample=failed[:SAMPLE_LIMIT],
        observed={"checked": checks, "skipped": skipped},
        batch_failed=bool(failed),
    )


def stage_counts_frame(stage_counts: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per stage with its numeric counts, so GX can validate the run's counts as a batch."""
    rows = []
    for stage, counts in stage_counts.items():
        row: dict[str, Any] = {"stage": stage}
        for key, value in (counts or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                row[key] = value
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["stage"])


def stage_counts_from_frame(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    counts: dict[str, dict[str, Any]] = {}
    for row in frame.to_dict("records"):
        stage = str(row.pop("stage"))
        counts[stage] = {k: v for k, v in row.items() if not _is_missing(v)}
    return counts
