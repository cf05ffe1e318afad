"""Assistant-token loss and sample generations on held-out conversations."""
from __future__ import annotations

import math

import torch

from .assistant_mask import encode_with_assistant_mask


@torch.no_grad()
def assistant_token_loss(model, tokenizer, conversations: list[list[dict]], max_length: int) -> float:
    """Mean cross-entropy over assistant tokens only, pooled over all conversations."""
    model.eval()
    total, count = 0.0, 0
    for messages in conversations:
        encoded = encode_with_assistant_mask(tokenizer, messages)
        ids = torch.tensor([encoded["input_ids"][:max_length]])
        mask = torch.tensor([encoded["assistant_masks"][:max_length]], dtype=torch.bool)
        labels = ids.masked_fill(~mask, -100)
        logits = model(input_ids=ids).logits[:, :-1]
        targets = labels[:, 1:]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1),
                                                 ignore_index=-100, reduction="sum")
        total += float(loss)
        count += int((targets != -100).sum())
    return total / max(count, 1)


def perplexity(loss: float) -> float:
    return math.exp(min(loss, 50))


@torch.no_grad()
def generate(model, tokenizer, messages: list[dict], max_new_tokens: int) -> str:
    model.eval()
    prompt = messages[: next(i for i, m in enumerate(messages) if m["role"] == "assistant")]
    ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0][ids["input_ids"].shape[1]:], skip_special_tokens=True).strip()

