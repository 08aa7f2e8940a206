"""``tool_choice: "auto"`` (OpenAI's default with ``tools``) and ``"required"`` among several tools, in two
grammar-constrained steps on the one loaded model.

1. Decision: the tools are listed in the system prompt the way OpenAI-style (Hermes/Qwen) templates
   show them, and the model's next tokens are held by a grammar to either the opening of a tool call
   with one of the tools' names (``<tool_call>\\n{"name": "get_weather"``), or, for ``"auto"`` only, any
   first character but ``<``: the start of a plain answer. The first token settles it, and a plain
   answer's decision stops there; a call's runs to the end of the name (the grammar then allows only
   end-of-text), a few tokens either way.
2. The answer: a call is the forced-function path (arguments constrained by the chosen tool's schema,
   on the same tool-listing prompt, whose prefix llama.cpp's cache already holds); a plain answer is
   generated afresh from the caller's messages, exactly as ``tool_choice: "none"`` would, with the
   call's ``max_tokens``.

The caller pays for both: usage adds the decision's prompt and completion tokens to the answer's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from inference_backends.local.prompt_watcher import PromptWatcher

UNDECIDED = frozenset({"auto", "required"})
_OPENING = '<tool_call>\n{"name": '
_INSTRUCTIONS = (
    "You may call one of these functions to answer the user:\n<tools>\n{tools}\n</tools>\n"
    "To call one, reply with\n<tool_call>\n"
    '{{"name": <function-name>, "arguments": <args-json-object>}}\n</tool_call>\n'
    "Otherwise, reply to the user directly."
)
# Fields of the answer's call the decision does without: it has its own length, no stop strings,
# is streamed to be cut short, and counts its own prompt.
_NOT_FOR_DECISION = frozenset(
    {"messages", "tools", "tool_choice", "max_tokens", "stop", "stream", "logits_processor"}
)


@dataclass(frozen=True, slots=True)
class Decided:
    """The answer step's llama.cpp arguments and what the decision cost."""

    arguments: dict[str, Any]
    prompt_tokens: int
    completion_tokens: int

    def charge(self, body: dict[str, Any]) -> dict[str, Any]:
        """A unary answer's body with the decision's tokens added to its usage."""
        if not (self.prompt_tokens or self.completion_tokens):
            return body
        usage = body.get("usage") or {}
        prompt = int(usage.get("prompt_tokens", 0)) + self.prompt_tokens
        completion = int(usage.get("completion_tokens", 0)) + self.completion_tokens
        total = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        return {**body, "usage": total}


def undecided(arguments: Mapping[str, Any]) -> bool:
    choice = arguments.get("tool_choice")
    return isinstance(choice, str) and choice in UNDECIDED


def decide(llm: Any, arguments: Mapping[str, Any]) -> Decided:
    """Run the decision step for a call whose ``tool_choice`` is ``"auto"`` or ``"required"``."""
    tools: list[dict[str, Any]] = arguments["tools"]
    names = [tool["function"]["name"] for tool in tools]
    listed = _listing(arguments["messages"], tools)
    watcher = PromptWatcher()
    text = _decision_text(_generate(llm, arguments, listed, names, watcher))
    spent = len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))
    name = _chosen_name(text, names)
    base = {key: value for key, value in arguments.items() if key not in {"tools", "tool_choice"}}
    if name is None:
        return Decided(base, watcher.prompt_tokens, spent)
    forced = {"type": "function", "function": {"name": name}}
    answer = {**base, "messages": listed, "tools": tools, "tool_choice": forced}
    return Decided(answer, watcher.prompt_tokens, spent)


def _generate(
    llm: Any,
    arguments: Mapping[str, Any],
    listed: list[dict[str, str]],
    names: list[str],
    watcher: PromptWatcher,
) -> Iterator[dict[str, Any]]:
    """The decision's tokens, streamed so that a plain answer's can stop after the first."""
    from llama_cpp import LogitsProcessorList
    from llama_cpp.llama_grammar import LlamaGrammar

    grammar = LlamaGrammar.from_string(grammar_text(names, arguments["tool_choice"] == "required"))
    chunks: Iterator[dict[str, Any]] = llm.create_chat_completion(
        **{key: value for key, value in arguments.items() if key not in _NOT_FOR_DECISION},
        messages=listed,
        grammar=grammar,
        # A token is at least one byte: the longest call's opening fits, and the grammar ends it there.
        max_tokens=max(len((_OPENING + _quoted(name)).encode()) for name in names) + 1,
        stream=True,
        logits_processor=LogitsProcessorList([watcher]),
    )
    return chunks


def grammar_text(names: list[str], required: bool) -> str:
    """GBNF for the decision: a call's opening with one of ``names``, or (unless ``required``) a first
    character that starts a plain answer."""
    alternatives = " | ".join(_literal(_quoted(name)) for name in names)
    call = f"call ::= {_literal(_OPENING)} name\nname ::= {alternatives}\n"
    if required:
        return f"root ::= call\n{call}"
    return f"root ::= call | text\n{call}text ::= [^<] [^<]*\n"


def _decision_text(chunks: Iterator[dict[str, Any]]) -> str:
    """The decision's text: up to its end for a call, its first characters for a plain answer."""
    text = ""
    try:
        for chunk in chunks:
            choices = chunk.get("choices") or [{}]
            piece = choices[0].get("delta", {}).get("content")
            text += piece if isinstance(piece, str) else ""
            if text and not text.startswith("<"):
                break
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return text


def _chosen_name(text: str, names: list[str]) -> str | None:
    if not text.startswith("<"):
        return None
    name = orjson.loads(text.removeprefix(_OPENING)) if text.startswith(_OPENING) else None
    if name not in names:  # the grammar allows nothing else; a cut-short decision is llama.cpp's fault
        raise RuntimeError(f"the tool decision ended unfinished: {text!r}")
    return str(name)


def _listing(messages: list[dict[str, str]], tools: list[dict[str, Any]]) -> list[dict[str, str]]:
    """``messages`` with the tools described in the system message (the caller's, or a new first one)."""
    described = "\n".join(orjson.dumps(tool["function"]).decode() for tool in tools)
    instructions = _INSTRUCTIONS.format(tools=described)
    if messages and messages[0]["role"] == "system":
        first = {"role": "system", "content": f"{messages[0]['content']}\n\n{instructions}"}
        return [first, *messages[1:]]
    return [{"role": "system", "content": instructions}, *messages]


def _quoted(name: str) -> str:
    return orjson.dumps(name).decode()


def _literal(text: str) -> str:
    """``text`` as a GBNF string literal (GBNF reads JSON's escapes)."""
    return orjson.dumps(text).decode()
