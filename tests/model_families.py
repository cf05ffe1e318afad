"""Tiny random base models of the families users bring, built here from configs: each with a small byte-level
BPE tokenizer trained on the sample worldview, that family's special tokens, and its real chat template as
trl ships it (trl/chat_templates/, stored there as the families' checkpoints ship them)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trl

TEMPLATES = Path(trl.__file__).parent / "chat_templates"
VOCABULARY = 600  # enough merges that words are a few tokens each, small enough that training it takes a blink
LAYERS = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
              max_position_embeddings=1024, initializer_range=0.5)


@dataclass(frozen=True)
class Family:
    name: str
    template: str           # file in trl/chat_templates
    special: dict           # transformers tokenizer keyword -> token
    end_of_turn: str        # what closes an assistant turn, and stops generation
    extra_tokens: tuple = ()

    def build(self, folder: Path, corpus: list[str]) -> Path:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
        from transformers import PreTrainedTokenizerFast

        specials = list(dict.fromkeys([*self.special.values(), self.end_of_turn, *self.extra_tokens]))
        backend = Tokenizer(models.BPE())
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
        backend.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=VOCABULARY, special_tokens=specials,
                                                                initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
        tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, chat_template=(TEMPLATES / self.template).read_text(),
                                            **self.special)
        ends = sorted({tokenizer.convert_tokens_to_ids(self.end_of_turn), tokenizer.eos_token_id})
        model = self.model(len(tokenizer), bos=tokenizer.bos_token_id, eos=ends, pad=tokenizer.pad_token_id)
        model.generation_config.eos_token_id = ends
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        return folder

    def model(self, vocab: int, **ids):
        import transformers

        common = dict(vocab_size=vocab, bos_token_id=ids["bos"], eos_token_id=ids["eos"], pad_token_id=ids["pad"], **LAYERS)
        if self.name == "qwen2":  # biases on q, k and v; tied input and output embeddings, as the small Qwen2.5s
            return transformers.Qwen2ForCausalLM(transformers.Qwen2Config(tie_word_embeddings=True, **common))
        if self.name == "gemma3":  # the text model: sliding and global attention layers, norms around each block
            return transformers.Gemma3ForCausalLM(transformers.Gemma3TextConfig(head_dim=8, sliding_window=16, **common))
        return transformers.LlamaForCausalLM(transformers.LlamaConfig(tie_word_embeddings=False, **common))


FAMILIES = {
    "qwen2": Family("qwen2", "qwen2_5.jinja", {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}, "<|im_end|>",
                    ("<|im_start|>",)),
    "gemma3": Family("gemma3", "gemma3.jinja", {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>"},
                     "<end_of_turn>", ("<start_of_turn>",)),
    "llama3": Family("llama3", "llama3.jinja", {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
                                                "pad_token": "<|end_of_text|>"}, "<|eot_id|>",
                     ("<|start_header_id|>", "<|end_header_id|>")),
}
