"""The FastAPI app of `persona serve`: the OpenAI-compatible API, the chat page, feedback, health.

Every answer is admitted or refused at once: at most `queue` answers wait or run; past that the client
gets 503 with Retry-After instead of a connection that hangs. A request that runs past `timeout`, or
whose client disconnects mid-stream, is cancelled at the answer's next piece and frees its place.
"""
from __future__ import annotations

import asyncio
import hmac
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.staticfiles import StaticFiles

from ..consilium.answer.answering import AskError
from ..feedback.store import UnknownAnswer
from . import openai_protocol as protocol
from .persona_service import PersonaService

# answers waiting or running at once; more are refused with 503
QUEUE_LIMIT = 8
# seconds one request may take, waiting included
REQUEST_TIMEOUT_SECONDS = 120.0
# what a refused client is told to wait before trying again
RETRY_AFTER_SECONDS = 2
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# how often an idle server looks whether the alias it serves moved (every answer looks too)
ALIAS_POLL_SECONDS = 2.0


@dataclass
class ServerOptions:
    api_key: str | None = None
    queue: int = QUEUE_LIMIT
    timeout: float = REQUEST_TIMEOUT_SECONDS


def check_bind(host: str, api_key: str | None) -> None:
    """An address other people can reach needs an API key."""
    if host not in LOOPBACK and not api_key:
        raise ValueError(f"binding {host} makes the persona reachable from other machines: give an API key "
                         "(--api-key or PERSONA_API_KEY), or bind 127.0.0.1")


class Admission:
    """Places for answers waiting or running; used from the event loop only."""

    def __init__(self, limit: int):
        self.limit, self.taken = limit, 0

    def enter(self) -> bool:
        if self.taken >= self.limit:
            return False
        self.taken += 1
        return True

    def leave(self) -> None:
        self.taken -= 1


def create_app(service: PersonaService, options: ServerOptions) -> FastAPI:
    admission = Admission(options.queue)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # the models load in the background: /healthz answers at once, /readyz when loaded
        threading.Thread(target=service.load, name="persona-load", daemon=True).start()
        poller = asyncio.create_task(_follow_alias(service))
        yield
        poller.cancel()
        service.worker.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="persona", lifespan=lifespan)
    page = resources.files("persona_pipeline.server") / "page"
    app.mount("/page", StaticFiles(directory=str(page)), name="page")

    @app.exception_handler(protocol.RequestError)
    async def refused(request: Request, exc: protocol.RequestError):
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception):  # still JSON in OpenAI's shape; the log has the details
        service.log(f"{request.method} {request.url.path} failed: {type(exc).__name__}: {exc}")
        return JSONResponse(protocol.error_body(f"the server failed: {type(exc).__name__}", None, "internal_error",
                                                "server_error"), status_code=500)

    def authorise(request: Request) -> None:
        if not options.api_key:
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {options.api_key}".encode()):
            raise protocol.RequestError(401, "a valid API key is required: Authorization: Bearer <key>", None,
                                        "invalid_api_key")

    def busy(message: str, code: str) -> JSONResponse:
        return JSONResponse(protocol.error_body(message, None, code, "server_error"), status_code=503,
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    @app.get("/", response_class=HTMLResponse)
    async def chat_page():
        return HTMLResponse((page / "index.html").read_text(encoding="utf-8"))

    @app.get("/healthz")
    async def health():
        return {"status": "ok", "auth_required": bool(options.api_key)}

    @app.get("/readyz")
    async def ready():
        # no details for anonymous callers: what failed, with its paths, is in the server's log
        body = {"ready": service.ready, "in_flight": admission.taken, "queue_limit": admission.limit,
                "error": "loading failed; the server's log says why" if service.error else None}
        return JSONResponse(body, status_code=200 if service.ready else 503)

    @app.get("/v1/models")
    async def models(request: Request):
        authorise(request)
        return {"object": "list", "data": [{
            "id": protocol.MODEL_ID, "object": "model", "created": 0, "owned_by": "persona_pipeline",
            protocol.EXTRA_FIELD: {"adapter_source": service.source, "adapters": service.adapter_labels(),
                                   "ready": service.ready}}]}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        authorise(request)
        chat = protocol.parse_chat(protocol.parse_json(await _bounded_body(request)))
        if not service.ready:
            return busy("the models are still loading" if not service.error else "loading failed; the server's log "
                        "says why", "not_ready")
        try:  # a question too long for the model's context is refused before it takes a place or a stream starts
            service.consilium.check(chat.question)
        except AskError as exc:
            raise protocol.RequestError(400, str(exc), "messages", "cannot_answer") from exc
        if not admission.enter():
            return busy(f"{admission.limit} answers are already waiting or running; try again shortly", "overloaded")
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue = asyncio.Queue()
        cancelled, answer_id = threading.Event(), protocol.new_id()
        most = service.consilium.config.max_new_tokens
        job = loop.run_in_executor(service.worker, lambda: service.answer(
            chat.question, cancelled=cancelled, max_new_tokens=min(chat.max_tokens or most, most),
            on_piece=lambda piece: loop.call_soon_threadsafe(pieces.put_nowait, piece)))
        # the place is freed when the work really ends, which a cancel brings to its next piece
        job.add_done_callback(lambda _: admission.leave())
        job.add_done_callback(lambda _: pieces.put_nowait(None))
        if chat.stream:
            return StreamingResponse(_events(service, job, pieces, cancelled, answer_id, options.timeout),
                                     media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        try:
            answer = await asyncio.wait_for(asyncio.shield(job), options.timeout)
        except TimeoutError:
            cancelled.set()
            return JSONResponse(protocol.error_body(f"no answer within {options.timeout:g} s", None, "timeout",
                                                    "server_error"), status_code=504)
        except AskError as exc:
            raise protocol.RequestError(400, str(exc), "messages", "cannot_answer") from exc
        await run_in_threadpool(service.feedback.record_answer, answer_id, answer)
        return protocol.completion(answer_id, answer, _usage(service, chat.question, answer.text))

    @app.post("/v1/feedback")
    async def feedback(request: Request):
        authorise(request)
        answer_id, rating, correction = protocol.parse_feedback(protocol.parse_json(await _bounded_body(request)))
        try:
            feedback_id = await run_in_threadpool(service.feedback.add_feedback, answer_id, rating, correction)
        except UnknownAnswer:
            raise protocol.RequestError(404, f"no answer with id '{answer_id[:protocol.ECHOED_CHARS]}'", "answer_id",
                                        "unknown_answer")
        return {"id": feedback_id, "stored": True, "review": "waiting" if (correction or "").strip() else None}

    return app


async def _events(service: PersonaService, job, pieces: asyncio.Queue, cancelled: threading.Event, answer_id: str,
                  timeout: float):
    loop, created = asyncio.get_running_loop(), int(time.time())
    deadline = loop.time() + timeout
    try:
        yield protocol.chunk(answer_id, created, {"role": "assistant", "content": ""})
        while (piece := await asyncio.wait_for(pieces.get(), max(deadline - loop.time(), 0))) is not None:
            yield protocol.chunk(answer_id, created, {"content": piece})
        answer = job.result()
        await run_in_threadpool(service.feedback.record_answer, answer_id, answer)
        yield protocol.chunk(answer_id, created, {}, "stop", protocol.persona_field(answer_id, answer))
        yield protocol.STREAM_END
    except TimeoutError:
        yield protocol.stream_error(f"no answer within {timeout:g} s", "timeout")
    except AskError as exc:
        yield protocol.stream_error(str(exc), "cannot_answer")
    except Exception as exc:  # the stream has started: the error goes to the client as an event, not a 500
        service.log(f"answer {answer_id} failed: {type(exc).__name__}: {exc}")
        yield protocol.stream_error(f"the answer failed: {type(exc).__name__}", "internal_error")
    finally:  # a client that went away (the generator is closed) or a timeout stops the answer
        cancelled.set()


async def _follow_alias(service: PersonaService) -> None:
    """Keeps /v1/models true while nobody asks: the check runs on the worker, between answers."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(ALIAS_POLL_SECONDS)
        if service.ready:
            try:
                await loop.run_in_executor(service.worker, service.follow_alias)
            except Exception as exc:  # a registry that cannot be read now is asked again on the next poll
                service.log(f"could not check the registry: {type(exc).__name__}: {exc}")


async def _bounded_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > protocol.MAX_BODY_BYTES:
        raise protocol.RequestError(413, f"the request body is {declared} bytes; at most {protocol.MAX_BODY_BYTES} "
                                    "are accepted", code="body_too_large")
    body = b""
    async for part in request.stream():
        body += part
        if len(body) > protocol.MAX_BODY_BYTES:
            raise protocol.RequestError(413, f"the request body exceeds {protocol.MAX_BODY_BYTES} bytes",
                                        code="body_too_large")
    return body


def _usage(service: PersonaService, question: str, text: str) -> dict:
    tokenizer = service.consilium.tokenizer
    prompt, completion = (len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in (question, text))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
