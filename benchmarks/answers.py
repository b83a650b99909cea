"""How much of the corpus of real answers (tests/answers: whole programs as chat models write them) gptnet reads:
the share read exactly, refused (with each reason) and wrong, judged as tests/test_answers.py judges them (against
the program itself run in PyTorch), and the reader's median time per answer.

    python benchmarks/answers.py [--verbose] [NAME ...]

Goal (issue 22): at least 90% read exactly, none wrong. Times: `parse` is parse_answer alone; `design` is what
`gptnet design --replay` does with the answer in-process (parse, validate, render, verify, write the folder)."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="answers to judge (file names in tests/answers without .md); all "
                                                 "when none is given")
    parser.add_argument("--verbose", action="store_true", help="a line per answer, with its parameter count")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["GPTNET_HOME"] = home  # the corpus's target goes here, not into the user's profiles
        from corpus import fixtures, install_any_target, judge

        install_any_target()
        verdicts = {}
        chosen = [fx for fx in fixtures() if fx.name in args.names or not args.names]
        if len(chosen) < len(set(args.names)):
            parser.error(f"no answer named {', '.join(sorted(set(args.names) - {fx.name for fx in chosen}))}")
        for fx in chosen:
            verdicts[fx.name] = judge(fx, Path(tempfile.mkdtemp(dir=home)) / "out")
            if args.verbose:
                v = verdicts[fx.name]
                print(f"{fx.name:32} {fx.style:38} {v.oracle_params:>11,} {v.status}")
    total = len(verdicts)
    by_status = {s: sorted(n for n, v in verdicts.items() if v.status == s) for s in ("exact", "refused", "wrong")}
    for status, names in by_status.items():
        print(f"{status}: {len(names)} of {total} ({100 * len(names) / total:.0f}%)")
        for name in names:  # an exact answer has a detail when gptnet removed and reported its softmax or the like
            if verdicts[name].detail:
                print(f"  {name}: {verdicts[name].detail}")
    for step in ("parse", "design"):
        ms = statistics.median(v.seconds[step] for v in verdicts.values()) * 1000
        print(f"median {step} time per answer: {ms:.1f} ms")


if __name__ == "__main__":
    main()
