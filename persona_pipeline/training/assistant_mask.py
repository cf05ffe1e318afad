"""Which tokens of a rendered conversation are the assistant's, for any chat template.

Few model families ship templates with `{% generation %}` blocks, which transformers needs to mark the
assistant's tokens. Rendering finds them instead: an assistant turn starts where the conversation before it,
rendered with the generation prompt, ends, and it ends where the conversation through it, rendered, ends,
less trailing whitespace (the separator a template writes after its end-of-turn marker, which the model
never generates). That holds for every template that renders earlier turns the same whatever follows
them; one that does not (e.g. one that drops earlier turns' reasoning) is refused with its name.
"""
from __future__ import annotations

from typing import Callable

from .base_model import BaseModelError

Render = Callable[[list[dict], bool], str]  # (messages, add_generation_prompt) -> text


def assistant_spans(render: Render, messages: list[dict], model_id: str = "the base model") -> tuple[str, list[tuple[int, int]]]:
    """The conversation's text and the character span of each assistant turn in it."""
    text = render(messages, False)
    spans = []
    for turn, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before, through = render(messages[:turn], True), render(messages[: turn + 1], False)
        if not (through.startswith(before) and text.startswith(through)):
            raise BaseModelError(f"{model_id}: its chat template renders a turn differently once later turns follow, "
                                 "so the assistant's tokens cannot be found; give the tokenizer a template that does not")
        spans.append((len(before), len(through.rstrip())))
    return text, spans


def encode_with_assistant_mask(tokenizer, messages: list[dict]) -> dict[str, list[int]]:
    """`input_ids` of the rendered conversation and `assistant_masks` (1 on the assistant's tokens), with a
    transformers fast tokenizer. A conversation with no assistant token is an error: it would train nothing."""
    model_id = getattr(tokenizer, "name_or_path", "") or "the base model"
    text, spans = assistant_spans(
        lambda part, prompt: tokenizer.apply_chat_template(part, add_generation_prompt=prompt, tokenize=False),
        messages, model_id)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    # a token that holds any of a turn's characters is the turn's, as transformers marks `{% generation %}` text
    mask = [int(any(begin < end and start < finish for start, end in spans)) for begin, finish in encoded["offset_mapping"]]
    if 1 not in mask:
        raise BaseModelError(f"{model_id}: a conversation has no assistant tokens after rendering with its chat template")
    return {"input_ids": list(encoded["input_ids"]), "assistant_masks": mask}
