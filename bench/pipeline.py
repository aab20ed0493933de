"""One pipeline run in a real subprocess, timed from the outside, with the peak memory of its process tree."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.processes import TreeMemory, TreeMemorySampler, cpu_seconds

REPO_DIR = Path(__file__).resolve().parents[1]
DEFAULT_RUN_TIMEOUT_SECONDS = 3 * 3600.0


@dataclass
class PipelineRun:
    label: str
    articles_in: int
    exit_code: int
    wall_seconds: float
    memory: TreeMemory
    summary: dict[str, Any] = field(default_factory=dict)
    import_seconds: float | None = None
    run_once_seconds: float | None = None
    cpu_seconds: float | None = None  # the whole tree, user + system
    stage_marks: dict[str, list[float]] = field(default_factory=dict)  # stage -> [start, end], epoch s
    error: str | None = None

    @property
    def stages(self) -> dict[str, dict[str, Any]]:
        return self.summary.get("stages") or {}

    def stage_peaks_mib(self) -> dict[str, float]:
        """Per stage, the largest RSS of the tree sampled while it ran (a stage shorter than one
        sampling interval may have none)."""
        out = {}
        for stage, (start, end) in self.stage_marks.items():
            peak = self.memory.peak_between(start, end)
            if peak is not None:
                out[stage] = round(peak / (1024 * 1024), 1)
        return out

    @property
    def stage_seconds(self) -> float:
        return round(sum(float(c.get("seconds") or 0.0) for c in self.stages.values()), 3)

    def stage(self, name: str) -> float | None:
        counts = self.stages.get(name)
        return None if counts is None else float(counts.get("seconds") or 0.0)

    @property
    def articles_per_cpu_second(self) -> float | None:
        return self.articles_in / self.cpu_seconds if self.cpu_seconds else None

    @property
    def completed(self) -> bool:
        """Every stage ran; a run held back by validation (exit 2) still did all the work."""
        return self.error is None and self.exit_code in (0, 2) and bool(self.stages)

    @property
    def articles_per_second(self) -> float | None:
        return self.articles_in / self.wall_seconds if self.wall_seconds > 0 else None

    def as_dict(self) -> dict[str, Any]:
        s = self.summary
        peaks = self.stage_peaks_mib()
        return {
            "label": self.label, "articles_in": self.articles_in, "exit_code": self.exit_code,
            "status": s.get("status"), "message": s.get("message"), "error": self.error,
            "wall_seconds": round(self.wall_seconds, 3),
            "articles_per_second": (None if self.articles_per_second is None
                                    else round(self.articles_per_second, 2)),
            "cpu_seconds": None if self.cpu_seconds is None else round(self.cpu_seconds, 3),
            "import_seconds": self.import_seconds, "run_once_seconds": self.run_once_seconds,
            "stage_seconds_sum": self.stage_seconds,
            # Process start, imports, Prefect flow-run bookkeeping and read-prior: time in no stage.
            "outside_stages_seconds": round(self.wall_seconds - self.stage_seconds, 3),
            "memory": self.memory.as_dict(),
            "new": s.get("new"), "duplicates": s.get("duplicates"), "rejected": s.get("rejected"),
            "expectations": s.get("expectations"), "failed_expectations": s.get("failed_expectations"),
            "failures": s.get("failures"),
            "stages": {name: {**counts, **({"peak_rss_mib": peaks[name]} if name in peaks else {})}
                       for name, counts in self.stages.items()},
        }


def run_pipeline(label: str, source_dir: Path, warehouse: Path, env: dict[str, str], workdir: Path,
                 articles_in: int, validation_mode: str | None = None, profile: Path | None = None,
                 timeout: float = DEFAULT_RUN_TIMEOUT_SECONDS) -> PipelineRun:
    """Run the pipeline once over `source_dir` into `warehouse` and measure it."""
    summary_path = workdir / f"{label}.summary.json"
    log_path = workdir / f"{label}.log"
    cmd = [sys.executable, "-m", "bench.pipeline_child", "--source", str(source_dir),
           "--warehouse", str(warehouse), "--summary-json", str(summary_path)]
    if validation_mode:
        cmd += ["--validation-mode", validation_mode]
    if profile:
        cmd += ["--profile", str(profile)]
    error = None
    with open(log_path, "wb") as log:
        started, cpu_before = time.perf_counter(), cpu_seconds("children")
        # Its own session, so a timeout can stop spaCy's workers along with it.
        proc = subprocess.Popen(cmd, cwd=REPO_DIR,  # noqa: S603 - our own interpreter and module
                                env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        with TreeMemorySampler(proc.pid) as sampler:
            try:
                exit_code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_session(proc)
                exit_code = proc.returncode
                error = f"{label}: no result after {timeout:.0f} s; stopped"
            except BaseException:  # the bench itself is interrupted: leave no run behind
                _kill_session(proc)
                raise
        wall = time.perf_counter() - started
        cpu = cpu_seconds("children") - cpu_before
    payload: dict[str, Any] = {}
    if summary_path.exists():
        payload = json.loads(summary_path.read_text(encoding="utf-8"))
    elif error is None:
        error = (f"{label}: the run exited {exit_code} without a summary; last lines of {log_path}:\n"
                 f"{tail(log_path)}")
    summary = payload.get("summary") or {}
    if error is None and exit_code not in (0, 2):
        error = (f"{label}: run {summary.get('status', 'failed')} (exit {exit_code}): "
                 f"{summary.get('message')}; see {log_path}")
    return PipelineRun(label=label, articles_in=articles_in, exit_code=exit_code, wall_seconds=wall,
                       memory=sampler.result, summary=summary, import_seconds=payload.get("import_seconds"),
                       run_once_seconds=payload.get("run_once_seconds"), cpu_seconds=cpu,
                       stage_marks=payload.get("stage_marks") or {}, error=error)


def _kill_session(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
