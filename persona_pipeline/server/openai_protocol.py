"""The OpenAI chat-completions protocol as far as the persona speaks it: requests checked into one
question, answers shaped as completions or as server-sent chunks, errors in OpenAI's error shape.

The consilium's citations, evidence and outcome travel in an extra top-level field, `persona`, on the
completion and on the last chunk of a stream; clients that do not know it ignore it.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

MODEL_ID = "persona"
EXTRA_FIELD = "persona"
# bounds of one request; past any of them the request is refused with 400 or 413 and a JSON error
MAX_BODY_BYTES = 256 * 1024
MAX_MESSAGES = 64
MAX_QUESTION_CHARS = 2000
MAX_CORRECTION_CHARS = 8000
ROLES = ("system", "user", "assistant", "developer", "tool")
# of a name the client sent (a model, an answer id), echoed back in an error message
ECHOED_CHARS = 80


class RequestError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str = "invalid_request"):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def body(self) -> dict:
        return error_body(self.message, self.param, self.code)


def error_body(message: str, param: str | None = None, code: str = "invalid_request",
               kind: str = "invalid_request_error") -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


@dataclass
class ChatRequest:
    question: str
    history: list[dict]        # the turns before the question, as sent
    stream: bool
    max_tokens: int | None


def parse_json(body: bytes) -> dict:
    """`body`, already bounded to MAX_BODY_BYTES by the app, as a JSON object."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"the body is not valid JSON: {exc}", code="invalid_json") from exc
    except RecursionError as exc:
        raise RequestError(400, "the body is not valid JSON: nested too deeply", code="invalid_json") from exc
    if not isinstance(data, dict):
        raise RequestError(400, "the body must be a JSON object", code="invalid_json")
    return data


def parse_chat(data: dict) -> ChatRequest:
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError(400, "`model` is required; GET /v1/models lists it", "model")
    if model != MODEL_ID:
        raise RequestError(404, f"the model '{model[:ECHOED_CHARS]}' does not exist here; this server serves '{MODEL_ID}'",
                           "model", "model_not_found")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "`messages` must be a non-empty list of {role, content}", "messages")
    if len(messages) > MAX_MESSAGES:
        raise RequestError(400, f"{len(messages)} messages; at most {MAX_MESSAGES} are accepted", "messages",
                           "too_many_messages")
    turns = [_turn(m, i) for i, m in enumerate(messages)]
    if turns[-1]["role"] != "user":
        raise RequestError(400, "the last message must be the user's question", f"messages[{len(turns) - 1}].role")
    question = turns[-1]["content"].strip()
    if not question:
        raise RequestError(400, "the question (the last user message) is empty", f"messages[{len(turns) - 1}].content",
                           "empty_question")
    if len(question) > MAX_QUESTION_CHARS:
        raise RequestError(400, f"the question is {len(question)} characters long; at most {MAX_QUESTION_CHARS} are "
                           "accepted", f"messages[{len(turns) - 1}].content", "question_too_long")
    stream, max_tokens = data.get("stream", False), data.get("max_tokens", data.get("max_completion_tokens"))
    if not isinstance(stream, bool):
        raise RequestError(400, "`stream` must be true or false", "stream")
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1):
        raise RequestError(400, "`max_tokens` must be a positive integer", "max_tokens")
    return ChatRequest(question, turns[:-1], stream, max_tokens)


def _turn(message, i: int) -> dict:
    if not isinstance(message, dict) or message.get("role") not in ROLES:
        raise RequestError(400, f"message {i} needs a role, one of {', '.join(ROLES)}", f"messages[{i}].role")
    content = message.get("content")
    if isinstance(content, list):  # content parts: only text is read
        texts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if not all(isinstance(t, str) for t in texts):
            raise RequestError(400, f"message {i} has a text part whose text is not a string", f"messages[{i}].content")
        content = "".join(texts)
    if content is None and message["role"] == "assistant":
        content = ""
    if not isinstance(content, str):
        raise RequestError(400, f"message {i} needs text content", f"messages[{i}].content")
    return {"role": message["role"], "content": content}


def new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def persona_field(answer_id: str, answer) -> dict:
    """What the consilium rests the answer on: outcome, citations, evidence with scores, adapters, notes."""
    data = answer.to_json()
    return {"answer_id": answer_id, **{k: v for k, v in data.items() if k not in ("question", "answer")}}


def completion(answer_id: str, answer, usage: dict) -> dict:
    return {"id": answer_id, "object": "chat.completion", "created": int(time.time()), "model": MODEL_ID,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                         "finish_reason": "stop"}],
            "usage": usage, EXTRA_FIELD: persona_field(answer_id, answer)}


def chunk(answer_id: str, created: int, delta: dict, finish_reason: str | None = None, extra: dict | None = None) -> str:
    body = {"id": answer_id, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
    if extra is not None:
        body[EXTRA_FIELD] = extra
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def stream_error(message: str, code: str) -> str:
    return f"data: {json.dumps(error_body(message, None, code, 'server_error'), ensure_ascii=False)}\n\n"


STREAM_END = "data: [DONE]\n\n"


def parse_feedback(data: dict) -> tuple[str, str | None, str | None]:
    answer_id, rating, correction = data.get("answer_id"), data.get("rating"), data.get("correction")
    if not isinstance(answer_id, str) or not answer_id:
        raise RequestError(400, "`answer_id` (the completion's id) is required", "answer_id")
    if rating not in (None, "up", "down"):
        raise RequestError(400, "`rating` must be \"up\", \"down\" or null", "rating")
    if correction is not None and not isinstance(correction, str):
        raise RequestError(400, "`correction` must be text", "correction")
    if correction and len(correction) > MAX_CORRECTION_CHARS:
        raise RequestError(400, f"the correction is {len(correction)} characters long; at most "
                           f"{MAX_CORRECTION_CHARS} are accepted", "correction")
    if rating is None and not (correction or "").strip():
        raise RequestError(400, "send a rating, a correction or both", "rating")
    return answer_id, rating, correction
