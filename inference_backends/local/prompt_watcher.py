"""The exact prompt length of a streamed llama.cpp call, seen from inside its sampling."""

from __future__ import annotations

from typing import Any


class PromptWatcher:
    """A pass-through logits processor whose first call sees the prompt exactly as llama.cpp tokenised it.

    That is the only exact prompt count for a streamed chat: the chat template is applied inside
    llama-cpp-python, and its streamed chunks carry no usage.
    """

    def __init__(self) -> None:
        self.prompt_tokens = 0

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if not self.prompt_tokens:
            self.prompt_tokens = len(input_ids)
        return scores
