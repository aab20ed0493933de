"""The run dashboard: one self-contained HTML file drawn from the warehouse tables.

Everything is inline (CSS, a few lines of JS, SVG charts drawn here), so the file opens from
disk with no network. `build_report` only reads: it takes a DuckDB connection on which the
warehouse tables (runs, articles, entities, events, validation_results, …) are visible by plain
name, which is how `wirelake report` hands it the DuckLake catalog.

Chart points carry `data-*` attributes (series, x, y) so a test, or a curious reader of the
DOM, can see the numbers behind each mark.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from flows.report_runs import (
    LATER_RUN_COLUMNS,
    STAGE_UNITS,
    history_rows,
    runs_sql,
    snapshot_rows,
    snapshots,
    stage_charts,
)

PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777",
           "#4b5563", "#65a30d", "#7c3aed", "#0f766e"]
HISTORY_RUNS = 30
FAILURE_ROWS = 40
DECODING_ROWS = 40
DECODING_COLUMNS = ("encoding", "encoding_note", "parse_warning")


def _esc(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, (dt.datetime,)):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, (list, tuple)):
        return html.escape(", ".join(str(v) for v in value))
    return html.escape(str(value))


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    # `table` is one of this module's constant names, never data.
    try:
        con.execute(f"SELECT 1 FROM {table} LIMIT 0")
    except duckdb.Error:
        return False
    return True


def _has_columns(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str]) -> bool:
    # `table` and `columns` are this module's constant names, never data. A warehouse no run
    # has opened since the columns were added lacks them (the reader never alters a schema).
    try:
        con.execute(f"SELECT {', '.join(columns)} FROM {table} LIMIT 0")
    except duckdb.Error:
        return False
    return True


# ---------------------------------------------------------------- charts


def _axis_max(values: Sequence[float]) -> float:
    top = max([v for v in values if v is not None] or [0])
    return float(top) if top > 0 else 1.0


def line_chart(series: dict[str, list[tuple[str, float]]], *, y_max: float | None = None,
               y_label: str = "", width: int = 760, height: int = 240, percent: bool = False) -> str:
    """Lines over shared x labels (in first-seen order); each point is a <circle class="point">."""
    labels: list[str] = []
    for points in series.values():
        for x, _ in points:
            if x not in labels:
                labels.append(x)
    if not labels:
        return '<p class="empty">No data yet.</p>'
    left, right, top, bottom = 48, 16, 12, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = y_max if y_max is not None else _axis_max([y for pts in series.values() for _, y in pts])

    def x_of(label: str) -> float:
        return left + (plot_w * labels.index(label) / (len(labels) - 1) if len(labels) > 1 else plot_w / 2)

    def y_of(value: float) -> float:
        return top + plot_h * (1 - (value / top_value if top_value else 0))

    parts = [f'<svg class="chart line" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="{_esc(y_label)}">']
    for tick in range(5):
        value = top_value * tick / 4
        y = y_of(value)
        text = f"{value * 100:.0f}%" if percent else f"{value:.0f}"
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{text}</text>')
    step = max(1, len(labels) // 8)
    for i, label in enumerate(labels):
        if i % step == 0 or i == len(labels) - 1:
            # Edge labels anchor inwards so they are not clipped by the SVG box.
            anchor = "middle"
            if len(labels) > 1 and i in (0, len(labels) - 1):
                anchor = "start" if i == 0 else "end"
            parts.append(f'<text class="tick" x="{x_of(label):.1f}" y="{height - 12}" text-anchor="{anchor}">'
                         f"{_esc(label[-12:])}</text>")
    for n, (name, points) in enumerate(series.items()):
        color = PALETTE[n % len(PALETTE)]
        coords = " ".join(f"{x_of(x):.1f},{y_of(y):.1f}" for x, y in points if y is not None)
        parts.append(f'<g class="series" data-series="{_esc(name)}">')
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{coords}"/>')
        for x, y in points:
            if y is None:
                continue
            shown = f"{y * 100:.1f}%" if percent else f"{y:g}"
            parts.append(
                f'<circle class="point" cx="{x_of(x):.1f}" cy="{y_of(y):.1f}" r="3.5" fill="{color}" '
                f'data-series="{_esc(name)}" data-x="{_esc(x)}" data-y="{y:.6g}">'
                f"<title>{_esc(name)} · {_esc(x)}: {shown}</title></circle>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key" data-series="{_esc(name)}"><i style="background:{PALETTE[n % len(PALETTE)]}"></i>'
        f"{_esc(name)}</span>"
        for n, name in enumerate(series)
    )
    return f'<figure>{"".join(parts)}<figcaption class="legend">{legend}</figcaption></figure>'


def grouped_bar_chart(groups: list[str], series: dict[str, list[float]], *, width: int = 760,
                      height: int = 240) -> str:
    """Bars per group (e.g. stages) and series (in/out/rejected); each bar is a <rect class="bar">."""
    if not groups or not series:
        return '<p class="empty">No data yet.</p>'
    left, right, top, bottom = 48, 16, 12, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _axis_max([v for values in series.values() for v in values])
    group_w = plot_w / len(groups)
    bar_w = group_w * 0.8 / len(series)
    parts = [f'<svg class="chart bars" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img">']
    for tick in range(5):
        value = top_value * tick / 4
        y = top + plot_h * (1 - value / top_value)
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{value:.0f}</text>'
        )
    for g, group in enumerate(groups):
        x0 = left + g * group_w + group_w * 0.1
        parts.append(f'<text class="tick" x="{left + (g + 0.5) * group_w:.1f}" y="{height - 12}" '
                     f'text-anchor="middle">{_esc(group)}</text>')
        for s, (name, values) in enumerate(series.items()):
            value = values[g] or 0
            bar_h = plot_h * value / top_value
            parts.append(
                f'<rect class="bar" x="{x0 + s * bar_w:.1f}" y="{top + plot_h - bar_h:.1f}" '
                f'width="{bar_w * 0.92:.1f}" height="{bar_h:.1f}" fill="{PALETTE[s % len(PALETTE)]}" '
                f'data-series="{_esc(name)}" data-x="{_esc(group)}" data-y="{value:g}">'
                f"<title>{_esc(group)} {_esc(name)}: {value:g}</title></rect>"
            )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><i style="background:{PALETTE[s % len(PALETTE)]}"></i>{_esc(name)}</span>'
        for s, name in enumerate(series)
    )
    return f'<figure>{"".join(parts)}<figcaption class="legend">{legend}</figcaption></figure>'


def horizontal_bar_chart(items: list[tuple[str, float]], *, width: int = 760, row_height: int = 22) -> str:
    if not items:
        return '<p class="empty">No data yet.</p>'
    label_w, right = 220, 48
    top_value = _axis_max([v for _, v in items])
    height = row_height * len(items) + 8
    parts = [f'<svg class="chart hbars" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img">']
    for i, (label, value) in enumerate(items):
        y = 4 + i * row_height
        bar_w = (width - label_w - right) * value / top_value
        parts.append(f'<text class="tick" x="{label_w - 8}" y="{y + row_height * 0.65:.1f}" '
                     f'text-anchor="end">{_esc(label[:32])}</text>')
        parts.append(
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{bar_w:.1f}" height="{row_height - 6}" '
            f'fill="{PALETTE[0]}" data-series="mentions" data-x="{_esc(label)}" data-y="{value:g}">'
            f"<title>{_esc(label)}: {value:g}</title></rect>"
        )
        parts.append(f'<text class="tick" x="{label_w + bar_w + 6:.1f}" y="{y + row_height * 0.65:.1f}">'
                     f"{value:g}</text>")
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------- sections


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]], empty: str = "Nothing yet.") -> str:
    if not rows:
        return f'<p class="empty">{_esc(empty)}</p>'
    head = "".join(f"<th>{_esc(title)}</th>" for _, title in columns)
    body = []
    for row in rows:
        cells = []
        for key, _ in columns:
            value = row.get(key)
            css = f' class="{_esc(row["_class"])}"' if key == "status" and row.get("_class") else ""
            cells.append(f"<td{css}>{value if key in row.get('_raw', ()) else _esc(value)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f'<table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _stage_counts(text: str | None) -> dict[str, dict[str, Any]]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def _docs_link(docs_index: Path | None, out_path: Path, suite: str, run_id: str) -> str | None:
    """A relative link to the run's Data Docs page for `suite`, or the site index if it was pruned."""
    if docs_index is None or not Path(docs_index).exists():
        return None
    site = Path(docs_index).parent
    pages = sorted((site / "validations" / suite / run_id).glob("*/*.html")) if run_id and suite else []
    target = pages[-1] if pages else Path(docs_index)
    return Path(os.path.relpath(target, out_path.parent)).as_posix()


def build_report(con: duckdb.DuckDBPyConnection, out_path: Path, data_docs_index: Path | None) -> Path:
    """Write the dashboard to `out_path` and return it."""
    out_path = Path(out_path)
    sections: list[str] = []
    generated = dt.datetime.now(dt.UTC)

    runs = _rows(con, runs_sql(_has_columns(con, "runs", LATER_RUN_COLUMNS)), [HISTORY_RUNS])
    totals = {
        "articles": con.execute("SELECT count(*) FROM articles").fetchone()[0],
        "entities": con.execute("SELECT count(*) FROM entities").fetchone()[0],
        "events": con.execute("SELECT count(*) FROM events").fetchone()[0],
    }
    dup_exact, dup_near = con.execute(
        "SELECT count(*) FILTER (WHERE duplicate_of IS NOT NULL), "
        "count(*) FILTER (WHERE duplicate_of IS NULL AND near_duplicate_of IS NOT NULL) FROM articles"
    ).fetchone()
    latest = runs[0] if runs else None
    cards = [
        ("runs shown", len(runs)),
        ("latest status", latest["status"] if latest else "—"),
        ("articles", totals["articles"]),
        ("exact duplicates", dup_exact),
        ("near duplicates", dup_near),
        ("entities", totals["entities"]),
        ("events", totals["events"]),
    ]
    sections.append('<section class="cards">' + "".join(
        f'<div class="card"><b>{_esc(value)}</b><span>{_esc(label)}</span></div>' for label, value in cards
    ) + "</section>")

    # Run history
    sections.append("<section><h2>Run history</h2>" + _table(history_rows(runs), [
        ("run_id", "run"), ("kind", "kind"), ("started_at", "started"), ("duration", "took"),
        ("status", "status"), ("snapshot", "snapshot"), ("fetched", "fetched"), ("rejected", "rejected"),
        ("new", "new"), ("duplicates", "duplicates"), ("sources", "sources"), ("message", "message")],
        "No runs recorded yet.") + "</section>")

    # Counts per stage (latest run) and articles/duplicates per run
    stage_html = '<p class="empty">No stage counts recorded yet.</p>'
    if latest:
        counts = _stage_counts(latest["stage_counts"])
        stages = list(counts)
        keys = [k for k in ("in", "out", "rejected", "dropped") if any(k in counts[s] for s in stages)]
        stage_html = stage_charts(counts, grouped_bar_chart)
        stage_rows = [{"stage": s, "unit": STAGE_UNITS.get(s, ""), **{k: counts[s].get(k) for k in (*keys, "seconds")}}
                      for s in stages]
        stage_columns = [("stage", "stage"), ("unit", "unit"), *[(k, k) for k in keys], ("seconds", "seconds")]
        stage_html += _table(stage_rows, stage_columns)
    chronological = list(reversed(runs))
    per_run = line_chart({
        "new articles": [(r["run_id"], float(r["new"] or 0)) for r in chronological],
        "duplicates": [(r["run_id"], float(r["duplicates"] or 0)) for r in chronological],
        "rejected": [(r["run_id"], float(r["rejected"] or 0)) for r in chronological],
    }, y_label="rows per run")
    latest_id = _esc(latest["run_id"] if latest else "")
    sections.append(f"<section><h2>Counts per stage (latest run {latest_id})</h2>{stage_html}"
                    f"<h3>Articles, duplicates and rejects per run</h3>{per_run}</section>")

    lake_snapshots = snapshots(con, HISTORY_RUNS)
    if lake_snapshots:
        by_snapshot = {int(r["snapshot_id"]): r["run_id"] for r in runs if r.get("snapshot_id") is not None}
        sections.append("<section><h2>DuckLake snapshots</h2><p>Read the warehouse as a run left it: "
                        "<code>SELECT … FROM articles AT (VERSION =&gt; id)</code></p>"
                        + _table(snapshot_rows(lake_snapshots, by_snapshot), [
                            ("anchor", "snapshot"), ("snapshot_time", "committed"), ("run", "run"),
                            ("changes", "changes")]) + "</section>")
    sections.append(_decoding_section(con, latest["run_id"] if latest else None))

    # Entities and events
    top_entities = _rows(con, "SELECT e.name, e.type, e.country_code, count(*) AS mentions, "
                              "count(DISTINCT m.article_id) AS articles FROM entity_mentions m "
                              "JOIN entities e ON e.entity_id = m.entity_id GROUP BY ALL "
                              "ORDER BY mentions DESC, e.name LIMIT 15")
    events = _rows(con, "SELECT event_type, name, short_name, status, event_date, signatories, "
                        "signatory_codes, article_count, source_count, last_seen FROM events "
                        "ORDER BY last_seen DESC NULLS LAST, article_count DESC LIMIT 25")
    for event in events:
        event["signatories"] = list(event["signatories"] or [])
        event["signatory_codes"] = list(event["signatory_codes"] or [])
    sections.append(
        "<section><h2>Entities found</h2>"
        + horizontal_bar_chart([(f"{e['name']} ({e['type']})", float(e["mentions"])) for e in top_entities])
        + "<h2>Events and their signatories</h2>"
        + _table(events, [("event_type", "type"), ("name", "name"), ("short_name", "short"),
                          ("status", "status"), ("event_date", "date"), ("signatories", "signatories"),
                          ("signatory_codes", "codes"), ("article_count", "articles"),
                          ("source_count", "sources")], "No events extracted yet.")
        + "</section>"
    )

    # Validation: pass rate per suite over runs, then the latest failures
    pass_rates = _rows(con, "SELECT suite, run_id, min(validated_at) AS first_at, "
                            "avg(CASE WHEN success THEN 1.0 ELSE 0.0 END) AS pass_rate "
                            "FROM validation_results GROUP BY suite, run_id ORDER BY first_at, suite")
    recent_runs = list(dict.fromkeys(r["run_id"] for r in pass_rates))[-HISTORY_RUNS:]
    by_suite: dict[str, list[tuple[str, float]]] = {}
    for row in pass_rates:
        if row["run_id"] in recent_runs:
            by_suite.setdefault(row["suite"], []).append((row["run_id"], float(row["pass_rate"])))
    failures = _rows(con, "SELECT run_id, suite, expectation, severity, unexpected_count, unexpected_sample, "
                          "validated_at FROM validation_results WHERE NOT success "
                          "ORDER BY validated_at DESC, severity, suite, expectation LIMIT ?", [FAILURE_ROWS])
    for failure in failures:
        link = _docs_link(data_docs_index, out_path, failure["suite"], failure["run_id"])
        failure["_raw"] = ("docs",)
        failure["docs"] = f'<a href="{html.escape(link)}">Data Docs</a>' if link else ""
        sample = failure["unexpected_sample"] or ""
        failure["unexpected_sample"] = sample if len(sample) <= 160 else sample[:157] + "…"
        failure["_class"] = failure["severity"]
    docs_line = ""
    if data_docs_index is not None and Path(data_docs_index).exists():
        docs_href = Path(os.path.relpath(data_docs_index, out_path.parent)).as_posix()
        docs_line = f'<p><a href="{html.escape(docs_href)}">Open the Great Expectations Data Docs</a></p>'
    sections.append(
        "<section><h2>Validation pass rate per suite</h2>"
        + line_chart(by_suite, y_max=1.0, y_label="pass rate", percent=True)
        + "<h2>Latest failures</h2>" + docs_line
        + _table(failures, [("validated_at", "when"), ("run_id", "run"), ("suite", "suite"),
                            ("expectation", "expectation"), ("severity", "severity"),
                            ("unexpected_count", "rows"), ("unexpected_sample", "sample"), ("docs", "")],
                 "No failed expectations.")
        + "</section>"
    )

    if _has_table(con, "quarantine"):
        held = _rows(con, "SELECT run_id, table_name, expectation, count(*) AS rows FROM quarantine "
                          "GROUP BY ALL ORDER BY run_id DESC, rows DESC LIMIT 20")
        sections.append("<section><h2>Quarantined rows</h2>" + _table(held, [
            ("run_id", "run"), ("table_name", "table"), ("expectation", "expectation"), ("rows", "rows")],
            "Nothing quarantined.") + "</section>")

    page = _PAGE.format(
        generated=_esc(generated.strftime("%Y-%m-%d %H:%M UTC")), body="\n".join(sections), css=_CSS, js=_JS
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(page, encoding="utf-8")
    return out_path


def _decoding_section(con: duckdb.DuckDBPyConnection, run_id: str | None) -> str:
    """The latest run's documents whose charset was overridden or guessed, or whose feed parse was bozo."""
    title = f"<h2>Decoding (latest run {_esc(run_id or '')})</h2>"
    if run_id is None:
        return f'<section id="decoding">{title}<p class="empty">No runs recorded yet.</p></section>'
    if not _has_columns(con, "documents", DECODING_COLUMNS):
        return (f'<section id="decoding">{title}<p class="empty">Not recorded: this warehouse predates the '
                "documents.encoding columns; the next run adds them.</p></section>")
    flagged = "(encoding_note IS NOT NULL OR parse_warning IS NOT NULL)"
    count, total = con.execute(f"SELECT count(*) FILTER (WHERE {flagged}), count(*) FROM documents "
                               "WHERE run_id = ?", [run_id]).fetchone()
    if not count:
        return (f'<section id="decoding">{title}<p class="empty" data-decoding-count="0">All {total} '
                "documents of this run read as their declared charset; no feed parse warnings.</p></section>")
    rows = _rows(con, "SELECT source, uri, encoding, encoding_note, parse_warning FROM documents "
                      f"WHERE run_id = ? AND {flagged} ORDER BY source, uri LIMIT ?", [run_id, DECODING_ROWS])
    more = f" (the first {DECODING_ROWS} shown)" if count > DECODING_ROWS else ""
    return (f'<section id="decoding">{title}<p data-decoding-count="{count}">{count} of {total} documents '
            f"with an overridden or guessed charset or a feed parse warning{more}.</p>"
            + _table(rows, [("source", "source"), ("uri", "uri"), ("encoding", "encoding"),
                            ("encoding_note", "note"), ("parse_warning", "feed parse warning")])
            + "</section>")


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#111827;
background:#f9fafb}
header{background:#111827;color:#f9fafb;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:2px 0 0;color:#9ca3af}main{padding:8px 24px 40px;max-width:1100px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px 16px;margin:14px 0}
h2{font-size:16px;margin:6px 0 10px}h3{font-size:14px;margin:14px 0 6px;color:#374151}
.cards{display:flex;flex-wrap:wrap;gap:10px;background:none;border:none;padding:0}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:10px 14px;min-width:110px}
.card b{display:block;font-size:20px}.card span{color:#6b7280;font-size:12px}
table{border-collapse:collapse;width:100%;font-size:13px;margin-top:6px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #f3f4f6;vertical-align:top;overflow-wrap:anywhere}
th{color:#6b7280;font-weight:600}td.ok{color:#15803d}td.bad,td.critical{color:#b91c1c;font-weight:600}
td.warning{color:#b45309}.empty{color:#6b7280;font-style:italic}
svg.chart{max-width:100%;height:auto}.grid{stroke:#e5e7eb}.tick{font-size:11px;fill:#6b7280}
.legend{display:flex;flex-wrap:wrap;gap:12px;font-size:12px;color:#374151;margin-top:4px}
.legend .key{cursor:pointer}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
.legend .key.off{opacity:.35}g.series.off{display:none}
"""

# Clicking a legend entry hides or shows that line; nothing else needs script.
_JS = """
document.querySelectorAll('figure').forEach(function(fig){
  fig.querySelectorAll('.legend .key[data-series]').forEach(function(key){
    key.addEventListener('click', function(){
      key.classList.toggle('off');
      fig.querySelectorAll('g.series').forEach(function(g){
        if (g.dataset.series === key.dataset.series) g.classList.toggle('off');
      });
    });
  });
});
"""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wirelake run report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{css}</style></head>
<body><header><h1>wirelake run report</h1><p>generated {generated}</p></header>
<main>
{body}
</main><script>{js}</script></body></html>
"""
