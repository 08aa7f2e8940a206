"""Which OpenAI request fields the in-process llama.cpp model honours, and how they map onto
llama-cpp-python's ``create_chat_completion`` / ``create_completion`` arguments.

A field the model cannot honour is refused with a 400 naming it, never dropped: a caller that asks for
tools, a JSON answer or log-probabilities and gets plain text back has no way to tell.

Function calling goes through the model's own chat handler, which constrains the answer to the named
tool's parameter schema by grammar. That handler cannot let the model choose between answering and
calling, nor llama.cpp's generic ``chatml-function-calling`` handler well (it drops ``max_tokens`` and
constrains a plain answer to a function name or nothing): ``tool_choice: "auto"`` (the default with
``tools``) and ``"required"`` among several tools therefore pass here as the strings, and the
``tool_choice`` module lets the model choose by grammar before the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.call import Operation
from hub.errors import BadRequest
from inference_backends.local import _inputs

_COMMON = frozenset(
    {
        "model",
        "stream",
        "stream_options",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "top_k",
        "min_p",
        "repeat_penalty",
        "presence_penalty",
        "frequency_penalty",
        "seed",
        "n",
        "stop",
        "logprobs",
        "user",  # an end-user id for the provider's abuse monitoring: nothing for a local model to do
    }
)
KNOWN: Mapping[Operation, frozenset[str]] = {
    Operation.CHAT: _COMMON
    | {"messages", "response_format", "tools", "tool_choice", "parallel_tool_calls", "top_logprobs"},
    Operation.COMPLETION: _COMMON | {"prompt", "echo"},
}
_MAX_TOP_LOGPROBS = {Operation.CHAT: 20, Operation.COMPLETION: 5}  # OpenAI's bounds


def refuse_unknown(operation: Operation, payload: Mapping[str, Any]) -> None:
    """A 400 naming the first field this model would otherwise ignore."""
    known = KNOWN[operation]
    for name in payload:
        if name not in known:
            raise BadRequest(f"'{name}' is not supported by this model", param=name)


def logprobs(operation: Operation, payload: Mapping[str, Any]) -> dict[str, Any]:
    """llama.cpp's arguments for the log-probabilities asked for (chat: ``logprobs`` true with
    ``top_logprobs`` 0-20; completion: ``logprobs`` 0-5), or none."""
    top = _MAX_TOP_LOGPROBS[operation]
    if operation is Operation.COMPLETION:
        count = _inputs.optional_int(payload, "logprobs", 0, top)
        return {} if count is None else {"logprobs": count}
    wanted = payload.get("logprobs")
    if wanted is not None and not isinstance(wanted, bool):
        raise BadRequest("'logprobs' must be a boolean", param="logprobs")
    count = _inputs.optional_int(payload, "top_logprobs", 0, top)
    if count is not None and wanted is not True:
        raise BadRequest("'top_logprobs' needs 'logprobs' set to true", param="top_logprobs")
    if wanted is not True:
        return {}
    # llama.cpp computes none without a count: 0 gives the chosen tokens' alone.
    return {"logprobs": True, "top_logprobs": count or 0}


def tools(payload: Mapping[str, Any]) -> dict[str, Any]:
    """llama.cpp's ``tools`` and ``tool_choice`` for the call (a named function, or ``"auto"`` /
    ``"required"`` left to the ``tool_choice`` module's decision), or none."""
    listed = payload.get("tools")
    choice = payload.get("tool_choice")
    parallel = payload.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise BadRequest("'parallel_tool_calls' must be a boolean", param="parallel_tool_calls")
    if listed is None:
        if choice not in (None, "none"):
            raise BadRequest("'tool_choice' needs 'tools'", param="tool_choice")
        return {}
    functions = _functions(listed)
    if choice == "none":
        return {}  # answered in text, as asked; the model's template shows no tools
    if choice is None or choice == "auto" or (choice == "required" and len(functions) > 1):
        # The model chooses first (``tool_choice`` module). One call per answer: that satisfies
        # parallel_tool_calls either way, as OpenAI's models may also make a single call.
        return {"tools": list(functions.values()), "tool_choice": choice or "auto"}
    name = _chosen(choice, functions)
    forced = {"type": "function", "function": {"name": name}}
    return {"tools": list(functions.values()), "tool_choice": forced}


def _functions(listed: object) -> dict[str, dict[str, Any]]:
    if not isinstance(listed, list) or not listed:
        raise BadRequest("'tools' must be a non-empty list of function tools", param="tools")
    functions: dict[str, dict[str, Any]] = {}
    for tool in listed:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            raise BadRequest(
                "each tool must be {'type': 'function', 'function': {'name', 'parameters'}}", param="tools"
            )
        name = function.get("name")
        parameters = function.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(name, str) or not name or not isinstance(parameters, dict):
            raise BadRequest("each function needs a 'name' and an object 'parameters' schema", param="tools")
        functions[name] = {"type": "function", "function": {**function, "parameters": parameters}}
    return functions


def _chosen(choice: object, functions: Mapping[str, Any]) -> str:
    if choice == "required" and len(functions) == 1:
        return next(iter(functions))
    if isinstance(choice, dict) and choice.get("type") == "function":
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if isinstance(name, str) and name in functions:
            return name
        raise BadRequest("'tool_choice' names a function that is not in 'tools'", param="tool_choice")
    raise BadRequest(
        "'tool_choice' must be 'none', 'auto', 'required' or {'type': 'function', 'function': {'name': ...}}",
        param="tool_choice",
    )


def plain(value: Any) -> Any:
    """``value`` with llama.cpp's numpy floats (its log-probabilities) made Python floats, for JSON."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return float(value)
