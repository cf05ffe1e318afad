"""`persona serve` under load: --requests streamed chat completions from --clients concurrent clients,
questions from the sample coach's grounded set in both languages, against a real server process.

Printed: p50 and p95 time to the first content token and to the last token, how many requests were
refused (503) or failed, whether every answered request ended cleanly ([DONE], an outcome) and was
recorded once in the feedback store, and the server's resident memory after the first 20 requests and at
the end (flat when the end is within 10% of it). Warm figures: the clock starts after the server is ready.
Needs an index (and adapters, which a quote-only answer does not use): run the demo first, or pass --data.
The server answers from a temporary copy of the index, so the data folder's feedback store stays as it was.

    .venv/bin/python bench/server_load.py [--requests 200] [--clients 8] [--data DIR] [--materials DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from persona_pipeline.consilium.evaluation.grounded_set import load_grounded_set
from persona_pipeline.cpu import describe
from persona_pipeline.feedback.store import FeedbackStore
from persona_pipeline.settings import PROJECT_DIR, Paths

# requests after which the memory baseline is taken, and the growth past it still counted as flat
BASELINE_REQUESTS = 20
FLAT_GROWTH = 0.10
READY_SECONDS = 300
# what one client waits for one answer before it counts as failed
ANSWER_SECONDS = 120
# what the server reads from the data folder: the index, the adapters and the reading-bar verdict
SERVED_PARTS = ("index", "consilium")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--data")
    parser.add_argument("--materials")
    args = parser.parse_args()
    if args.requests <= BASELINE_REQUESTS:
        parser.error(f"--requests must be more than {BASELINE_REQUESTS}, the requests before the memory baseline")
    paths = Paths.resolve(args.materials, args.data)
    questions = [q.question for q in load_grounded_set(PROJECT_DIR / "eval" / "grounded_questions.yaml")]
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "data"
        for part in SERVED_PARTS:
            if (paths.data_dir / part).exists():
                shutil.copytree(paths.data_dir / part, data / part)
        run(args, Paths(paths.materials_dir, data, paths.config_path), questions)


def run(args, paths: Paths, questions: list[str]) -> None:
    store = FeedbackStore.in_data(paths.data_dir)
    port = _free_port()
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        server = subprocess.Popen([str(Path(sys.executable).parent / "persona"), "serve", "--port", str(port),
                                   "--materials", str(paths.materials_dir), "--data", str(paths.data_dir)],
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, server, log.name)
            results, memory = _load(url, questions, args.requests, args.clients, server.pid)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
    answered = [r for r in results if r["status"] == 200]
    refused = sum(r["status"] == 503 for r in results)
    clean = sum(r["done"] and r["outcome"] is not None for r in answered)
    recorded = store.counts()["answers"]
    first = np.array([r["first"] for r in answered if r["first"] is not None])
    last = np.array([r["last"] for r in answered])
    print(f"CPU: {describe()}")
    print(f"{args.requests} streamed requests from {args.clients} clients, {len(set(questions))} questions (en and ru)")
    print(f"answered {len(answered)}, refused (503) {refused}, failed {len(results) - len(answered) - refused}")
    print(f"ended cleanly ([DONE] and an outcome): {clean} of {len(answered)}; recorded in the feedback store: {recorded}"
          f" (lost or recorded twice: {abs(len(answered) - recorded)})")
    print(f"time to first token: p50 {np.percentile(first, 50):.3f} s, p95 {np.percentile(first, 95):.3f} s")
    print(f"time to last token:  p50 {np.percentile(last, 50):.3f} s, p95 {np.percentile(last, 95):.3f} s")
    baseline, end = memory
    print(f"server RSS: {baseline / 2**20:.0f} MiB after {BASELINE_REQUESTS} requests, {end / 2**20:.0f} MiB at the end "
          f"(ratio {end / baseline:.3f}; flat: {'yes' if end <= baseline * (1 + FLAT_GROWTH) else 'no'})")


def _load(url: str, questions: list[str], total: int, clients: int, pid: int) -> tuple[list[dict], tuple[int, int]]:
    results: list[dict] = []
    lock, baseline = threading.Lock(), []
    counter = iter(range(total))

    def client() -> None:
        with httpx.Client(timeout=ANSWER_SECONDS) as http:
            while True:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                result = _ask(http, url, questions[n % len(questions)])
                with lock:
                    results.append(result)
                    if len(results) == BASELINE_REQUESTS:
                        baseline.append(_rss(pid))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, (baseline[0], _rss(pid))


def _ask(http: httpx.Client, url: str, question: str) -> dict:
    started = time.perf_counter()
    result = {"status": None, "first": None, "last": None, "done": False, "outcome": None}
    body = {"model": "persona", "stream": True, "messages": [{"role": "user", "content": question}]}
    with http.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
        result["status"] = response.status_code
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                result["done"] = True
                continue
            chunk = json.loads(line.removeprefix("data: "))
            if "error" in chunk:
                break
            if chunk["choices"][0]["delta"].get("content") and result["first"] is None:
                result["first"] = time.perf_counter() - started
            result["outcome"] = chunk.get("persona", {}).get("outcome", result["outcome"])
    result["last"] = time.perf_counter() - started
    return result


def _rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) * 1024


def _wait_ready(url: str, server: subprocess.Popen, log: str) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"persona serve exited:\n{Path(log).read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"persona serve not ready after {READY_SECONDS} s")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    main()
