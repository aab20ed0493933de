"""The bench harness's own parts: ratios, targets, comparison, Markdown, export, memory sampling.

Fast and without corpora: the bench itself (`python -m bench`) is what reads ../shared.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from bench import report
from bench.__main__ import compute_measures, main, merge_with_previous, parse_args
from bench.corpora import ArticleRecord, evenly_spaced, export_jsonl, reuters_date
from bench.pipeline import PipelineRun
from bench.processes import TreeMemory, TreeMemorySampler, cpu_seconds, process_tree, rss_bytes

pytestmark = pytest.mark.unit


# -- ratios and targets -------------------------------------------------------------------------------

def test_ratio_divides_and_refuses_what_cannot_be_divided():
    assert report.ratio(3.0, 4.0) == pytest.approx(0.75)
    assert report.ratio(None, 4.0) is None
    assert report.ratio(3.0, None) is None
    assert report.ratio(3.0, 0.0) is None
    assert report.ratio(3.0, -1.0) is None
    assert report.ratio(math.nan, 2.0) is None
    assert report.ratio(1.0, math.inf) is None


@pytest.mark.parametrize(("name", "value", "passed"), [
    ("throughput", 0.8, True), ("throughput", 0.79, False),
    ("rerun", 0.05, True), ("rerun", 0.051, False),
    ("memory", 1.19, True), ("memory", 1.21, False),
])
def test_targets_follow_their_direction(name, value, passed):
    assert report.TARGETS[name].met_by(value) is passed


def test_the_issue_table_is_complete():
    assert list(report.TARGETS) == ["throughput", "rerun", "scaling", "memory", "html", "validation",
                                    "html_metadata", "text_f1", "titles", "title_rate", "bylines"]
    assert report.TARGETS["scaling"].bound == 11 and report.TARGETS["scaling"].direction == "<="
    assert report.TARGETS["html"].bound == 0.9 and report.TARGETS["html"].direction == ">="


def test_measure_records_both_sides_and_the_verdict():
    m = report.measure("validation", ("validate s", 2.0), ("extract s", 40.0))
    assert m["value"] == pytest.approx(0.05)
    assert m["passed"] is True
    assert m["numerator"] == {"label": "validate s", "value": 2.0}
    assert m["error"] is None
    missed = report.measure("validation", ("validate s", 12.0), ("extract s", 40.0))
    assert missed["passed"] is False and missed["value"] == pytest.approx(0.3)


def test_a_measure_without_a_denominator_fails_and_says_why():
    m = report.measure("throughput", ("pipeline articles/s", 10.0), ("spaCy articles/s", None))
    assert m["value"] is None and m["passed"] is False
    assert "spaCy articles/s=None" in m["error"]


# -- comparison with the previous result --------------------------------------------------------------

def test_worsening_depends_on_the_direction():
    assert report.worsening(">=", 1.0, 0.7) == pytest.approx(0.3)   # higher is better: a drop is worse
    assert report.worsening(">=", 1.0, 1.2) == pytest.approx(-0.2)
    assert report.worsening("<=", 0.1, 0.13) == pytest.approx(0.3)  # lower is better: a rise is worse
    assert report.worsening("<=", 0.1, 0.05) == pytest.approx(-0.5)
    assert report.worsening("<=", None, 0.05) is None
    assert report.worsening("<=", 0.0, 0.05) is None


def test_compare_flags_only_changes_beyond_the_tolerance():
    previous = {"throughput": {"value": 1.0}, "rerun": {"value": 0.10}, "html": {"value": 0.95}}
    current = {
        "throughput": report.measure("throughput", ("a", 0.75), ("b", 1.0)),  # 25% worse
        "rerun": report.measure("rerun", ("a", 0.11), ("b", 1.0)),            # 10% worse
        "html": report.measure("html", ("a", 1.0), ("b", 1.0)),               # better
        "validation": report.measure("validation", ("a", 1.0), ("b", 10.0)),  # new: nothing to compare
    }
    cmp = report.compare(current, previous)
    assert cmp["throughput"]["regressed"] is True and cmp["throughput"]["previous"] == 1.0
    assert cmp["rerun"]["regressed"] is False
    assert cmp["html"]["regressed"] is False and cmp["html"]["worse_by"] < 0
    assert cmp["validation"] == {"previous": None, "worse_by": None, "regressed": False}
    assert all(not c["regressed"] for c in report.compare(current, None).values())


# -- Markdown -----------------------------------------------------------------------------------------

def test_measures_table_shows_value_target_previous_and_regressions():
    current = {"throughput": report.measure("throughput", ("a", 0.5), ("b", 1.0)),
               "validation": report.failed_measure("validation", "bbc-first failed")}
    cmp = report.compare(current, {"throughput": {"value": 0.9}})
    table = report.measures_markdown(current, cmp).splitlines()
    assert table[0].startswith("| measure |")
    throughput = next(line for line in table if line.startswith("| throughput"))
    assert "0.500" in throughput and ">= 0.8" in throughput and "**FAIL**" in throughput
    assert "0.900" in throughput and "REGRESSED" in throughput
    validation = next(line for line in table if line.startswith("| validation"))
    assert "not measured" in validation


def test_stage_table_sums_seconds_and_shares():
    stages = {"clean": {"in": 10, "out": 9, "rejected": 1, "seconds": 1.0},
              "extract": {"in": 9, "out": 9, "rejected": 0, "seconds": 3.0}}
    text = report.stages_markdown("bbc-first", stages)
    assert "| clean | 10 | 9 | 1 | 1.00 | 25% |  |" in text
    assert "| extract | 9 | 9 | 0 | 3.00 | 75% |  |" in text
    assert "| **sum** | | | | 4.00 | | |" in text
    stages["extract"]["peak_rss_mib"] = 812.5
    assert "| extract | 9 | 9 | 0 | 3.00 | 75% | 812.5 |" in report.stages_markdown("bbc-first", stages)


def test_the_memory_peak_is_placed_in_the_stage_that_held_it():
    run = _run("bbc-first", 10.0, {"clean": 1.0, "extract": 5.0})
    mib = 2**20
    run.memory.timeline = [(100.0, 300 * mib), (101.5, 400 * mib), (103.0, 900 * mib), (107.0, 500 * mib)]
    run.stage_marks = {"clean": [100.5, 101.6], "extract": [101.6, 106.9], "validate": [108.0, 108.1]}
    assert run.stage_peaks_mib() == {"clean": 400.0, "extract": 900.0}  # no sample while validate ran
    stages = run.as_dict()["stages"]
    assert stages["extract"]["peak_rss_mib"] == 900.0 and stages["extract"]["seconds"] == 5.0


# -- measures from runs -------------------------------------------------------------------------------

def _run(label: str, wall: float, stages: dict[str, float], status: str = "published", exit_code: int = 0,
         articles: int = 100, rss_mib: int = 500, cpu: float | None = None) -> PipelineRun:
    return PipelineRun(label=label, articles_in=articles, exit_code=exit_code, wall_seconds=wall,
                       cpu_seconds=cpu, memory=TreeMemory(peak_rss_bytes=rss_mib * 1024 * 1024),
                       summary={"status": status, "new": 0, "stages": {
                           name: {"in": articles, "out": articles, "rejected": 0, "seconds": s}
                           for name, s in stages.items()}})


def test_measures_are_formed_from_the_runs_and_baselines():
    runs = {"bbc-first": _run("bbc-first", 20.0, {"extract": 10.0, "validate": 0.5}, cpu=16.0),
            "bbc-rerun": _run("bbc-rerun", 2.0, {"extract": 0.0, "validate": 0.5}, cpu=0.8),
            "reuters-first": _run("reuters-first", 180.0, {"extract": 90.0}, articles=1000, rss_mib=650,
                                  cpu=160.0)}
    ner = {"articles_per_second": 8.0, "articles_per_cpu_second": 10.0}
    html = {"pages": 3, "rounds": 1,
            "trafilatura": {"pages_per_second": 10.0, "pages_per_cpu_second": 12.0, "extracted": 3},
            "clean": {"pages_per_second": 9.5, "pages_per_cpu_second": 6.0, "articles": 3, "rejects": 0}}
    m = compute_measures(list(report.TARGETS), runs, ner, html, {})
    assert m["throughput"]["value"] == pytest.approx((100 / 20.0) / 8.0)
    assert m["rerun"]["value"] == pytest.approx(0.1) and m["rerun"]["passed"] is False
    assert m["scaling"]["value"] == pytest.approx(9.0) and m["scaling"]["passed"] is True
    assert m["memory"]["value"] == pytest.approx(1.3) and m["memory"]["passed"] is False
    assert m["html"]["value"] == pytest.approx(0.95) and m["html"]["passed"] is True
    assert m["validation"]["value"] == pytest.approx(0.05) and m["validation"]["passed"] is True
    # The same ratios on CPU seconds, beside the wall-clock ones (which alone decide pass/fail).
    assert m["throughput"]["cpu_value"] == pytest.approx((100 / 16.0) / 10.0)
    assert m["rerun"]["cpu_value"] == pytest.approx(0.05)
    assert m["scaling"]["cpu_value"] == pytest.approx(10.0)
    assert m["html"]["cpu_value"] == pytest.approx(0.5)
    assert m["memory"]["cpu_value"] is None
    assert "| 0.500 |" in report.measures_markdown({"html": m["html"]})


def test_a_failed_run_leaves_its_measures_unmeasured_with_the_reason():
    failed = _run("bbc-first", 3.0, {}, status="failed", exit_code=1)
    failed.error = "bbc-first: run failed (exit 1): boom"
    m = compute_measures(["validation", "throughput"], {"bbc-first": failed}, {"articles_per_second": 5.0},
                         None, {})
    assert m["validation"]["value"] is None and "boom" in m["validation"]["error"]
    assert m["throughput"]["passed"] is False


def test_a_run_held_back_by_validation_is_still_measured_and_noted():
    held = _run("bbc-first", 20.0, {"extract": 10.0, "validate": 4.0}, status="not_published", exit_code=2)
    m = compute_measures(["validation"], {"bbc-first": held}, None, None, {})
    assert m["validation"]["value"] == pytest.approx(0.4)
    assert "not_published" in m["validation"]["note"]


def test_only_measures_not_taken_now_are_carried_over():
    previous = {"mode": "full", "started_at": "2026-01-01T00:00:00+00:00", "repo": {"commit": "abc"},
                "measures": {"html": {"value": 0.5}, "rerun": {"value": 0.2}}, "runs": {"old": {}},
                "baselines": {"ner_only": {"articles_per_second": 3.0}, "html": None}}
    now = {"mode": "full", "measures": {"rerun": {"value": 0.1}}, "runs": {"bbc-first": {}},
           "baselines": {"ner_only": None, "html": None}}
    merged = merge_with_previous(now, previous)
    assert merged["measures"]["rerun"] == {"value": 0.1}
    assert merged["measures"]["html"]["carried_over"]["commit"] == "abc"
    assert list(merged["measures"]) == ["rerun", "html"]  # the issue's order
    assert set(merged["runs"]) == {"old", "bbc-first"}
    assert merged["baselines"]["ner_only"] == {"articles_per_second": 3.0}
    assert merge_with_previous({**now, "mode": "quick"}, previous)["measures"] == now["measures"]


# -- arguments and skipping -----------------------------------------------------------------------------

def test_quick_skips_the_reuters_measures_and_only_rejects_unknown_names(capsys):
    args = parse_args(["--quick"])
    assert set(args.skipped) == {"scaling", "memory"}
    assert args.measures == ["throughput", "rerun", "html", "validation", "html_metadata", "text_f1", "titles",
                             "title_rate", "bylines"]
    assert parse_args(["--only", "html, validation"]).measures == ["html", "validation"]
    with pytest.raises(SystemExit):
        parse_args(["--only", "speed"])
    assert "unknown measure" in capsys.readouterr().err


def test_without_corpora_the_bench_says_so_and_exits_zero(tmp_path, capsys):
    output = tmp_path / "latest.json"
    assert main(["--corpora", str(tmp_path / "absent"), "--output", str(output)]) == 0
    assert "skipped: no corpora" in capsys.readouterr().out
    assert not output.exists()


# -- corpus export --------------------------------------------------------------------------------------

def test_exported_articles_are_read_back_by_the_local_source(tmp_path):
    from flows.config import FetchConfig
    from flows.stages.fetchers.local import LocalSource

    records = [ArticleRecord("Harbour cranes idle as dock strike enters third day",
                             "Dock workers at the northern terminal kept their cranes still on Tuesday.",
                             "1987-02-26T15:01:01+00:00"),
               ArticleRecord(None, "A second story without a headline about grain prices.")]
    export_jsonl(records, tmp_path / "src", "sample")
    result = LocalSource("sample", str(tmp_path / "src"), FetchConfig()).fetch()
    assert [i.title for i in result.items] == [records[0].title, None]
    assert result.items[0].published_at.year == 1987
    assert result.items[1].content == records[1].text
    assert not result.rejects


def test_evenly_spaced_covers_the_whole_list():
    picked = evenly_spaced(list(range(100)), 10)
    assert picked == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert evenly_spaced([1, 2], 5) == [1, 2]


def test_reuters_dates_become_iso_or_none():
    assert reuters_date("26-FEB-1987 15:01:01.79") == "1987-02-26T15:01:01.790000+00:00"
    assert reuters_date("31-MAR-1987 605:12:19.12") is None
    assert reuters_date(None) is None


# -- memory of a process tree ---------------------------------------------------------------------------

def test_the_sampler_sees_a_child_and_its_grandchild(tmp_path):
    script = ("import subprocess, sys, time\n"
              "child = subprocess.Popen([sys.executable, '-c', 'import time; x = bytearray(40_000_000); "
              "time.sleep(0.6)'])\n"
              "child.wait()\n")
    proc = subprocess.Popen([sys.executable, "-c", script])  # noqa: S603 - our interpreter, our script
    with TreeMemorySampler(proc.pid, interval=0.05) as sampler:
        seen_tree = []
        while proc.poll() is None and len(seen_tree) < 2:
            seen_tree = process_tree(proc.pid)
        proc.wait()
    result = sampler.result
    assert len(seen_tree) == 2 and seen_tree[0] == proc.pid
    assert result.peak_processes == 2
    # The grandchild holds a 40 MB buffer: the tree's peak is more than that.
    assert result.peak_rss_bytes > 40_000_000
    assert rss_bytes(proc.pid) == 0  # gone and reaped


def test_cpu_seconds_of_children_count_a_finished_child():
    before = cpu_seconds("children")
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
    subprocess.run([sys.executable, "-c", burn], check=True)  # noqa: S603 - our interpreter, our script
    assert cpu_seconds("children") - before >= 0.3


def test_results_file_is_plain_json(tmp_path):
    from bench.__main__ import write_result

    path = tmp_path / "results" / "latest.json"
    write_result(path, {"measures": {"html": {"value": 0.5}}})
    assert json.loads(path.read_text())["measures"]["html"]["value"] == 0.5
    assert not list(path.parent.glob("*.tmp"))


def test_the_child_records_when_each_stage_ran_and_still_reports_progress(monkeypatch):
    from bench.pipeline_child import record_stage_times
    from flows import progress

    # Restored after the test: the child replaces these for the whole (one-run) process.
    monkeypatch.setattr(progress, "stage_started", progress.stage_started)
    monkeypatch.setattr(progress, "stage_finished", progress.stage_finished)

    class Listener:
        def __init__(self):
            self.calls = []

        def stage_started(self, stage, rows_in):
            self.calls.append(("start", stage, rows_in))

        def stage_finished(self, stage, rows_out):
            self.calls.append(("end", stage, rows_out))

    marks: dict[str, list[float]] = {}
    record_stage_times(marks)
    listener = Listener()
    with progress.listening(listener):
        progress.stage_started("clean", 5)
        progress.stage_finished("clean", 4)
    assert listener.calls == [("start", "clean", 5), ("end", "clean", 4)]
    start, end = marks["clean"]
    assert 0 < start <= end


def test_the_html_measure_interleaves_slices_and_keeps_each_slices_best_round(monkeypatch):
    """Both sides are timed slice by slice, alternating which goes first; a side's time is the sum
    of its best round per slice, so a slow spell hits both sides of the slices it covers."""
    from pathlib import Path

    from bench import baselines
    from bench.corpora import HtmlPage

    fixtures = Path(__file__).parent / "fixtures" / "clean"
    page = (fixtures / "council_budget.html").read_text(encoding="utf-8")
    pages = [HtmlPage(f"p{i}", f"https://example.org/{i}", page) for i in range(5)]
    monkeypatch.setattr(baselines, "HTML_SLICE_PAGES", 2)
    calls: list[tuple[str, int]] = []
    timed_trafilatura, timed_clean = baselines._time_trafilatura, baselines._time_clean
    def trafilatura_side(p, with_metadata=False):
        calls.append(("trafilatura_metadata" if with_metadata else "trafilatura", len(p)))
        return timed_trafilatura(p, with_metadata=with_metadata)

    monkeypatch.setattr(baselines, "_time_trafilatura", trafilatura_side)
    monkeypatch.setattr(baselines, "_time_clean",
                        lambda items, cfg: calls.append(("clean", len(items))) or timed_clean(items, cfg))
    result = baselines.html_path(pages, rounds=2)
    timed = calls[2:]  # after one warm-up call per side
    assert [n for _, n in timed] == [2, 2, 2, 2, 2, 2, 1, 1, 1] * 2  # 3 slices, three sides, 2 rounds
    t, tm, c = "trafilatura", "trafilatura_metadata", "clean"
    # The order rotates slice by slice, so no side is always first.
    assert [side for side, _ in timed[:9]] == [t, tm, c, tm, c, t, c, t, tm]
    assert timed[9][0] == tm  # the next round starts one step further on
    assert result["slice_pages"] == 2 and result["rounds"] == 2
    for side in ("trafilatura", "trafilatura_metadata", "clean"):
        rates = result[side]
        assert len(rates["seconds"]) == 2
        assert 0 < rates["best_seconds"] <= min(rates["seconds"]) + 1e-3
        assert rates["pages_per_second"] == pytest.approx(5 / rates["best_seconds"], rel=1e-3)
    assert result["trafilatura"]["extracted"] == 5
    assert result["clean"]["articles"] + result["clean"]["rejects"] == 5


# -- text quality scoring ------------------------------------------------------------------------------

def test_token_scores_are_multiset_precision_and_recall():
    from bench.text_quality import token_scores

    assert token_scores("a b b c", "a b c d") == (0.75, 0.75)
    assert token_scores(None, "a b") == (1.0, 0.0)  # nothing said: nothing wrong, everything missed
    assert token_scores("a", "") == (0.0, 1.0)


def test_titles_are_exact_but_for_whitespace_and_bylines_compare_names():
    from bench.text_quality import same_byline, same_title

    assert same_title("Harbour  wall\nrepaired", "Harbour wall repaired")
    assert not same_title("Harbour wall repaired", "harbour wall repaired")
    assert not same_title("It’s done", "It's done")  # quotes count in a title
    assert same_byline(["Jane Roe", "John Doe"], "By JANE ROE and John Doe")
    assert same_byline("Jane Roe; John Doe", "John Doe, Jane Roe")
    assert not same_byline(["Jane Roe"], "By Jane Roe and John Doe")
    assert not same_byline([], "Jane Roe")


def test_quality_measures_form_ratios_against_trafilatura():
    from bench.text_quality import quality_measures

    quality = {"main_text": {"wirelake": {"pages": 2, "precision": 0.9, "recall": 0.9, "f1": 0.9},
                             "trafilatura": {"pages": 2, "precision": 0.9, "recall": 1.0, "f1": 0.95}},
               "metadata": {"wirelake_titles": {"exact": 8, "of": 10}, "trafilatura_titles": {"exact": 7, "of": 10},
                            "wirelake_bylines": {"exact": 3, "of": 5}, "trafilatura_bylines": {"exact": 3, "of": 5}}}
    out = quality_measures(["text_f1", "titles", "title_rate", "bylines", "html_metadata"], None, quality, {})
    assert out["text_f1"]["passed"] is False and out["text_f1"]["value"] == pytest.approx(0.9 / 0.95, abs=1e-4)
    assert out["titles"]["passed"] and out["title_rate"]["value"] == 0.8 and out["title_rate"]["passed"]
    assert out["bylines"]["passed"]  # equal counts meet ">= trafilatura's"
    assert out["html_metadata"]["passed"] is False and "not measured" in out["html_metadata"]["error"]
