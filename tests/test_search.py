"""`gptnet search`: the offline proposer's determinism, a search killed with SIGKILL and resumed, Ctrl-C, and an LLM
search through the loopback OpenAI-compatible server that replays to the same leaderboard. Searches run tiny (a few
candidates, a few SGD steps on a small subset of digits) in the CLI, as a user runs them."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from conftest import ROOT, clean_env, run_cli
from fake_openai import FakeOpenAI, Script

TINY = ["--budget", "1M", "--target", "sd855", "--data", "digits", "--steps", "20", "--subset", "256"]
OFFLINE = [*TINY, "--trials", "6", "--per-round", "3", "--seed", "1"]
FILES = {"leaderboard.md", "leaderboard.json", "pareto.png", "conversation.json", "state.json", "candidates",
         "winner"}
ARTICLE = [t["response"] for t in json.loads((ROOT / "gptnet/data/article.json").read_text())["turns"]]


def search(tmp_path: Path, out: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return run_cli("search", *args, "--out", out, cwd=tmp_path, env=env, timeout=600)


def board(folder: Path) -> dict:
    return json.loads((folder / "leaderboard.json").read_text())


def untimed(folder: Path) -> list[dict]:
    """The leaderboard's candidates, timings aside."""
    return [{k: v for k, v in c.items() if k != "train_seconds"} for c in board(folder)["candidates"]]


def start(tmp_path: Path, out: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gptnet", "search", *args, "--out", out], cwd=tmp_path,
                            env=clean_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def measured(folder: Path) -> int:
    try:
        return len(json.loads((folder / "state.json").read_text())["measurements"])
    except (OSError, ValueError):  # not written yet (it is replaced whole, never half-written)
        return 0


def wait_for(folder: Path, count: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while measured(folder) < count and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (the search's training workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def workers_of(pid: int) -> list[int]:
    """The search's training workers (its other child is multiprocessing's resource tracker)."""
    return [c for c in children(pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except OSError:
        return False


def gone(pids: list[int], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not any(alive(p) for p in pids)


@pytest.fixture
def torch_threads():
    """Sets torch's threads in this process, as a search's workers train (the figures depend on the count), and
    puts the count before it back afterwards, so that later tests in this pytest worker do not inherit it."""
    import torch

    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def offline(tmp_path_factory) -> Path:
    """An offline search, uninterrupted: the reference the other runs must reproduce."""
    cwd = tmp_path_factory.mktemp("offline")
    r = search(cwd, "s", *OFFLINE)
    assert r.returncode == 0, r.stderr
    return cwd / "s"


def test_an_offline_search_writes_its_folder(offline: Path, tmp_path: Path) -> None:
    assert {p.name for p in offline.iterdir()} >= FILES
    b = board(offline)
    rows = b["candidates"]
    assert [c["origin"] for c in rows][0] == "design" and all(c["origin"].startswith("mutation:") for c in rows[1:])
    assert len([c for c in rows if c["accuracy"] is not None]) == 6
    for c in rows:
        assert set(c) >= {"hash", "origin", "parent", "params", "macs", "latency_ms", "accuracy", "train_seconds",
                          "pareto", "dropped"}
        assert c["params"] <= 1_000_000 and (c["parent"] is None) == (c["origin"] == "design")
        assert (offline / "candidates" / c["hash"] / "model.py").is_file()
    assert len({c["hash"] for c in rows}) == len(rows)  # nothing measured twice
    assert any(c["pareto"] for c in rows) and b["winner"] in {c["hash"] for c in rows if c["pareto"]}
    assert max(c["accuracy"] for c in rows) == next(c for c in rows if c["hash"] == b["winner"])["accuracy"]
    assert (offline / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (offline / "leaderboard.md").read_text()
    assert f"Winner: {b['winner']}" in md and md.count("| `") == 6
    # the winner's folder is what `gptnet design` writes, and its command reproduces it byte for byte
    winner = offline / "winner"
    assert {p.name for p in winner.iterdir()} >= {"model.py", "spec.json", "report.md", "conversation.json"}
    report = (winner / "report.md").read_text()
    assert "## Search" in report and f"candidate `{b['winner']}`" in report
    copy = tmp_path / "again"
    copy.mkdir()
    (copy / "conversation.json").write_bytes((winner / "conversation.json").read_bytes())
    r = run_cli("design", "--budget", "1M", "--target", "sd855", "--classes", "10", "--replay",
                str(copy / "conversation.json"), "--yes", "--out", str(copy / "out"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (copy / "out" / "model.py").read_bytes() == (winner / "model.py").read_bytes()
    assert (copy / "out" / "spec.json").read_bytes() == (winner / "spec.json").read_bytes()


def test_the_offline_proposer_repeats_itself_for_a_seed(offline: Path, tmp_path: Path) -> None:
    r = search(tmp_path, "again", *OFFLINE)
    assert r.returncode == 0, r.stderr
    assert untimed(tmp_path / "again") == untimed(offline)
    assert board(tmp_path / "again")["winner"] == board(offline)["winner"]


def test_a_time_limit_ends_the_search_after_what_fits(tmp_path: Path) -> None:
    """Round 0 always runs; after it, nothing starts that would end after --time-limit: here (1 s) nothing does, so
    the search ends with round 0's candidates and says so, and still writes its winner."""
    r = search(tmp_path, "t", *TINY, "--trials", "6", "--per-round", "3", "--time-limit", "1")
    assert r.returncode == 0, r.stderr
    assert "would end after the time limit of 1 s; the search ends with 3." in r.stderr
    rows = board(tmp_path / "t")["candidates"]
    assert len([c for c in rows if c["accuracy"] is not None]) == 3 and (tmp_path / "t" / "winner").is_dir()


def test_a_subset_smaller_than_a_batch_still_trains(tmp_path: Path) -> None:
    """--subset 10 with batch 64: one short batch a step (it used to draw no batch at all and never end)."""
    r = run_cli("search", *TINY[:-4], "--steps", "3", "--subset", "10", "--trials", "2", "--per-round", "2",
                "--out", "s", cwd=tmp_path, timeout=180)
    assert r.returncode == 0, r.stderr
    assert all(c["accuracy"] is not None for c in board(tmp_path / "s")["candidates"])


def test_offline_proposals_depend_on_the_seed_only(tmp_path: Path) -> None:
    from gptnet.agent.cassette import load_cassette
    from gptnet.agent.llm import ReplayLLM
    from gptnet.agent.pipeline import Designer
    from gptnet.design import Options, article_cassette, make_task
    from gptnet.render import render_model
    from gptnet.search.hashing import structure_hash
    from gptnet.search.proposers import OfflineProposer
    from gptnet.verify import check_source

    task = make_task(Options(budget="1M", target="sd855", classes=10))

    def round0(seed: int) -> list[str]:
        designer = Designer(task, ReplayLLM(load_cassette(article_cassette()), "article"), budget_text="1M")
        proposals = OfflineProposer(designer, seed, "cpu").propose(0, 8, [])
        for p in proposals:  # every mutant is a spec the validators passed, rendered to a file the verifier passes
            assert p.spec.head is not None and check_source(render_model(p.spec).encode()) is None
            assert sum(1 for f in p.findings if f.severity == "error") == 0
        return [f"{p.origin} {structure_hash(p.spec)}" for p in proposals]

    first = round0(3)
    assert len(first) == 8 and len(set(first)) == 8 and first[0].startswith("design ")
    assert round0(3) == first
    assert round0(4) != first


def test_offline_proposer_refines_the_winner_its_rule_picks_and_the_rest_of_the_front() -> None:
    """After round 0, about half the children mutate the current winner by --prefer's rule, the rest any other
    candidate on the front."""
    from gptnet.agent.cassette import load_cassette
    from gptnet.agent.llm import ReplayLLM
    from gptnet.agent.pipeline import Designer
    from gptnet.design import Options, article_cassette, make_task
    from gptnet.search.hashing import structure_hash
    from gptnet.search.leaderboard import Candidate
    from gptnet.search.proposers import OfflineProposer, Trial

    task = make_task(Options(budget="1M", target="sd855", classes=10))
    designer = Designer(task, ReplayLLM(load_cassette(article_cassette()), "article"), budget_text="1M")
    round0 = OfflineProposer(designer, 0, "cpu").propose(0, 6, [])
    # a trade-off front: each candidate one point better and one ms slower than the one before
    trials = [Trial(Candidate(index=i + 1, round=0, hash=structure_hash(p.spec), origin=p.origin,
                              accuracy=90.0 + i, latency_ms=1.0 + i, params=1000), p.spec)
              for i, p in enumerate(round0)]
    for prefer, best in (("accuracy", trials[5]), ("latency", trials[4])):  # the fastest within 1 point: 94%
        children = OfflineProposer(designer, 0, "cpu", prefer).propose(1, 30, trials)
        parents = [c.parent for c in children]
        assert len(children) == 30 and 8 <= parents.count(best.row.hash) <= 22, (prefer, parents)
        assert len(set(parents) - {best.row.hash}) >= 3  # the rest of the front is drawn too


def test_every_mutation_builds_and_runs(tmp_path: Path) -> None:
    import torch

    from gptnet.design import Options, design, make_task
    from gptnet.render import render_model
    from gptnet.search.mutations import MUTATIONS
    from gptnet.spec.graph import ModelSpec
    from gptnet.spec.walk import totals, walk
    from gptnet.validators import errors, validate

    start, _ = design(Options(budget="1M", target="sd855", classes=10, out=tmp_path / "d"))
    task = make_task(Options(budget="1M", target="sd855", classes=10))
    for name, mutate in MUTATIONS.items():
        made = next(m for m in (mutate(start.spec, random.Random(f"{name}{k}")) for k in range(20)) if m)
        mutant = ModelSpec.model_validate({**made[0].model_dump(mode="json"), "head": None})
        fixed, findings = validate(mutant, task)
        assert not errors(findings), (name, errors(findings))
        module = types.ModuleType(f"m_{name.replace('-', '_')}")
        exec(compile(render_model(fixed), name, "exec"), module.__dict__)  # noqa: S102 - gptnet's own rendering
        net = module.build_model(10)
        assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10), name
        assert sum(p.numel() for p in net.parameters()) == totals(walk(fixed))[0] <= 1_000_000, name


def test_scale_multiplies_every_width_and_keeps_the_input_and_the_classes(tmp_path: Path) -> None:
    """The width multiplier: every conv's output channels times the factor (a multiple of 8), the image channels and
    the class count kept, so the params shrink by about the factor squared."""
    from gptnet.design import Options, design
    from gptnet.search.mutations import MUTATIONS
    from gptnet.spec.layers import Conv2d, Linear
    from gptnet.spec.walk import totals, walk

    start, _ = design(Options(budget="1M", target="sd855", classes=10, out=tmp_path / "d"))
    seen = set()
    for k in range(12):
        mutant, change = MUTATIONS["scale"](start.spec, random.Random(f"scale{k}"))
        factor = float(change.rsplit("x", 1)[1])
        seen.add(factor)
        pairs = [(a, b) for a, b in zip(start.spec.layers, mutant.layers) if isinstance(a, Conv2d)]
        assert pairs and all(b.out_channels == max(8, round(a.out_channels * factor / 8) * 8) for a, b in pairs)
        assert pairs[0][1].in_channels == 3
        assert [n.out_features for n in mutant.layers if isinstance(n, Linear)][-1] == 10
        if factor < 1:
            ratio = totals(walk(mutant))[0] / totals(walk(start.spec))[0]
            assert factor ** 2 / 2 < ratio < factor ** 2 * 2, (factor, ratio)
    assert len(seen) > 1  # the factor is drawn


def test_slimming_mutations_pick_the_costliest_layer_on_the_backend(tmp_path: Path) -> None:
    """Narrow, remove-block and separable pick layers in proportion to their estimated latency: given the
    one-shot design's costs on the sd855 cpu they slim its costliest conv more often than a uniform draw does, and
    given all the cost on one layer they always pick that one."""
    from gptnet.design import Options, design
    from gptnet.latency import estimate
    from gptnet.search.mutations import BY_COST, MUTATIONS, costs
    from gptnet.spec.layers import Conv2d
    from gptnet.targets import load_target

    start, _ = design(Options(budget="1M", target="sd855", classes=10, out=tmp_path / "d"))
    cost = costs(start.spec, load_target("sd855"), "cpu")
    assert round(sum(cost.values()), 4) == estimate(start.spec, load_target("sd855"), "cpu").total_ms
    convs = [i for i, n in enumerate(start.spec.layers) if isinstance(n, Conv2d) and n.groups == 1 and i > 0]
    costliest = max(convs, key=cost.get)
    assert cost[costliest] == max(cost.values())  # the 200->392 conv, a quarter of the whole

    def hits(name: str, given: dict | None) -> int:
        return sum(f"layer {costliest}" in made[1] for k in range(60)
                   if (made := MUTATIONS[name](start.spec, random.Random(f"{name}{k}"), given)))

    for name in BY_COST:
        assert hits(name, cost) > hits(name, None), name
        assert hits(name, {costliest: 1.0}) == 60, name
    for name in set(MUTATIONS) - BY_COST:  # the proposer computes costs only for BY_COST: the others ignore them
        for k in range(10):
            with_cost, without = (MUTATIONS[name](start.spec, random.Random(f"{name}{k}"), given)
                                  for given in ({costliest: 1.0}, None))
            assert (with_cost and (with_cost[0].model_dump(), with_cost[1])) == \
                (without and (without[0].model_dump(), without[1])), name

    # a top-level residual (its sum is the table's row "3+") and a gate ("3*") count toward their layer
    from gptnet.spec.graph import Gate, Residual
    from gptnet.spec.layers import AdaptiveAvgPool2d, Sigmoid

    spec = start.spec.model_copy(deep=True)
    spec.layers[3:5] = [Residual(body=spec.layers[3:5]), Gate(gate=[AdaptiveAvgPool2d(output_size=1), Sigmoid()])]
    cost = costs(spec, load_target("sd855"), "cpu")
    assert round(sum(cost.values()), 4) == estimate(spec, load_target("sd855"), "cpu").total_ms
    assert cost[3] > 0 and cost[4] > 0


def test_squeeze_excite_gates_share_one_module_count_as_torch_and_need_a_target_that_runs_them(
        tmp_path: Path) -> None:
    """Two gates added by the mutation: one module, called at each width; the written model passes the verifier and
    agrees with thop; on a target without Mul and Sigmoid the mutant fails validation, so the proposer draws again."""
    import torch

    from conftest import load_model_module, thop_counts
    from gptnet.design import Options, design, make_task
    from gptnet.profile import profile_spec
    from gptnet.render import render_model
    from gptnet.search.hashing import structure_hash, summary
    from gptnet.search.mutations import squeeze_excite
    from gptnet.spec.graph import Call, Gate, ModelSpec
    from gptnet.validators import errors, validate
    from gptnet.verify import check_source

    start, _ = design(Options(budget="1M", target="sd855", classes=10, out=tmp_path / "d"))
    task = make_task(Options(budget="1M", target="sd855", classes=10))
    fixed = start.spec
    for k in range(2):  # as the proposer chains them: each mutant validated before the next mutation
        gated, change = next(m for m in (squeeze_excite(fixed, random.Random(f"se{k}:{j}")) for j in range(20)) if m)
        assert "squeeze-excite" in change
        assert structure_hash(gated) != structure_hash(fixed)  # a gate is structure: never dropped as a duplicate
        assert summary(gated).count("gate[gap + conv1x1") == k + 1
        mutant = ModelSpec.model_validate({**gated.model_dump(mode="json"), "head": None})
        fixed, findings = validate(mutant, task)
        assert not errors(findings), errors(findings)
    (module,) = [m for m in fixed.modules if any(isinstance(n, Gate) for n in m.body)]
    assert len([n for n in fixed.layers if isinstance(n, Call) and n.module == module.name]) == 2
    source = render_model(fixed)
    assert check_source(source.encode()) is None and "x = x * self.gate(x)" in source
    (tmp_path / "model.py").write_text(source)
    net = load_model_module(tmp_path / "model.py").build_model(10).eval()
    with torch.no_grad():
        assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    counted = profile_spec(fixed)
    assert thop_counts(net, (3, 32, 32)) == (counted.params, counted.macs)

    _, findings = validate(mutant, make_task(Options(budget="1M", target="rpi4", classes=10)))
    assert any(f.kind == "unsupported-operator" and ("Mul" in f.why or "Sigmoid" in f.why) for f in errors(findings))


def test_the_zero_cost_score_is_deterministic(offline: Path, torch_threads) -> None:
    from gptnet.search.proxy import Recipe, score_task

    torch_threads(1)
    recipe = Recipe(data="digits", input=(3, 32, 32), seed=1).model_dump()
    models = [str(offline / "candidates" / c["hash"] / "model.py") for c in board(offline)["candidates"][:2]]
    scores = [score_task((i, m, recipe))[1] for i, m in enumerate(models)]
    assert all(isinstance(v, float) and v > 0 for v in scores) and scores[0] != scores[1]
    assert score_task((0, models[0], recipe))[1] == scores[0]


def test_the_proxy_never_sees_the_test_set_and_never_trains_on_what_it_measures() -> None:
    """Candidates are compared on training images held out of every proxy training, the same ones for every seed;
    the test set is left for the winner's honest estimate (the benchmark's longer training uses it: on="test")."""
    import torch

    from gptnet.search.proxy import EVAL_IMAGES, Recipe, _data, _split

    for name, n in (("digits", 1437), ("mnist5k", 4000)):
        data = _data(name, (3, 32, 32), "data")
        assert len(data.train) == n
        held, pool = _split(n)
        assert len(held) == min(EVAL_IMAGES, n // 2) and len(held) + len(pool) == n
        assert not set(held.tolist()) & set(pool.tolist())
        assert torch.equal(held, _split(n)[0])  # fixed: every candidate and seed is measured on the same images
    assert "held out" in Recipe(data="digits", input=(3, 32, 32)).describe()
    assert "test accuracy" in Recipe(data="digits", input=(3, 32, 32), on="test").describe()


def test_structure_hash_ignores_spelling() -> None:
    from gptnet.search.hashing import structure_hash
    from gptnet.spec.graph import ModelSpec

    head = [{"op": "AdaptiveAvgPool2d"}, {"op": "Flatten"}, {"op": "Linear", "in_features": 16, "out_features": 10}]
    inline = ModelSpec(name="A", num_classes=10, layers=[
        {"op": "Conv2d", "in_channels": 3, "out_channels": 16, "kernel_size": 3, "padding": 1},
        {"op": "Conv2d", "in_channels": 16, "out_channels": 16, "kernel_size": 3, "padding": 1, "groups": 16},
        {"op": "ReLU"}, *head])
    module = ModelSpec(name="B", num_classes=10, layers=[
        {"op": "Conv2d", "in_channels": 3, "out_channels": 16, "kernel_size": 3, "padding": 1},
        {"op": "call", "module": "Dw", "args": [16]}, *head],
        modules=[{"name": "Dw", "params": ["c"], "body": [
            {"op": "DWConv2d", "channels": "c", "kernel_size": 3, "padding": 1}, {"op": "ReLU"}]}])
    assert structure_hash(inline) == structure_hash(module)
    wider = inline.model_copy(update={"layers": [inline.layers[0].model_copy(update={"kernel_size": 5}),
                                                 *inline.layers[1:]]})
    assert structure_hash(wider) != structure_hash(inline)
    assert structure_hash(inline.model_copy(update={"num_classes": 100})) != structure_hash(inline)


def test_front_and_winner_rules() -> None:
    from gptnet.search.leaderboard import Candidate
    from gptnet.search.pareto import front, winner

    def c(i: int, acc: float | None, ms: float, params: int) -> Candidate:
        return Candidate(index=i, round=0, hash=str(i), origin="design", accuracy=acc, latency_ms=ms, params=params)

    rows = [c(1, 95.0, 1.0, 900), c(2, 94.5, 0.5, 900), c(3, 94.0, 0.6, 950), c(4, 90.0, 0.4, 1000),
            c(5, None, 0.1, 10)]
    assert [r.index for r in front(rows)] == [1, 2, 4]  # 3 is dominated by 2; 5 was never measured
    assert winner(rows).index == 1
    assert winner(rows, "latency").index == 2  # the fastest within a point of the best


def test_a_search_killed_with_sigkill_resumes_to_the_same_leaderboard(offline: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    proc = start(tmp_path, "s", *OFFLINE)
    wait_for(out, 2, proc)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGKILL)  # a crash, not a polite stop
    proc.communicate(timeout=60)
    done = measured(out)
    assert 2 <= done < 6, done
    assert gone(workers), "the training workers outlived the search"
    r = search(tmp_path, "s", *OFFLINE, "--resume")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("(measured before)") >= done
    assert untimed(out) == untimed(offline)
    assert (out / "winner" / "model.py").read_bytes() == (offline / "winner" / "model.py").read_bytes()


def test_ctrl_c_saves_and_exits_130(tmp_path: Path) -> None:
    out = tmp_path / "s"
    proc = start(tmp_path, "s", *OFFLINE)
    wait_for(out, 1, proc)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted after" in stderr and "--resume" in stderr and "Traceback" not in stderr
    assert measured(out) >= 1 and (out / "leaderboard.md").is_file()
    assert gone(workers)


def test_a_worker_killed_mid_training_fails_its_candidate_and_the_search_goes_on(tmp_path: Path) -> None:
    """The OOM killer (which a hostile proposal can provoke) ends a worker with SIGKILL: its candidate is recorded
    as failed with the reason, a new worker trains the rest, and the search ends as it would have."""
    out = tmp_path / "s"
    proc = start(tmp_path, "s", *OFFLINE, "--workers", "1")
    wait_for(out, 1, proc)  # the one-shot design is measured: the worker now trains candidate 2
    [worker] = workers_of(proc.pid)
    busy_from, deadline = cpu_seconds(worker), time.monotonic() + 60
    while cpu_seconds(worker) < busy_from + 0.3 and time.monotonic() < deadline:  # an idle worker uses no CPU
        time.sleep(0.05)
    os.kill(worker, signal.SIGKILL)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    rows = board(out)["candidates"]
    failed = [c for c in rows if c["accuracy"] is None]
    assert [c["dropped"] for c in failed] == ["training failed: its worker process died (killed, e.g. out of "
                                              "memory)"], rows
    assert len(rows) == 6 and failed[0]["index"] > 1 and (out / "winner" / "model.py").is_file()
    assert worker not in workers_of(proc.pid) and "Traceback" not in stderr


def test_a_worker_that_dies_takes_only_its_own_task_and_is_replaced() -> None:
    """Workers.map with plain functions: a task that ends its process (os._exit) comes back as None, the next task
    runs in a new worker, and what a task raises is raised in the search."""
    from gptnet.workers import Workers

    pool = Workers(2, os.getpid)
    try:
        assert sorted(pool.map(abs, [-1, -2, -3])) == [(-3, 3), (-2, 2), (-1, 1)]
        first = [w.process.pid for w in pool.started]
        assert list(pool.map(os._exit, [3])) == [(3, None)]
        assert len(pool.started) == 1 and set(first) - {w.process.pid for w in pool.started}
        assert sorted(pool.map(abs, [-4, -5])) == [(-5, 5), (-4, 4)] and len(pool.started) == 2
        with pytest.raises(ValueError, match="invalid literal"):
            list(pool.map(int, ["x"]))
    finally:
        pool.close()
    assert gone(first) and not pool.started


def test_workers_end_with_a_search_killed_while_they_start(tmp_path: Path) -> None:
    """Killed while its workers still import torch, the search takes them with it (each learnt its parent only
    after the import, by then init's pid, and outlived it)."""
    proc = start(tmp_path, "s", *TINY[:-4], "--steps", "500", "--trials", "2")  # one training: a minute
    deadline, workers = time.monotonic() + 120, []
    while not workers and proc.poll() is None and time.monotonic() < deadline:
        workers = workers_of(proc.pid)
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert workers and gone(workers, 5), "the workers outlived the search"


@pytest.mark.parametrize("args, message", [
    (["--resume"], "nothing to resume"),
    (["--classes", "100"], "digits has 10 classes"),
    (["--data", "imagenet"], "unknown data set 'imagenet'"),
    (["--proposer", "llm"], "--proposer llm needs an LLM"),
    (["--threads", "0"], "--threads must be at least 1, not 0"),
])
def test_usage_errors_are_one_line_before_any_work(args: list[str], message: str, tmp_path: Path) -> None:
    r = search(tmp_path, "s", *OFFLINE, *args)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "s" / "candidates").exists()


def older_search(offline: Path, tmp_path: Path, setting: str) -> Path:
    """A copy of the offline search as a gptnet without `setting` would have left it."""
    import shutil

    old = Path(shutil.copytree(offline, tmp_path / "old"))
    state = json.loads((old / "state.json").read_text())
    del state["settings"][setting]
    (old / "state.json").write_text(json.dumps(state))
    return old


def test_a_search_from_before_the_held_out_proxy_is_not_resumed(offline: Path, tmp_path: Path) -> None:
    """Its cached accuracies were measured on the test set; mixing them with held-out ones would rank nonsense."""
    old = older_search(offline, tmp_path, "proxy_on")
    r = run_cli("search", *OFFLINE, "--out", str(old), "--resume", cwd=tmp_path)
    assert r.returncode == 2 and "made by an older gptnet" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("setting", ["proxy_seeds", "threads"])
def test_a_search_from_before_a_setting_resumes_with_its_old_value(setting: str, offline: Path,
                                                                   tmp_path: Path) -> None:
    """Every search before --proxy-seeds measured with one seed, and before --threads on one torch thread per
    worker: its state resumes as that, and nothing is trained again; another value is refused (the accuracies
    depend on both)."""
    old = older_search(offline, tmp_path, setting)
    r = run_cli("search", *OFFLINE, "--out", str(old), "--resume", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("(measured before)") == measured(offline) and untimed(old) == untimed(offline)
    option = "--" + setting.replace("_", "-")
    r = run_cli("search", *OFFLINE, option, "2", "--out", str(old), "--resume", cwd=tmp_path)
    assert r.returncode == 2 and f"{setting} 1 (now 2)" in r.stderr and "Traceback" not in r.stderr


def test_threads_sets_the_workers_torch_threads_and_the_start_line_says_so(tmp_path: Path,
                                                                          torch_threads) -> None:
    from gptnet.search.proxy import Recipe, train_proxy

    r = search(tmp_path, "two", *TINY, "--trials", "1", "--workers", "1", "--threads", "2")
    assert r.returncode == 0, r.stderr
    assert "with 1 worker on 2 threads each" in r.stderr
    b = board(tmp_path / "two")
    assert b["settings"]["threads"] == 2
    torch_threads(2)  # the worker's figure is a two-thread training's
    [row] = b["candidates"]
    model = str(tmp_path / "two" / "candidates" / row["hash"] / "model.py")
    recipe = Recipe(data="digits", input=(3, 32, 32), steps=20, subset=256)
    assert row["accuracy"] == pytest.approx(train_proxy(model, recipe).accuracy, abs=1e-6)


def test_proxy_seeds_average_that_many_trainings(tmp_path: Path, torch_threads) -> None:
    """--proxy-seeds 2: a candidate's proxy accuracy is the mean of the trainings with seeds 0 and 1, each the
    single-seed proxy of that seed; the winner's report says so."""
    from gptnet.search.proxy import Recipe, train_proxy

    r = search(tmp_path, "two", *TINY, "--trials", "1", "--proxy-seeds", "2")
    assert r.returncode == 0, r.stderr
    [row] = board(tmp_path / "two")["candidates"]
    torch_threads(1)
    model = str(tmp_path / "two" / "candidates" / row["hash"] / "model.py")
    single = [train_proxy(model, Recipe(data="digits", input=(3, 32, 32), steps=20, subset=256, seed=s)).accuracy
              for s in (0, 1)]
    assert single[0] != single[1] and row["accuracy"] == pytest.approx(sum(single) / 2, abs=1e-6)
    assert "(the mean of seeds 0-1)" in (tmp_path / "two" / "winner" / "report.md").read_text()


def test_an_existing_search_is_not_overwritten(offline: Path, tmp_path: Path) -> None:
    r = run_cli("search", *OFFLINE, "--out", str(offline), cwd=tmp_path)
    assert r.returncode == 2 and "holds a search already" in r.stderr and "--resume" in r.stderr


def net(name: str, *layers: dict) -> str:
    return json.dumps({"name": name, "layers": [*layers, {"op": "AdaptiveAvgPool2d"}, {"op": "Flatten"},
                                                {"op": "Linear", "out_features": 10}]})


def conv(cin: int, cout: int, k: int = 3, stride: int = 1) -> dict:
    return {"op": "Conv2d", "in_channels": cin, "out_channels": cout, "kernel_size": k, "stride": stride,
            "padding": k // 2}


RELU, BN = {"op": "ReLU"}, {"op": "BatchNorm2d"}
SEED = net("Seed", conv(3, 16), RELU, conv(16, 32, stride=2), RELU)
A = net("Alpha", conv(3, 16, stride=2), BN, RELU, conv(16, 32, stride=2), BN, RELU)
A_AGAIN = "Same as Alpha, written another way:\n```json\n" + json.dumps({"name": "AlphaAgain", "layers": [
    {"type": "conv2d", "in_channels": 3, "out_channels": 16, "kernel_size": 3, "stride": 2, "padding": 1},
    {"type": "BatchNorm2d", "num_features": 16}, {"type": "relu"},
    {"type": "Conv2d", "out_channels": 32, "kernel_size": 3, "stride": 2, "padding": 1}, {"type": "bn"},
    {"type": "ReLU"}, {"type": "GlobalAvgPool"}, {"type": "Flatten"}, {"type": "fc", "out_features": 10}]}) + "\n```"
D = net("Delta", conv(3, 24, stride=2), RELU, conv(24, 48, stride=2), RELU)
E = net("Echo", conv(3, 8, k=5, stride=2), RELU)
LLM = [*TINY, "--trials", "4", "--per-round", "2"]


ANSWERS = [ARTICLE[0], SEED, A, "Sorry, I cannot design that.", A_AGAIN, D, E]


@pytest.fixture(scope="module")
def llm_search(tmp_path_factory) -> tuple[Path, Script]:
    """A live search: its folder, and what the server was asked."""
    cwd = tmp_path_factory.mktemp("llm")
    script = Script(answers=list(ANSWERS))
    with FakeOpenAI(script) as server:
        r = search(cwd, "live", *LLM, "--base-url", server.base_url, "--model", "test-model")
    assert r.returncode == 0, r.stderr
    return cwd / "live", script


def test_an_llm_search_through_the_server_replays_to_the_same_leaderboard(llm_search, tmp_path: Path) -> None:
    live, script = llm_search
    rows = board(live)["candidates"]
    assert [c["origin"] for c in rows] == ["design", "llm", "llm", "llm", "llm", "llm"]
    assert [c["round"] for c in rows] == [0, 1, 1, 2, 2, 3]
    seed, alpha, sorry, again, delta, echo = rows
    assert sorry["hash"] is None and "unparseable" in sorry["dropped"]
    assert again["hash"] == alpha["hash"] and again["dropped"] == f"duplicate of {alpha['hash']} (candidate 2)"
    assert again["accuracy"] is None and all(c["accuracy"] is not None for c in (seed, alpha, delta, echo))
    # each round's questions carry the history: every candidate so far, with its measurements and findings
    assert len(script.requests) == 7
    round2 = script.requests[4]["messages"][-1]["content"]
    for c in (seed, alpha):
        assert f"{c['hash']} ({c['origin']}, round {c['round']}): " in round2
        assert f"proxy accuracy {c['accuracy']:.2f}%" in round2 and f"{c['latency_ms']:.3f} ms on the cpu" in round2
    assert "unreadable (llm, round 1): dropped: [unparseable]" in round2
    assert "Propose candidate 1 of 2" in round2
    second = script.requests[5]["messages"][-1]["content"]
    assert "Already proposed in this round, not yet measured:\n- conv3x3/2 3->16" in second
    stages = [t["stage"] for t in json.loads((live / "conversation.json").read_text())["turns"]]
    assert stages == ["ops"] + ["model"] * 6
    # replayed without the server: the same candidates, measurements and winner
    r = search(tmp_path, "replayed", *LLM, "--replay", str(live / "conversation.json"))
    assert r.returncode == 0, r.stderr
    assert untimed(tmp_path / "replayed") == untimed(live)
    assert board(tmp_path / "replayed")["winner"] == board(live)["winner"]


def test_a_live_search_resumes_without_asking_again(llm_search, tmp_path: Path) -> None:
    live, _ = llm_search
    script = Script(answers=list(ANSWERS), hang_on=5)  # round 2's second question is never answered
    with FakeOpenAI(script) as server:
        args = [*LLM, "--base-url", server.base_url, "--model", "test-model", "--out", "s"]
        proc = subprocess.Popen([sys.executable, "-m", "gptnet", "search", *args], cwd=tmp_path, env=clean_env(),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while len(script.requests) < 6 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    turns = json.loads((tmp_path / "s" / "conversation.json").read_text())["turns"]
    assert len(turns) == 5 and measured(tmp_path / "s") == 2
    script = Script(answers=ANSWERS[5:])  # only what the killed search was never told
    with FakeOpenAI(script) as server:
        r = run_cli("search", *LLM, "--base-url", server.base_url, "--model", "test-model", "--out", "s",
                    "--resume", cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr
    assert len(script.requests) == 2 and not script.answers
    assert untimed(tmp_path / "s") == untimed(live)
    def asked(folder: Path) -> list[tuple]:
        return [(t["stage"], t["request"]["messages"], t["response"])
                for t in json.loads((folder / "conversation.json").read_text())["turns"]]

    assert asked(tmp_path / "s") == asked(live)  # the same questions and answers, in order
