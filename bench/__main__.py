"""`python -m bench`: measure the issue's ratios on ../shared/corpora and report them.

    python -m bench                      # everything (BBC, Reuters, HTML); Reuters takes a while
    python -m bench --quick              # 300 BBC articles, no Reuters: for development
    python -m bench --only html,validation
    python -m bench --profile-dir /tmp/prof   # pyinstrument profiles of the pipeline runs

Writes bench/results/latest.json (latest-quick.json with --quick), prints the table with
the previous result beside it, and flags any ratio more than 20% worse than before. The
exit code is 0 when targets are missed: this is a report, not a gate.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import baselines, corpora, report
from bench.machine import machine_info, repo_state
from bench.pipeline import DEFAULT_RUN_TIMEOUT_SECONDS, REPO_DIR, PipelineRun, run_pipeline
from bench.prefect_server import prefect_env, prefect_server
from bench.text_quality import QUALITY_MEASURES, quality_measures, text_quality

RESULTS_DIR = Path(__file__).resolve().parent / "results"
QUICK_BBC_ARTICLES = 300
RESULT_SCHEMA_VERSION = 1

# Which pipeline runs and baselines each measure needs.
NEEDS: dict[str, set[str]] = {
    "throughput": {"ner", "bbc"},
    "rerun": {"bbc", "bbc-rerun"},
    "scaling": {"bbc", "reuters"},
    "memory": {"bbc", "reuters"},
    "html": {"html"},
    "validation": {"bbc"},
    "html_metadata": {"html"},
    "text_f1": {"quality"},
    "titles": {"quality"},
    "title_rate": {"quality"},
    "bylines": {"quality"},
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", metavar="NAME[,NAME]",
                        help=f"measure only these: {', '.join(report.TARGETS)}")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_BBC_ARTICLES} BBC articles and no Reuters "
                        "(scaling and memory are skipped)")
    parser.add_argument("--quick-articles", type=int, default=QUICK_BBC_ARTICLES, help=argparse.SUPPRESS)
    parser.add_argument("--corpora", type=Path, default=corpora.CORPORA_DIR,
                        help="where the corpora are (default: ../shared/corpora beside the repo)")
    parser.add_argument("--output", type=Path, default=None,
                        help="result file (default: bench/results/latest.json; "
                        "latest-quick.json with --quick)")
    parser.add_argument("--validation-mode", choices=("fail", "quarantine"), default=None,
                        help="passed to the runs; default: the config's (fail)")
    parser.add_argument("--profile-dir", type=Path, default=None,
                        help="profile each pipeline run with pyinstrument and write the profiles here")
    parser.add_argument("--html-rounds", type=int, default=None,
                        help="rounds of the HTML timing (the best is kept)")
    parser.add_argument("--run-timeout", type=float, default=DEFAULT_RUN_TIMEOUT_SECONDS,
                        help="seconds before a pipeline run is stopped")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in report.TARGETS]
    if unknown:
        parser.error(f"--only {','.join(unknown)}: unknown measure; choose from {', '.join(report.TARGETS)}")
    args.measures = names or list(report.TARGETS)
    if args.quick:
        args.skipped = {n: "--quick skips Reuters" for n in args.measures if "reuters" in NEEDS[n]}
        args.measures = [n for n in args.measures if n not in args.skipped]
    else:
        args.skipped = {}
    return args


def load_previous(path: Path) -> dict[str, Any] | None:
    """The last result file, read before this run overwrites it; None if absent or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def say(message: str) -> None:
    print(message, flush=True)


def _stop_on_signals() -> None:
    """SIGTERM (and SIGINT, which a shell's background job ignores) end the bench through its
    `finally` blocks, so the Prefect server and a running pipeline are stopped, not orphaned."""
    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


@dataclass
class Measured:
    """What the bench has measured so far; filled phase by phase, so an interrupted bench still reports."""

    bbc: list | None = None
    reuters: list | None = None
    runs: dict[str, PipelineRun] = field(default_factory=dict)
    ner: dict[str, Any] | None = None
    html: dict[str, Any] | None = None
    quality: dict[str, Any] | None = None
    errors: dict[str, str] = field(default_factory=dict)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.corpora.is_dir():
        say(f"bench: skipped: no corpora at {args.corpora} (the benchmarks read ../shared/corpora beside the "
            "repo; nothing was measured)")
        return 0
    output = args.output or RESULTS_DIR / ("latest-quick.json" if args.quick else "latest.json")
    previous = load_previous(output)
    started_at = datetime.now(UTC)
    extract_cfg = _extract_config()
    measured = Measured()
    interrupted: str | None = None
    try:
        measure_all(args, extract_cfg, measured)
    except (KeyboardInterrupt, SystemExit) as exc:
        code = getattr(exc, "code", None)  # SystemExit(128 + signal) from _stop_on_signals
        interrupted = f"interrupted (exit {code})" if code else "interrupted"
        say(f"bench: {interrupted}; reporting what was measured")

    measures = compute_measures(args.measures, measured.runs, measured.ner, measured.html, measured.errors)
    measures.update(quality_measures([m for m in args.measures if m in QUALITY_MEASURES],
                                     measured.html, measured.quality, measured.errors))
    if interrupted:
        # Keep the previous values of what this bench did not get to, rather than overwrite them with nothing.
        measures = {name: m for name, m in measures.items() if m["value"] is not None}
    bbc, reuters = measured.bbc, measured.reuters
    result = {
        "schema": RESULT_SCHEMA_VERSION,
        "mode": "quick" if args.quick else "full",
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "interrupted": interrupted,
        "machine": machine_info(),
        "repo": repo_state(REPO_DIR),
        "config": {"spacy_model": extract_cfg.spacy_model, "n_process": extract_cfg.n_process,
                   "batch_size": extract_cfg.batch_size, "validation_mode": args.validation_mode or "fail",
                   "bbc_articles": len(bbc) if bbc is not None else None,
                   "reuters_articles": len(reuters) if reuters is not None else None},
        "measures": measures,
        "runs": {label: run.as_dict() for label, run in measured.runs.items()},
        "baselines": {"ner_only": measured.ner, "html": measured.html, "text_quality": measured.quality},
        "skipped": args.skipped,
    }
    comparison = report.compare(measures, (previous or {}).get("measures"))
    result["comparison"] = comparison
    merged = merge_with_previous(result, previous)
    write_result(output, merged)
    print_report(result, comparison, output, previous)
    return 130 if interrupted else 0


def measure_all(args: argparse.Namespace, extract_cfg, measured: Measured) -> None:
    """Every phase the requested measures need: HTML path, NER baseline, then the pipeline runs."""
    needs = set().union(*(NEEDS[n] for n in args.measures)) if args.measures else set()
    errors = measured.errors
    if needs & {"bbc", "bbc-rerun", "ner"}:
        if reason := corpora.missing(args.corpora, corpora.BBC_FILE):
            errors["bbc"] = reason
        else:
            measured.bbc = corpora.bbc_articles(args.corpora)
            if args.quick:
                measured.bbc = corpora.evenly_spaced(measured.bbc, args.quick_articles)
    if "reuters" in needs:
        if reason := corpora.missing(args.corpora, corpora.REUTERS_FILE):
            errors["reuters"] = reason
        else:
            measured.reuters = corpora.reuters_articles(args.corpora)

    if "html" in needs:
        if reason := corpora.missing(args.corpora, corpora.HTML_DIR):
            errors["html"] = reason
        else:
            pages = corpora.html_pages(args.corpora)
            rounds = args.html_rounds or (1 if args.quick else 3)
            say(f"bench: HTML path: trafilatura alone vs the clean stage on {len(pages)} pages, "
                f"{rounds} round(s)")
            measured.html = baselines.html_path(pages, rounds=rounds)

    if "quality" in needs:
        say("bench: text quality: main-text F1 (181 pages), titles and bylines (readability pages), "
            "clean stage vs trafilatura on the same bytes")
        quality = text_quality(corpora.html_pages(args.corpora), args.corpora)
        if isinstance(quality, str):
            errors["quality"] = quality
        else:
            measured.quality = quality

    bbc = measured.bbc
    if "ner" in needs and bbc is not None:
        say(f"bench: spaCy NER-only baseline on {len(bbc)} BBC texts ({extract_cfg.spacy_model}, "
            f"n_process={extract_cfg.n_process}, batch_size={extract_cfg.batch_size})")
        ner = baselines.ner_only([a.text for a in bbc], extract_cfg.spacy_model, extract_cfg.n_process,
                                 extract_cfg.batch_size)
        measured.ner = ner
        say(f"bench:   {ner['articles_per_second']} articles/s ({ner['seconds']} s, "
            f"components {ner['components']})")

    if needs & {"bbc", "reuters"} and (bbc is not None or measured.reuters is not None):
        with tempfile.TemporaryDirectory(prefix="wirelake-bench-") as tmp_name:
            try:
                _pipeline_runs(args, Path(tmp_name), needs, measured)
            except RuntimeError as exc:  # the Prefect server did not come up
                errors["pipeline"] = str(exc)
                say(f"bench: error: {exc}")


def _extract_config():
    from flows.config import WirelakeConfig

    return WirelakeConfig().extract


def _pipeline_runs(args: argparse.Namespace, tmp: Path, needs: set[str], measured: Measured) -> None:
    runs, bbc, reuters = measured.runs, measured.bbc, measured.reuters
    say("bench: starting a Prefect API server for the runs")
    with prefect_server(tmp) as api_url:
        env = prefect_env(tmp / "run-prefect-home", api_url)

        def run(label: str, records, warehouse: Path) -> PipelineRun:
            source = tmp / f"{label.split('-')[0]}-source"
            if not source.exists():
                corpora.export_jsonl(records, source, label.split("-")[0])
            profile = args.profile_dir / f"{label}.txt" if args.profile_dir else None
            if profile:
                args.profile_dir.mkdir(parents=True, exist_ok=True)
            say(f"bench: run {label}: {len(records)} articles → {warehouse.name}")
            t0 = time.perf_counter()
            result = run_pipeline(label, source, warehouse, env, tmp, len(records), args.validation_mode,
                                  profile, args.run_timeout)
            say(f"bench:   {result.summary.get('status', 'failed')} (exit {result.exit_code}) in "
                f"{time.perf_counter() - t0:.1f} s, stage sum {result.stage_seconds:.1f} s, "
                f"peak RSS {result.memory.as_dict()['peak_rss_mib']} MiB")
            if result.error:
                say(f"bench:   error: {result.error}")
            return result

        if bbc is not None and needs & {"bbc", "bbc-rerun"}:
            runs["bbc-first"] = run("bbc-first", bbc, tmp / "warehouse-bbc")
            if "bbc-rerun" in needs:
                runs["bbc-rerun"] = run("bbc-rerun", bbc, tmp / "warehouse-bbc")
        if reuters is not None and "reuters" in needs:
            runs["reuters-first"] = run("reuters-first", reuters, tmp / "warehouse-reuters")


def _usable(run: PipelineRun | None, label: str) -> str | None:
    """Why `run` cannot be used for a measure, or None."""
    if run is None:
        return f"no {label} run"
    if not run.completed:
        return run.error or f"{label} did not complete (exit {run.exit_code})"
    return None


def _status_note(*runs: PipelineRun) -> str | None:
    # "no_new_data" is what an unchanged re-run should say; anything else but "published" is worth a note.
    held = [f"{r.label} {r.summary.get('status')}" for r in runs
            if r.summary.get("status") not in ("published", "no_new_data")]
    return f"not published (all stages ran; timings still count): {', '.join(held)}" if held else None


def compute_measures(names: list[str], runs: dict[str, PipelineRun], ner: dict | None, html: dict | None,
                     errors: dict[str, str]) -> dict[str, dict]:
    """Each requested measure from the runs and baselines; what could not be measured says why."""
    first, rerun, big = runs.get("bbc-first"), runs.get("bbc-rerun"), runs.get("reuters-first")
    pipeline_error = errors.get("pipeline")
    out: dict[str, dict] = {}
    for name in names:
        missing = [errors[k] for k in NEEDS[name] if k in errors]
        if pipeline_error:
            missing.append(pipeline_error)
        if name in QUALITY_MEASURES:
            continue  # quality_measures forms these
        if name == "html":
            if html is None:
                out[name] = report.failed_measure(name, "; ".join(missing) or "HTML path not measured")
            else:
                out[name] = report.measure(
                    name, ("clean stage pages/s", html["clean"]["pages_per_second"]),
                    ("trafilatura pages/s", html["trafilatura"]["pages_per_second"]),
                    cpu_value=report.ratio(html["clean"].get("pages_per_cpu_second"),
                                           html["trafilatura"].get("pages_per_cpu_second")),
                    note=f"{html['pages']} pages in slices of {html.get('slice_pages', html['pages'])}, "
                         f"interleaved, best of {html['rounds']} per slice; clean kept "
                         f"{html['clean']['articles']}, rejected {html['clean']['rejects']}; "
                         f"trafilatura extracted {html['trafilatura']['extracted']}")
            continue
        if missing:
            out[name] = report.failed_measure(name, "; ".join(missing))
            continue
        if name == "throughput":
            why = _usable(first, "bbc-first") or (None if ner else "no NER baseline")
            if why:
                out[name] = report.failed_measure(name, why)
                continue
            flow_rate = first.articles_in / first.stage_seconds if first.stage_seconds else None
            flow_ratio = report.ratio(flow_rate, ner["articles_per_second"])
            out[name] = report.measure(
                name, ("pipeline articles/s (wall)", first.articles_per_second),
                ("spaCy NER-only articles/s", ner["articles_per_second"]),
                cpu_value=report.ratio(first.articles_per_cpu_second, ner.get("articles_per_cpu_second")),
                note=_join(f"{first.articles_in} articles; on stage seconds alone the ratio is "
                           f"{flow_ratio:.3f}" if flow_ratio else None, _status_note(first)))
        elif name == "rerun":
            why = _usable(first, "bbc-first") or _usable(rerun, "bbc-rerun")
            if why:
                out[name] = report.failed_measure(name, why)
                continue
            out[name] = report.measure(
                name, ("re-run wall s", rerun.wall_seconds), ("first run wall s", first.wall_seconds),
                cpu_value=report.ratio(rerun.cpu_seconds, first.cpu_seconds),
                note=_join(f"re-run stored {rerun.summary.get('new')} new articles; stage-sum ratio "
                           f"{report.ratio(rerun.stage_seconds, first.stage_seconds) or 0:.3f}",
                           _status_note(first, rerun)))
        elif name == "scaling":
            why = _usable(first, "bbc-first") or _usable(big, "reuters-first")
            if why:
                out[name] = report.failed_measure(name, why)
                continue
            out[name] = report.measure(
                name, ("Reuters wall s", big.wall_seconds), ("BBC wall s", first.wall_seconds),
                cpu_value=report.ratio(big.cpu_seconds, first.cpu_seconds),
                note=_join(f"{big.articles_in} vs {first.articles_in} articles "
                           f"({big.articles_in / first.articles_in:.1f}x); stage-sum ratio "
                           f"{report.ratio(big.stage_seconds, first.stage_seconds) or 0:.2f}",
                           _status_note(first, big)))
        elif name == "memory":
            why = _usable(first, "bbc-first") or _usable(big, "reuters-first")
            if why:
                out[name] = report.failed_measure(name, why)
                continue
            mib = 1024 * 1024
            pss_ratio = report.ratio(big.memory.peak_pss_bytes, first.memory.peak_pss_bytes)
            out[name] = report.measure(
                name, ("Reuters peak RSS MiB", big.memory.peak_rss_bytes / mib),
                ("BBC peak RSS MiB", first.memory.peak_rss_bytes / mib),
                note=f"PSS ratio {pss_ratio:.3f}" if pss_ratio else None)
        elif name == "validation":
            why = _usable(first, "bbc-first")
            if why:
                out[name] = report.failed_measure(name, why)
                continue
            out[name] = report.measure(name, ("validate s", first.stage("validate")),
                                       ("extract s", first.stage("extract")), note=_status_note(first))
    return out


def _join(*parts: str | None) -> str | None:
    kept = [p for p in parts if p]
    return "; ".join(kept) if kept else None


def merge_with_previous(result: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """With --only, the measures (and runs) not taken this time are kept from the previous file, marked so."""
    if not previous or previous.get("mode") != result["mode"]:
        return result
    merged = dict(result)
    stamp = {"measured_at": previous.get("started_at"), "commit": (previous.get("repo") or {}).get("commit")}
    merged["measures"] = {**{name: {**m, "carried_over": m.get("carried_over") or stamp}
                             for name, m in (previous.get("measures") or {}).items()
                             if name not in result["measures"]},
                          **result["measures"]}
    merged["measures"] = {name: merged["measures"][name] for name in report.TARGETS
                          if name in merged["measures"]}
    merged["runs"] = {**(previous.get("runs") or {}), **result["runs"]}
    merged["baselines"] = {k: v if v is not None else (previous.get("baselines") or {}).get(k)
                           for k, v in result["baselines"].items()}
    return merged


def write_result(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")  # bench/results/*.tmp is git-ignored
    tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def print_report(result: dict[str, Any], comparison: dict[str, dict], output: Path,
                 previous: dict[str, Any] | None) -> None:
    measures = result["measures"]
    repo = result["repo"]
    say("")
    say(f"## wirelake bench ({result['mode']}) at {repo.get('commit') or '?'}"
        f"{' (dirty tree)' if repo.get('dirty') else ''}, {result['machine']['cores']} cores")
    if previous:
        say(f"previous: {previous.get('started_at')} at {(previous.get('repo') or {}).get('commit')}")
    if result.get("interrupted"):
        say(f"**{result['interrupted']}**: only what was measured before is reported")
    say("")
    say(report.measures_markdown(measures, comparison))
    for label, run in result["runs"].items():
        say("")
        memory = run["memory"]
        say(report.stages_markdown(
            f"{label}: {run['status']} (exit {run['exit_code']}), {run['articles_in']} articles, wall "
            f"{run['wall_seconds']:.1f} s ({run['articles_per_second']} articles/s), outside stages "
            f"{run['outside_stages_seconds']:.1f} s, peak RSS {memory['peak_rss_mib']} MiB "
            f"(PSS {memory['peak_pss_mib']} MiB, {memory['peak_processes']} processes)", run["stages"]))
    say("")
    for name, why in result["skipped"].items():
        say(f"skipped: {name} ({why})")
    for name, m in measures.items():
        if m.get("note"):
            say(f"note: {name}: {m['note']}")
        if m.get("error"):
            say(f"not measured: {name}: {m['error']}")
    regressed = [name for name, c in comparison.items() if c.get("regressed")]
    failed = report.failed_targets(measures)
    say("")
    say(f"targets met: {len(measures) - len(failed)} of {len(measures)}"
        + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    if regressed:
        say(f"REGRESSED more than {report.REGRESSION_TOLERANCE:.0%} since the previous result: "
            f"{', '.join(regressed)}")
    say(f"results: {output}")


if __name__ == "__main__":
    _stop_on_signals()
    sys.exit(main())
