"""`persona serve` on the packaged models: the real `openai` client over HTTP, the limits, the hot swap of
the champion, and the chat page in Chromium down to the correction in the feedback store and the Dagster asset."""
import json
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request

import httpx
import openai
import pytest
import uvicorn
from mlflow import MlflowClient
from playwright.sync_api import expect

from conftest import copy_of, without_persona_settings
from persona_pipeline.cli import main
from persona_pipeline.defs.runs import run_feedback_review
from persona_pipeline.feedback.candidates import CANDIDATES_DIR
from persona_pipeline.feedback.store import STORE_FILE, WAITING, FeedbackStore
from persona_pipeline.server.app import ServerOptions, create_app
from persona_pipeline.server.openai_protocol import MAX_BODY_BYTES, MAX_MESSAGES, MAX_QUESTION_CHARS
from persona_pipeline.server.persona_service import Cancelled, PersonaService
from persona_pipeline.training.adapters import ADAPTERS
from ui_servers import BIN, free_port, serve, tail

TAPER = "How long does the marathon taper last, and how much does the volume fall?"
WINTER_BASE = "Сколько недель длится зимний базовый период?"
UNRELATED = "What is the best recipe for an apple pie?"
# what a person waits for at most: the models loading, one answer
LOAD_SECONDS, ANSWER_SECONDS = 180, 60


@pytest.fixture(scope="module")
def served(trained_world, tmp_path_factory):
    """A copy of the trained world (its own materials, data and MLflow store, so promoting or accepting here
    changes nothing elsewhere) served by the app in this process on uvicorn, on a free loopback port."""
    paths, uri = copy_of(trained_world, tmp_path_factory.mktemp("served"))
    service = PersonaService(paths, uri=uri, log=lambda message: None)
    options = ServerOptions(queue=3, timeout=ANSWER_SECONDS)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(service, options), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url)
    yield {"url": url, "paths": paths, "uri": uri, "service": service, "options": options}
    server.should_exit = True
    thread.join(30)


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + LOAD_SECONDS
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
                if json.load(response)["ready"]:
                    return
        except urllib.error.HTTPError as exc:
            assert json.load(exc)["error"] is None, "the server failed to load"
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} not ready after {LOAD_SECONDS} s")


def _client(served) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{served['url']}/v1", api_key="not-needed-on-loopback", timeout=ANSWER_SECONDS, max_retries=0)


def test_the_openai_client_gets_cited_answers_streamed_and_not_in_both_languages(served):
    client = _client(served)
    listed = {m.id: m for m in client.models.list()}
    assert set(listed) == {"persona"}
    assert sorted(listed["persona"].persona["adapters"].values()) == ["persona-core-self v1", "persona-sport-mind v1"]

    whole = client.chat.completions.create(model="persona", messages=[{"role": "user", "content": TAPER}])
    text, extra = whole.choices[0].message.content, whole.persona
    assert "17 days" in text and extra["outcome"] == "direct" and whole.choices[0].finish_reason == "stop"
    quoted = [c for c in extra["citations"] if f"[{c['number']}]" in text]
    assert quoted and quoted[0]["source"] == "articles/taper_before_marathon.pdf" and quoted[0]["location"] == "p. 1"
    assert extra["evidence"][0]["score"] > 0.5 and "17 days" in extra["evidence"][0]["sentence"]

    pieces, last = [], None
    for chunk in client.chat.completions.create(model="persona", stream=True,
                                                messages=[{"role": "user", "content": "Привет"},
                                                          {"role": "assistant", "content": "Здравствуйте."},
                                                          {"role": "user", "content": WINTER_BASE}]):
        if chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        last = chunk
    streamed = "".join(pieces)
    assert len(pieces) >= 2 and streamed.startswith("Из моих записей:") and "двенадцать недель" in streamed
    assert last.choices[0].finish_reason == "stop" and last.persona["outcome"] == "direct"
    assert last.persona["language"] == "ru" and last.persona["answer_id"] == last.id

    nothing = client.chat.completions.create(model="persona", messages=[{"role": "user", "content": UNRELATED}])
    assert nothing.persona["outcome"] == "not_written"
    assert nothing.choices[0].message.content == "I have not written about this."


def test_bad_requests_get_a_clear_json_error_and_the_server_stays_up(served):
    client, url = _client(served), served["url"]
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": TAPER}])
    assert unknown.value.body["code"] == "model_not_found" and "persona" in unknown.value.body["message"]
    refusals = {
        "invalid_json": b'{"model": "persona", "messages": [',
        "empty_question": json.dumps({"model": "persona", "messages": [{"role": "user", "content": "  "}]}),
        "too_many_messages": json.dumps({"model": "persona", "messages": [{"role": "user", "content": "hi"}] * (MAX_MESSAGES + 1)}),
        "question_too_long": json.dumps({"model": "persona", "messages": [{"role": "user", "content": "x" * (MAX_QUESTION_CHARS + 1)}]}),
        "body_too_large": json.dumps({"model": "persona", "messages": [{"role": "user", "content": "x" * MAX_BODY_BYTES}]}),
        "cannot_answer": json.dumps({"model": "persona", "messages": [{"role": "user", "content": "марафон " * 240}]}),
    }
    for code, body in refusals.items():
        response = httpx.post(f"{url}/v1/chat/completions", content=body, headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500, code
        error = response.json()["error"]
        assert error["code"] == code and error["message"] and "\n" not in error["message"], code
    for body in (b"[" * 100_000, json.dumps({"model": "persona", "messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]})):
        response = httpx.post(f"{url}/v1/chat/completions", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400 and response.json()["error"]["message"]
    streamed = httpx.post(f"{url}/v1/chat/completions", json={"model": "persona", "stream": True, "messages": [
        {"role": "user", "content": "марафон " * 240}]})  # refused before the stream starts, not inside it
    assert streamed.status_code == 400 and streamed.json()["error"]["code"] == "cannot_answer"
    feedback = httpx.post(f"{url}/v1/feedback", json={"answer_id": "chatcmpl-never-served", "rating": "up"})
    assert feedback.status_code == 404 and feedback.json()["error"]["code"] == "unknown_answer"
    assert client.chat.completions.create(model="persona", messages=[{"role": "user", "content": TAPER}]).persona["outcome"] == "direct"


def test_past_the_queue_requests_are_refused_at_once_and_a_client_that_leaves_frees_its_place(served):
    url, service = served["url"], served["service"]
    release = threading.Event()
    service.worker.submit(release.wait)  # a long answer in progress: what is admitted now waits behind it
    body = {"model": "persona", "messages": [{"role": "user", "content": TAPER}]}
    try:
        with httpx.Client(timeout=ANSWER_SECONDS) as leaving, httpx.Client(timeout=ANSWER_SECONDS) as waiting:
            with leaving.stream("POST", f"{url}/v1/chat/completions", json={**body, "stream": True}) as stream:
                assert stream.status_code == 200
                first = json.loads(next(stream.iter_lines()).removeprefix("data: "))
                assert first["choices"][0]["delta"]["role"] == "assistant"
                left = first["id"]
                answers = [None]
                later = threading.Thread(target=lambda: answers.__setitem__(0, waiting.post(f"{url}/v1/chat/completions", json=body)))
                later.start()
                _wait_for(lambda: _ready(url)["in_flight"] == 2)
                for _ in range(served["options"].queue - 2):  # fill the rest of the queue
                    threading.Thread(target=lambda: httpx.post(f"{url}/v1/chat/completions", json=body, timeout=ANSWER_SECONDS)).start()
                _wait_for(lambda: _ready(url)["in_flight"] == served["options"].queue)
                refused = httpx.post(f"{url}/v1/chat/completions", json=body)
                assert refused.status_code == 503 and refused.headers["retry-after"].isdigit()
                assert refused.json()["error"]["code"] == "overloaded"
            # the streaming client has gone; once the long answer ends, its place is freed without an answer
            release.set()
            later.join(ANSWER_SECONDS)
            assert answers[0].status_code == 200 and "17 days" in answers[0].json()["choices"][0]["message"]["content"]
            _wait_for(lambda: _ready(url)["in_flight"] == 0)
            # the client that left was never answered: its answer was cancelled before it started
            with sqlite3.connect(served["paths"].data_dir / STORE_FILE) as store:
                served_ids = {row[0] for row in store.execute("SELECT id FROM answers")}
            assert left not in served_ids and answers[0].json()["id"] in served_ids
    finally:
        release.set()


def test_a_request_past_its_time_gets_504_and_an_answer_stops_at_its_next_piece_when_cancelled(served):
    url, service, options = served["url"], served["service"], served["options"]
    release = threading.Event()
    service.worker.submit(release.wait)
    options.timeout = 1.0
    try:
        response = httpx.post(f"{url}/v1/chat/completions", timeout=ANSWER_SECONDS,
                              json={"model": "persona", "messages": [{"role": "user", "content": TAPER}]})
        assert response.status_code == 504 and response.json()["error"]["code"] == "timeout"
    finally:
        options.timeout = ANSWER_SECONDS
        release.set()
    _wait_for(lambda: _ready(url)["in_flight"] == 0)
    cancelled, pieces = threading.Event(), []

    def take(piece):
        pieces.append(piece)
        cancelled.set()  # the client leaves after the first piece

    with pytest.raises(Cancelled):
        service.worker.submit(service.answer, TAPER, cancelled=cancelled, on_piece=take).result(ANSWER_SECONDS)
    assert pieces == ["From my notes:"]


def test_a_new_champion_answers_the_next_request_without_a_restart(served):
    client, uri = _client(served), served["uri"]
    registry, name = MlflowClient(uri), ADAPTERS["core"].registered_model
    statuses, stop = [], threading.Event()

    def keep_asking():
        while not stop.is_set():
            try:
                answer = client.chat.completions.create(model="persona", messages=[{"role": "user", "content": TAPER}])
                statuses.append(("ok", answer.persona["adapters"]))
            except openai.APIError as exc:
                statuses.append(("failed", str(exc)))

    asking = threading.Thread(target=keep_asking)
    asking.start()
    try:
        _wait_for(lambda: len(statuses) >= 2)
        current = registry.get_model_version_by_alias(name, "champion")
        promoted = registry.create_model_version(name, source=current.source, run_id=current.run_id)
        registry.set_registered_model_alias(name, "champion", promoted.version)
        label = f"{name} v{promoted.version}"
        _wait_for(lambda: label in client.models.list().data[0].persona["adapters"].values())
        seen = len(statuses)
        _wait_for(lambda: len(statuses) >= seen + 2)
    finally:
        stop.set()
        asking.join(ANSWER_SECONDS)
    assert all(status == "ok" for status, _ in statuses), statuses
    assert any(f"core: {label}" in adapters for _, adapters in statuses[seen:])


def test_the_coach_asks_on_the_page_opens_a_source_and_his_correction_reaches_the_asset(served, page):
    page.goto(served["url"])
    expect(page.locator("#serving")).to_contain_text("persona-core-self")
    page.fill("#question", WINTER_BASE)
    page.press("#question", "Enter")
    answer = page.locator("article.answer").last
    expect(answer).to_have_attribute("data-state", "done", timeout=ANSWER_SECONDS * 1000)
    assert int(answer.get_attribute("data-pieces")) >= 2  # the lead and each quote arrived one after another
    expect(answer).to_have_attribute("data-outcome", "direct")
    expect(answer.locator(".text")).to_contain_text("двенадцать недель")
    expect(answer.locator(".badge")).to_have_text("From his notes")
    answer.locator("a.cite").first.click()
    expect(page.locator("#source")).to_be_visible()
    expect(page.locator("#source-title")).to_contain_text("articles/zimniy_bazovy_period.txt")
    expect(page.locator("#source-text")).to_contain_text("двенадцать недель")
    answer.locator("button.why").click()
    expect(answer.locator(".evidence li").first).to_contain_text("p=")
    correction = "Двенадцать недель, и <b>ни днём меньше</b>: база решает всё."
    answer.locator("button.correct").click()
    answer.locator(".correction textarea").fill(correction)
    answer.locator(".correction button").click()
    expect(answer.locator(".feedback-status")).to_have_text("saved; waiting for review")

    paths = served["paths"]
    stored = [c for c in FeedbackStore.in_data(paths.data_dir).corrections(WAITING) if c.correction == correction]
    assert len(stored) == 1 and stored[0].question == WINTER_BASE and "двенадцать недель" in stored[0].answer
    assert stored[0].adapters and all(" v" in label for label in stored[0].adapters)
    run = run_feedback_review(paths.materials_dir, paths.data_dir)
    assert run.success and run.review.waiting_for_review == 1 and run.review.invalid == 0
    table = run.metadata("feedback_candidates")["corrections"]
    assert "&lt;b&gt;ни днём меньше&lt;/b&gt;" in table and "<b>" not in table  # shown as data, never as HTML
    candidate = next((paths.data_dir / CANDIDATES_DIR).rglob(f"feedback-{stored[0].id}.yaml"))
    assert correction in candidate.read_text(encoding="utf-8")

    assert main(["feedback", "accept", str(stored[0].id), "--materials", str(paths.materials_dir),
                 "--data", str(paths.data_dir)]) == 0
    accepted = list((paths.materials_dir / "worldview").rglob(f"feedback/feedback-{stored[0].id}.yaml"))
    assert len(accepted) == 1 and correction in accepted[0].read_text(encoding="utf-8")
    assert main(["validate", "--materials", str(paths.materials_dir), "--data", str(paths.data_dir)]) == 0
    assert run_feedback_review(paths.materials_dir, paths.data_dir).review.accepted == 1


def test_persona_serve_starts_from_the_cli_and_refuses_a_public_address_without_a_key(served, tmp_path):
    paths = served["paths"]
    refused = subprocess.run([str(BIN / "persona"), "serve", "--host", "0.0.0.0"], capture_output=True, text=True,
                             timeout=60, env=without_persona_settings())
    assert refused.returncode == 2 and "API key" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    port = free_port()
    env = {**without_persona_settings(), "MLFLOW_TRACKING_URI": served["uri"]}
    with serve([str(BIN / "persona"), "serve", "--port", str(port), "--api-key", "s3cret", "--materials",
                str(paths.materials_dir), "--data", str(paths.data_dir)], cwd=tmp_path, env=env,
               ready_url=f"http://127.0.0.1:{port}/readyz", log=tmp_path / "serve.log", timeout=LOAD_SECONDS) as process:
        base = f"http://127.0.0.1:{port}/v1"
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=base, api_key="wrong", max_retries=0).models.list()
        answer = openai.OpenAI(base_url=base, api_key="s3cret", max_retries=0, timeout=ANSWER_SECONDS).chat.completions.create(
            model="persona", messages=[{"role": "user", "content": TAPER}])
        assert "17 days" in answer.choices[0].message.content, tail(tmp_path / "serve.log")
        assert process.poll() is None



def _ready(url: str) -> dict:
    return httpx.get(f"{url}/readyz").json()


def _wait_for(condition, timeout: float = ANSWER_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        time.sleep(0.1)
