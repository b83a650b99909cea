"""The live path: gptnet through the real `openai` SDK against a real loopback server that speaks the OpenAI API,
answers from a script and injects faults."""

from __future__ import annotations

import base64
import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, clean_env, run_cli
from fake_openai import FakeOpenAI, Script

KEY = "sk-test-key-0123456789"
ARTICLE = [t["response"] for t in json.loads((ROOT / "gptnet/data/article.json").read_text())["turns"]]
BIG = json.dumps({"name": "BigNet", "layers": [
    {"op": "Conv2d", "in_channels": 3, "out_channels": 64, "kernel_size": 3, "padding": 1}, {"op": "ReLU"},
    {"op": "Conv2d", "in_channels": 64, "out_channels": 128, "kernel_size": 3, "padding": 1}, {"op": "ReLU"},
    {"op": "AdaptiveAvgPool2d"}, {"op": "Flatten"}, {"op": "Linear", "in_features": 128, "out_features": 10}]})
SMALL = BIG.replace('"out_channels": 64', '"out_channels": 16').replace('"in_channels": 64', '"in_channels": 16') \
    .replace('"out_channels": 128', '"out_channels": 32').replace('"in_features": 128', '"in_features": 32')


def design(server: FakeOpenAI, tmp_path: Path, *args: str, key: str | None = KEY) -> subprocess.CompletedProcess:
    env = clean_env(**({"OPENAI_API_KEY": key} if key else {}))
    return run_cli("design", "--budget", "10M", "--target", "sd855", "--classes", "10", "--base-url",
                   server.base_url, "--model", "test-model", "--yes", "--out", str(tmp_path / "out"),
                   "--timeout", "1.5", *args, cwd=tmp_path, env=env)


@pytest.mark.parametrize("faults", [["429"], ["500"], ["503"], ["slow"], ["malformed"], ["drop"],
                                    ["500", "503", "429"]], ids="-".join)
def test_transport_faults_are_retried_and_shown(faults: list[str], tmp_path: Path) -> None:
    script = Script(answers=list(ARTICLE), faults=list(faults), api_key=KEY)
    with FakeOpenAI(script) as server:
        r = design(server, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("retrying in") == len(faults)
    assert (tmp_path / "out" / "model.py").is_file()
    assert "Tokens: ops" in r.stdout


def test_429_honours_retry_after(tmp_path: Path) -> None:
    script = Script(answers=list(ARTICLE), faults=["429"], retry_after="2", api_key=KEY)
    with FakeOpenAI(script) as server:
        r = design(server, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "HTTP 429 (rate limited)" in r.stderr and "retrying in 2.0 s" in r.stderr


def announced_waits(said: list[str]) -> list[float]:
    return [float(m.group(1)) for s in said if (m := re.search(r"retrying in ([\d.]+) s", s))]


@pytest.mark.parametrize("header, value", [("Retry-After", "Mon, 01 Jan 2100 00:00:00 GMT"),
                                           ("Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT"),
                                           ("Retry-After", "86400"), ("retry-after-ms", "86400000")])
def test_a_wait_asked_past_the_retry_time_is_cut_to_what_is_left(header: str, value: str) -> None:
    from gptnet.agent.live import LiveLLM

    said: list[str] = []
    with FakeOpenAI(Script(answers=["fine"], faults=["429"], retry_header=header, retry_after=value)) as server:
        reply = LiveLLM("test-model", server.base_url, None, max_seconds=1.0, say=said.append).ask(
            "revise", [{"role": "user", "content": "hi"}])
    assert reply.text == "fine"
    assert len(announced_waits(said)) == 1 and announced_waits(said)[0] <= 1.0, said


@pytest.mark.parametrize("value", ["soon", "nan", "-5", "inf", "Mon, 99 Foo 2100"])
def test_a_garbled_retry_after_falls_back_to_backoff(value: str) -> None:
    from gptnet.agent.live import LiveLLM

    said: list[str] = []
    with FakeOpenAI(Script(answers=["fine"], faults=["429"], retry_after=value)) as server:
        reply = LiveLLM("test-model", server.base_url, None, max_seconds=60.0, say=said.append).ask(
            "revise", [{"role": "user", "content": "hi"}])
    assert reply.text == "fine"
    assert len(announced_waits(said)) == 1 and 1.0 <= announced_waits(said)[0] <= 2.0, said  # the first backoff


def test_a_failure_names_the_attempts_made_when_the_time_in_all_ran_out_first() -> None:
    from gptnet.agent.live import LiveLLM
    from gptnet.errors import DesignError

    script = Script(answers=[], faults=["503"] * 9, retry_after="0.6")
    with FakeOpenAI(script) as server, pytest.raises(DesignError) as e:
        LiveLLM("test-model", server.base_url, None, attempts=9, max_seconds=1.0).ask("revise", [])
    assert f"after {len(script.requests)} attempts: HTTP 503" in e.value.message and len(script.requests) < 9


def test_a_server_that_keeps_failing_is_reported_in_one_line(tmp_path: Path) -> None:
    script = Script(answers=list(ARTICLE), faults=["503"] * 5, api_key=KEY)
    with FakeOpenAI(script) as server:
        r = design(server, tmp_path, "--retries", "2")
    assert r.returncode == 1
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("gptnet: error:")]
    assert errors == [f"gptnet: error: {server.base_url} failed at stage ops after 2 attempts: HTTP 503"]
    assert len(script.requests) == 2  # the SDK's own retries are off: attempts are not multiplied
    assert not (tmp_path / "out").exists()


def test_no_server_at_the_base_url_asks_whether_one_runs_there(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--base-url", url, "--model", "test-model", "--yes",
                "--retries", "1", cwd=tmp_path, env=clean_env())
    assert r.returncode == 1
    assert r.stderr.splitlines()[-2:] == [
        f"gptnet: error: {url} failed at stage ops after 1 attempt: connection failed",
        f"hint: is a server running at {url}? check --base-url (or OPENAI_BASE_URL)"]


def test_bad_key_and_unknown_model_fail_at_once(tmp_path: Path) -> None:
    script = Script(answers=list(ARTICLE), api_key=KEY)
    with FakeOpenAI(script) as server:
        r = design(server, tmp_path, key="sk-wrong")
        assert r.returncode == 1 and f"API key rejected by {server.base_url}" in r.stderr
        r = run_cli("design", "--budget", "10M", "--target", "sd855", "--base-url", server.base_url, "--model",
                    "no-such-model", "--yes", cwd=tmp_path, env=clean_env(OPENAI_API_KEY=KEY))
        assert r.returncode == 1 and f"model no-such-model not found on {server.base_url}" in r.stderr
    assert len(script.requests) == 2 and "Traceback" not in r.stderr


def test_local_server_needs_no_key(tmp_path: Path) -> None:
    with FakeOpenAI(Script(answers=list(ARTICLE))) as server:
        r = design(server, tmp_path, key=None)
    assert r.returncode == 0, r.stderr


def test_structured_outputs_are_asked_with_the_spec_schema(tmp_path: Path) -> None:
    script = Script(answers=[ARTICLE[0], SMALL], api_key=KEY)
    with FakeOpenAI(script) as server:
        r = design(server, tmp_path)
    assert r.returncode == 0, r.stderr
    ops, model = script.requests
    assert "response_format" not in ops
    schema = model["response_format"]["json_schema"]["schema"]
    assert model["response_format"]["type"] == "json_schema" and "layers" in schema["properties"]
    assert "input channels (inferred from the previous layer when omitted)" in json.dumps(schema)
    cassette = json.loads((tmp_path / "out" / "conversation.json").read_text())
    assert cassette["turns"][1]["request"]["response_format"]["type"] == "json_schema"


def test_a_400_on_response_format_falls_back_to_text_for_the_rest_of_the_run(tmp_path: Path) -> None:
    script = Script(answers=list(ARTICLE), refuse_response_format=True, api_key=KEY)
    with FakeOpenAI(script) as server:
        r = design(server, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("refuses structured outputs") == 1
    assert ["response_format" in q for q in script.requests] == [False, True, False, False]


def test_revise_turn_brings_an_over_budget_model_within_budget(tmp_path: Path) -> None:
    script = Script(answers=[ARTICLE[0], BIG, SMALL], api_key=KEY)
    with FakeOpenAI(script) as server:
        r = design(server, tmp_path, "--json")
        r2 = run_cli("design", "--budget", "20K", "--no-fit", "--target", "sd855", "--classes", "10", "--yes", "--json",
                     "--replay", str(tmp_path / "out" / "conversation.json"), "--out", str(tmp_path / "o2"),
                     cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    # the first run had a 10M budget; replaying its answers with 20K needs a revise turn that it does not have
    assert r2.returncode == 1 and "budget of 20K" in r2.stderr
    script = Script(answers=[ARTICLE[0], BIG, SMALL], api_key=KEY)
    with FakeOpenAI(script) as server:
        env = clean_env(OPENAI_API_KEY=KEY)
        r = run_cli("design", "--budget", "20K", "--no-fit", "--target", "sd855", "--classes", "10", "--base-url",
                    server.base_url, "--model", "test-model", "--yes", "--json", "--out", str(tmp_path / "o3"),
                    cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["revisions"] == 1 and result["profile"]["params"] <= 20_000
    revise = script.requests[2]["messages"][-1]["content"]
    assert "exceed the budget of 20K" in revise and "BigNet" in revise
    stages = [t["stage"] for t in json.loads((tmp_path / "o3" / "conversation.json").read_text())["turns"]]
    assert stages == ["ops", "model", "revise"]


def test_revisions_that_run_out_end_with_the_last_findings(tmp_path: Path) -> None:
    script = Script(answers=[ARTICLE[0], BIG, BIG, BIG], api_key=KEY)
    with FakeOpenAI(script) as server:
        r = run_cli("design", "--budget", "20K", "--no-fit", "--target", "sd855", "--classes", "10", "--base-url",
                    server.base_url, "--model", "test-model", "--yes", "--max-revisions", "2", cwd=tmp_path,
                    env=clean_env(OPENAI_API_KEY=KEY))
    assert r.returncode == 1
    assert "no valid model after 2 revision(s)" in r.stderr and "budget of 20K" in r.stderr
    assert len(script.requests) == 4


def test_recorded_run_replays_to_the_same_model_and_holds_no_key(tmp_path: Path) -> None:
    cassette = tmp_path / "rec.json"
    with FakeOpenAI(Script(answers=list(ARTICLE), faults=["500"], api_key=KEY)) as server:
        r = design(server, tmp_path, "--record", str(cassette))
    assert r.returncode == 0, r.stderr
    live = (tmp_path / "out" / "model.py").read_bytes()
    text = cassette.read_text()
    assert KEY not in text and "authorization" not in text.lower()
    assert [t["stage"] for t in json.loads(text)["turns"]] == ["ops", "model", "module:DepthwiseConv2d"]
    assert all("usage" in t for t in json.loads(text)["turns"])
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--classes", "10", "--replay", str(cassette),
                "--yes", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "model.py").read_bytes() == live


def test_ctrl_c_leaves_no_output_folder_and_the_turns_so_far(tmp_path: Path) -> None:
    cassette = tmp_path / "rec.json"
    script = Script(answers=list(ARTICLE), hang_on=1, api_key=KEY)  # the model answer never comes
    with FakeOpenAI(script) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gptnet", "design", "--budget", "10M", "--target", "sd855", "--base-url",
             server.base_url, "--model", "test-model", "--yes", "--out", str(tmp_path / "out"), "--record",
             str(cassette), "--timeout", "30"], cwd=tmp_path, env=clean_env(OPENAI_API_KEY=KEY),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while len(script.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
    assert [t["stage"] for t in json.loads(cassette.read_text())["turns"]] == ["ops"]


def test_library_call_against_the_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gptnet.design import Options, design as run_design

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeOpenAI(Script(answers=list(ARTICLE))) as server:
        result, folder = run_design(Options(budget="10M", target="sd855", base_url=server.base_url,
                                            model="test-model", out=tmp_path / "lib",
                                            record=tmp_path / "lib.json"))
    assert folder == tmp_path / "lib" and result.profile.params == 6_756_804
    assert result.usage["total_tokens"] == sum(u["total_tokens"] for u in result.usage_by_stage)


SECRET = "sk-SECRET123"


def leaks(r: subprocess.CompletedProcess, folder: Path) -> list[str]:
    """Where the secret shows: stdout, stderr, or any file under `folder` (outputs, cassettes, the live log)."""
    found = [name for name, text in (("stdout", r.stdout), ("stderr", r.stderr)) if "SECRET123" in text]
    return found + [str(p) for p in folder.rglob("*") if p.is_file() and b"SECRET123" in p.read_bytes()]


def test_credentials_in_the_base_url_are_used_but_never_shown_or_written(tmp_path: Path) -> None:
    script = Script(answers=list(ARTICLE), faults=["500"])  # a retry, so the URL is in a message too
    with FakeOpenAI(script) as server:
        url = server.base_url.replace("http://", f"http://user:{SECRET}@")
        r = run_cli("design", "--budget", "10M", "--target", "sd855", "--base-url", url, "--model", "test-model",
                    "--yes", "--json", "--out", str(tmp_path / "out"), "--record", str(tmp_path / "rec.json"),
                    cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    # the request went to the URL as given: httpx sends its user and password as basic auth
    assert base64.b64decode(script.headers[0]["Authorization"].split()[1]).decode() == f"user:{SECRET}"
    assert f"from {server.base_url.replace('http://', 'http://***@')}; retrying" in r.stderr
    assert leaks(r, tmp_path) == []


def test_secret_query_parameters_in_openai_base_url_are_never_shown_or_written(tmp_path: Path) -> None:
    with FakeOpenAI(Script(answers=list(ARTICLE))) as server:
        env = clean_env(OPENAI_BASE_URL=f"{server.base_url}?api_key={SECRET}&token={SECRET}&region=eu")
        r = run_cli("design", "--budget", "10M", "--target", "sd855", "--model", "test-model", "--yes", "--out",
                    str(tmp_path / "out"), cwd=tmp_path, env=env)
    assert f"{server.base_url}?api_key=***&token=***&region=eu" in r.stderr
    assert leaks(r, tmp_path) == []


@pytest.mark.parametrize("url, shown", [
    ("http://user:sk-1@host:8000/v1", "http://***@host:8000/v1"),
    ("http://sk-1@host/v1", "http://***@host/v1"),
    ("https://host/v1?api_key=sk-1&model=m&X-Amz-Signature=s&access_token=t#auth=a",
     "https://host/v1?api_key=***&model=m&X-Amz-Signature=***&access_token=***#auth=***"),
    ("https://host/v1?Pass%77ord=p&key", "https://host/v1?Pass%77ord=***&key"),
    ("https://api.openai.com/v1", "https://api.openai.com/v1"),
    ("http://[::1/v1", "(an unreadable URL)"),
])
def test_redact_url(url: str, shown: str) -> None:
    from gptnet.agent.live import redact_url

    assert redact_url(url) == shown
