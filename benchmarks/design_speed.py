"""How long a design takes: the whole replayed `gptnet design` (a fresh process, as a user runs it) and
parse + validate + profile + latency estimates of the article's answer in this process.

    python benchmarks/design_speed.py [--repeats N]

Goals on the 2-core reference machine: under 3 s for the whole command, under 20 ms for parse + validate +
profile. The process start is timed too, as `python -c pass`, so the command's own share can be read off."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import resources


def _command_seconds(repeats: int) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    times, bare = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as cwd:
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True, env=env, cwd=cwd)
            bare.append(time.perf_counter() - t)
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "gptnet", "design", "--budget", "10M", "--target", "sd855", "--yes"],
                           check=True, env=env, cwd=cwd, capture_output=True)
            times.append(time.perf_counter() - t)
    return statistics.median(times), statistics.median(bare)


def _core_seconds(repeats: int) -> float:
    from gptnet.latency import estimates
    from gptnet.parse import parse_answer
    from gptnet.profile import profile_spec
    from gptnet.spec import ModelSpec
    from gptnet.targets import load_target
    from gptnet.validators import Task, validate

    turns = json.loads(resources.files("gptnet.data").joinpath("article.json").read_text(encoding="utf-8"))["turns"]
    answers = {t["stage"]: t["response"] for t in turns}
    task = Task(budget=10_000_000, classes=100, input=(3, 32, 32), target=load_target("sd855"))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model = parse_answer(answers["model"]).models[0]
        module = parse_answer(answers["module:DepthwiseConv2d"]).modules[0]
        spec, _ = validate(ModelSpec(layers=model.layers, modules=[module]), task)
        profile_spec(spec)
        estimates(spec, task.target)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    command, bare = _command_seconds(args.repeats)
    core = _core_seconds(args.repeats * 20)
    print(f"gptnet design --budget 10M --target sd855 (replayed, whole process): {command:.2f} s median "
          f"of {args.repeats} (goal < 3 s); python start-up alone: {bare:.2f} s")
    print(f"parse + validate + profile + latency estimates of the article's answer: {core * 1000:.1f} ms median "
          f"of {args.repeats * 20} (goal < 20 ms)")


if __name__ == "__main__":
    main()
