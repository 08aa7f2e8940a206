"""A tiny random-weight llama model in GGUF, written in milliseconds for protocol tests.

The weights are seeded noise, so the text is gibberish, but everything around it is real: llama.cpp
loads the file, tokenizes any text with the SentencePiece-style vocabulary (printable ASCII pieces,
byte fallback for the rest), formats chats with the built-in ChatML template and samples token after
token at well over a thousand tokens per second.

One trick keeps generation running to ``max_tokens``: residual dimension 0 carries a constant that
no layer writes to, so after the final RMSNorm it is always positive. The output rows of every token
that is not printable ASCII (EOS, the chat markers, byte tokens) read only that dimension, with a
large negative weight: their logits sit far below the rest, and the model never stops on its own
or emits bytes that would need UTF-8 repair.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
_SPACE = "\u2581"  # SentencePiece's visible space
_WORDS = ("the", "and", "model", "hub", "token", "hello", "world", "is", "of", "to", "in", "it")


@dataclass(frozen=True, slots=True)
class TinyConfig:
    n_embd: int = 64
    n_layer: int = 2
    n_head: int = 4
    n_ff: int = 128
    n_ctx: int = 512
    seed: int = 1234


def _vocab() -> tuple[list[str], list[float], list[int]]:
    tokens: list[str] = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    types = [gguf.TokenType.UNKNOWN] + [gguf.TokenType.CONTROL] * 4
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [gguf.TokenType.BYTE] * 256
    pieces = [_SPACE] + [chr(c) for c in range(33, 127)]
    for word in _WORDS:
        # SPM builds a piece by merging adjacent pieces, so every prefix must exist too.
        for end in range(2, len(word) + 2):
            piece = (_SPACE + word)[:end]
            if piece not in pieces:
                pieces.append(piece)
    tokens += pieces
    types += [gguf.TokenType.NORMAL] * len(pieces)
    # Higher scores merge first: prefer longer pieces.
    scores = [
        0.0 if t != gguf.TokenType.NORMAL else float(len(tok)) for tok, t in zip(tokens, types, strict=True)
    ]
    return tokens, scores, [int(t) for t in types]


def _weights(cfg: TinyConfig, types: list[int]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(cfg.seed)
    n_vocab, d = len(types), cfg.n_embd

    def noise(*shape: int, std: float) -> np.ndarray:
        return (rng.standard_normal(shape) * std).astype(np.float32)

    embd = noise(n_vocab, d, std=1.0)
    embd[:, 0] = 4.0  # the constant "bias" dimension, see the module docstring
    output = noise(n_vocab, d, std=0.5)
    output[:, 0] = 0.0
    banned = np.array([t != gguf.TokenType.NORMAL for t in types])
    output[banned] = 0.0
    output[banned, 0] = -20.0

    tensors: dict[str, np.ndarray] = {"token_embd.weight": embd}
    for i in range(cfg.n_layer):
        attn_out, ffn_down = noise(d, d, std=0.05), noise(d, cfg.n_ff, std=0.05)
        attn_out[0] = 0.0  # nothing may write to the bias dimension
        ffn_down[0] = 0.0
        tensors |= {
            f"blk.{i}.attn_norm.weight": np.ones(d, dtype=np.float32),
            f"blk.{i}.attn_q.weight": noise(d, d, std=0.2),
            f"blk.{i}.attn_k.weight": noise(d, d, std=0.2),
            f"blk.{i}.attn_v.weight": noise(d, d, std=0.2),
            f"blk.{i}.attn_output.weight": attn_out,
            f"blk.{i}.ffn_norm.weight": np.ones(d, dtype=np.float32),
            f"blk.{i}.ffn_gate.weight": noise(cfg.n_ff, d, std=0.2),
            f"blk.{i}.ffn_up.weight": noise(cfg.n_ff, d, std=0.2),
            f"blk.{i}.ffn_down.weight": ffn_down,
        }
    tensors["output_norm.weight"] = np.ones(d, dtype=np.float32)
    tensors["output.weight"] = output
    return tensors


def build_tiny_llama(path: Path, config: TinyConfig | None = None) -> Path:
    """Write the tiny model to ``path`` (overwriting it) and return ``path``; deterministic per seed."""
    cfg = config or TinyConfig()
    tokens, scores, types = _vocab()
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("hub-tiny-llama")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_vocab_size(len(tokens))
    writer.add_context_length(cfg.n_ctx)
    writer.add_embedding_length(cfg.n_embd)
    writer.add_block_count(cfg.n_layer)
    writer.add_feed_forward_length(cfg.n_ff)
    writer.add_head_count(cfg.n_head)
    writer.add_head_count_kv(cfg.n_head)
    writer.add_rope_dimension_count(cfg.n_embd // cfg.n_head)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    # Only read with embedding=True: one mean-pooled vector per input rather than one per token.
    writer.add_pooling_type(gguf.PoolingType.MEAN)

    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(UNK_ID)
    writer.add_bos_token_id(BOS_ID)
    writer.add_eos_token_id(EOS_ID)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHATML_TEMPLATE)

    for name, tensor in _weights(cfg, types).items():
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
