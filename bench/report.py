"""The pure part of the bench: targets, ratios, comparison with the last result, Markdown.

No I/O and no timing here, so `tests/test_bench.py` can check it in milliseconds.
A measure is a dict (it goes to JSON as is):

    {"value": 0.83, "target": 0.8, "direction": ">=", "passed": true,
     "numerator": {"label": "pipeline articles/s", "value": 31.2},
     "denominator": {"label": "spaCy NER-only articles/s", "value": 37.6},
     "cpu_value": 0.91, "note": null, "error": null}

`value` is the issue's (wall-clock) ratio and decides pass/fail. `cpu_value`, where it can be
formed, is the same ratio on CPU seconds: on a machine that other work shares, it moves much
less than wall time, so the two together tell a slow pipeline from a busy machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

# A ratio that moves this much (relative) the wrong way since the last result is flagged.
REGRESSION_TOLERANCE = 0.2


@dataclass(frozen=True)
class Target:
    name: str
    what: str  # how the ratio is formed, for the table and the JSON
    bound: float
    direction: Literal[">=", "<="]

    def met_by(self, value: float | None) -> bool:
        if value is None:
            return False
        return value >= self.bound if self.direction == ">=" else value <= self.bound


# The table, in its order.
TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("throughput", "BBC: pipeline articles/s ÷ spaCy NER-only articles/s", 0.8, ">="),
    Target("rerun", "BBC: unchanged re-run wall time ÷ first run wall time", 0.05, "<="),
    Target("scaling", "Reuters wall time ÷ BBC wall time", 11.0, "<="),
    Target("memory", "Reuters peak RSS ÷ BBC peak RSS (the run's process tree)", 1.2, "<="),
    Target("html", "HTML clean stage pages/s ÷ trafilatura alone pages/s", 0.9, ">="),
    Target("validation", "BBC: validate stage seconds ÷ extract stage seconds", 0.1, "<="),
    # Text a reader would accept: quality side by side with trafilatura on the same bytes.
    Target("html_metadata", "HTML clean stage pages/s ÷ trafilatura with its metadata step pages/s", 0.9, ">="),
    Target("text_f1", "181 benchmark pages: main-text token F1, clean stage ÷ trafilatura", 1.0, ">="),
    Target("titles", "readability pages: exact titles, clean stage ÷ trafilatura metadata", 1.0, ">="),
    Target("title_rate", "readability pages: clean stage exact titles ÷ pages with a gold title", 0.8, ">="),
    Target("bylines", "readability pages: exact bylines, clean stage ÷ trafilatura metadata", 1.0, ">="),
)}


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either side is missing or the denominator is not positive."""
    if numerator is None or denominator is None:
        return None
    if not (math.isfinite(numerator) and math.isfinite(denominator)) or denominator <= 0:
        return None
    return numerator / denominator


def measure(name: str, numerator: tuple[str, float | None], denominator: tuple[str, float | None],
            note: str | None = None, error: str | None = None,
            cpu_value: float | None = None) -> dict[str, Any]:
    """A measure record for target `name`: the ratio of two labelled values and its verdict."""
    target = TARGETS[name]
    value = ratio(numerator[1], denominator[1])
    if value is None and error is None:
        error = f"cannot form the ratio ({numerator[0]}={numerator[1]}, {denominator[0]}={denominator[1]})"
    return {
        "what": target.what,
        "value": None if value is None else round(value, 4),
        "target": target.bound,
        "direction": target.direction,
        "passed": target.met_by(value),
        "numerator": {"label": numerator[0], "value": _rounded(numerator[1])},
        "denominator": {"label": denominator[0], "value": _rounded(denominator[1])},
        "cpu_value": _rounded(cpu_value),
        "note": note,
        "error": error,
    }


def failed_measure(name: str, error: str) -> dict[str, Any]:
    """A measure that could not be taken (corpus missing, run failed): it counts as not met."""
    target = TARGETS[name]
    return {"what": target.what, "value": None, "target": target.bound, "direction": target.direction,
            "passed": False, "numerator": None, "denominator": None, "cpu_value": None, "note": None,
            "error": error}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def worsening(direction: str, previous: float | None, current: float | None) -> float | None:
    """How much worse `current` is than `previous`, relative to `previous` (negative: better).

    For a ">=" target higher is better, for "<=" lower is better. None when either is missing
    or the previous value is zero (no relative change can be formed).
    """
    if previous is None or current is None or previous == 0:
        return None
    change = (current - previous) / abs(previous)
    return -change if direction == ">=" else change


def compare(current: dict[str, dict], previous: dict[str, dict] | None,
            tolerance: float = REGRESSION_TOLERANCE) -> dict[str, dict[str, Any]]:
    """Per measure in `current`: the previous value, the relative worsening and whether it regressed."""
    out: dict[str, dict[str, Any]] = {}
    for name, now in current.items():
        before = (previous or {}).get(name) or {}
        prev_value = before.get("value")
        worse = worsening(now.get("direction", TARGETS[name].direction), prev_value, now.get("value"))
        out[name] = {"previous": prev_value, "worse_by": None if worse is None else round(worse, 4),
                     "regressed": worse is not None and worse > tolerance}
    return out


def failed_targets(measures: dict[str, dict]) -> list[str]:
    return [name for name, m in measures.items() if not m.get("passed")]


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}"


def measures_markdown(measures: dict[str, dict], comparison: dict[str, dict] | None = None) -> str:
    """The issue's table with this run's values, and the previous values beside them."""
    comparison = comparison or {}
    lines = ["| measure | how | value | target | result | CPU-time ratio | previous | change |",
             "|---|---|---:|---:|---|---:|---:|---|"]
    for name, m in measures.items():
        if m.get("passed"):
            result = "pass"
        else:
            result = "**FAIL**" if m.get("value") is not None else "**not measured**"
        cmp = comparison.get(name, {})
        worse = cmp.get("worse_by")
        if worse is None:
            change = ""
        else:
            change = f"{'worse' if worse > 0 else 'better'} by {abs(worse):.0%}"
            if cmp.get("regressed"):
                change = f"**REGRESSED** ({change})"
        target = f"{m['direction']} {m['target']:g}"
        lines.append(f"| {name} | {m.get('what', '')} | {_fmt(m.get('value'))} | {target} | {result} "
                     f"| {_fmt(m.get('cpu_value'))} | {_fmt(cmp.get('previous'))} | {change} |")
    return "\n".join(lines)


def stages_markdown(title: str, stages: dict[str, dict[str, Any]]) -> str:
    """One run's stages: rows in/out/rejected, seconds and their share, and the peak RSS while each ran."""
    total = sum(float(c.get("seconds") or 0.0) for c in stages.values())
    lines = [f"**{title}**", "", "| stage | in | out | rejected | seconds | share | peak RSS MiB |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, c in stages.items():
        seconds = float(c.get("seconds") or 0.0)
        share = f"{seconds / total:.0%}" if total > 0 else "–"
        peak = c.get("peak_rss_mib")
        lines.append(f"| {name} | {c.get('in', '')} | {c.get('out', '')} | {c.get('rejected', '')} "
                     f"| {seconds:.2f} | {share} | {'' if peak is None else peak} |")
    lines.append(f"| **sum** | | | | {total:.2f} | | |")
    return "\n".join(lines)
