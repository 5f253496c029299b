"""One side of bench_speed.py: maldoc in-process (`--jobs 0`), analysis and scoring, file by file.

    python bench/speed_maldoc.py LIST.json OUT.json [--profile N]

Reads a JSON list of {"path", "name", "format"}; writes one JSON object to OUT.json: wall and CPU
seconds per file (in list order), the process's peak RSS, the set-up time (imports, model load)
and, with --profile, the top N functions by cumulative time over the whole run (the per-file times
then include the profiler).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

T0 = time.perf_counter()

from maldoc.engine import analyze  # noqa: E402
from maldoc.extractor import registry  # noqa: E402
from maldoc.model import load_scorer  # noqa: E402
from maldoc.scoring import build_verdict  # noqa: E402


def main() -> None:
    with open(sys.argv[1]) as handle:
        files = json.load(handle)
    profile = int(sys.argv[sys.argv.index("--profile") + 1]) if "--profile" in sys.argv else 0
    scorer = load_scorer()
    registry()
    setup = time.perf_counter() - T0
    blobs = [Path(f["path"]).read_bytes() for f in files]  # reading is not what is measured
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    times = []
    cpu = []
    labels = []
    for f, data in zip(files, blobs, strict=True):
        start, start_cpu = time.perf_counter(), time.process_time()
        verdict = build_verdict(analyze(data, f["name"]), scorer)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        labels.append(verdict.label.value)
    top: list[str] = []
    per_extractor: dict[str, list[float]] = {}
    if profiler is not None:
        import io
        import pstats

        profiler.disable()
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(profile + 12)
        top = [ln for ln in buffer.getvalue().splitlines() if ln.strip()]
        stats = pstats.Stats(profiler).stats  # (file, line, function) -> (cc, calls, tottime, cumtime, callers)
        for (path, _, func), (_, calls, _, cum, _) in stats.items():
            if func == "extract" and "/extractors/" in path:
                per_extractor[Path(path).stem] = [calls, cum]
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(sys.argv[2], "w") as out:
        json.dump({"times": times, "cpu": cpu, "labels": labels, "rss_mb": rss_kb / 1024, "setup_s": setup,
                   "profile": top, "extractors": per_extractor}, out)


if __name__ == "__main__":
    main()
