"""One pipeline run, as `wirelake run --source DIR --warehouse DIR --quiet` does it, plus its summary as JSON.

`wirelake run` prints its summary as a table only, and the `runs` table is written before
the publish stage's own time is known, so the bench runs this instead: the same config
loading, the same sources, the same `flows.cli.run_once` and the same printed table, and
the summary dict written to `--summary-json`, with the wall-clock start and end of every
stage (so the bench can tell which stage held the memory peak). Optionally under
pyinstrument (`--profile`).

    python -m bench.pipeline_child --source DIR --warehouse DIR --summary-json FILE
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def record_stage_times(marks: dict[str, list[float]]) -> None:
    """Note when each stage starts and ends, passing the calls on to the CLI's own listener.

    `flows.progress` is the flow's hook for progress bars; the bench listens in on it rather
    than asking the flow for timestamps it has no other use for.
    """
    from flows import progress

    started, finished = progress.stage_started, progress.stage_finished

    def stage_started(stage: str, rows_in: int | None = None) -> None:
        marks[stage] = [time.time(), time.time()]
        started(stage, rows_in)

    def stage_finished(stage: str, rows_out: int | None = None) -> None:
        marks.setdefault(stage, [time.time(), time.time()])[1] = time.time()
        finished(stage, rows_out)

    progress.stage_started, progress.stage_finished = stage_started, stage_finished


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline_child")
    parser.add_argument("--source", required=True)
    parser.add_argument("--warehouse", required=True, type=Path)
    parser.add_argument("--summary-json", required=True, type=Path)
    parser.add_argument("--validation-mode", choices=("fail", "quarantine"))
    parser.add_argument("--profile", type=Path, help="write a pyinstrument profile (text; .html beside it)")
    args = parser.parse_args(argv)

    profiler = None
    if args.profile:
        try:
            from pyinstrument import Profiler
        except ImportError:
            print("--profile needs pyinstrument: "
                  ".venv/bin/uv pip install --python .venv/bin/python pyinstrument", file=sys.stderr)
            return 1
        profiler = Profiler(interval=0.005)
        profiler.start()

    from flows.cli import print_summary, run_once
    from flows.config import WirelakeConfig
    from flows.sources import sources_from_args

    overrides = {"validate": {"mode": args.validation_mode}} if args.validation_mode else {}
    cfg = WirelakeConfig.load(None, warehouse=args.warehouse, **overrides)
    sources = sources_from_args([args.source])
    stage_marks: dict[str, list[float]] = {}
    record_stage_times(stage_marks)
    imported = time.perf_counter()
    summary = run_once(cfg, sources, show_progress=False)
    finished = time.perf_counter()
    print_summary(summary)

    if profiler is not None:
        profiler.stop()
        args.profile.write_text(profiler.output_text(unicode=True, color=False), encoding="utf-8")
        args.profile.with_suffix(".html").write_text(profiler.output_html(), encoding="utf-8")

    args.summary_json.write_text(json.dumps({
        "summary": summary,
        # From this module's first line: the interpreter's own start-up is in the parent's wall time only.
        "import_seconds": round(imported - started, 3),
        "run_once_seconds": round(finished - imported, 3),
        "stage_marks": stage_marks,  # stage -> [start, end], seconds since the epoch
    }, default=str), encoding="utf-8")
    return int(summary.get("exit_code", 1))


if __name__ == "__main__":
    sys.exit(main())
