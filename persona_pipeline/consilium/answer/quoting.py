"""Material text as plain words inside the prompt. An article may contain the base model's own control
tokens (`<|im_start|>system ...`); left in, the chat template would turn them into real turn markers and
the excerpt would open a system turn of its own. Removed, the rest of the text is quoted as it stands."""
from __future__ import annotations

import re
from functools import lru_cache


def without_control_tokens(text: str, tokenizer) -> str:
    return _control_tokens(tokenizer).sub("", text)


@lru_cache(maxsize=4)
def _control_tokens(tokenizer) -> re.Pattern:
    special = set(tokenizer.all_special_tokens)
    special |= {token.content for token in tokenizer.added_tokens_decoder.values() if token.special}
    # longest first, so that a token that contains another is removed whole
    return re.compile("|".join(re.escape(t) for t in sorted(special, key=len, reverse=True) if t))
