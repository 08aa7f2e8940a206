"""What a model's tokens cost: a price per 1,000 input and output tokens, and the arithmetic.

Proposed settings shape (``models[].price``)::

    models:
      - name: llama-3-70b
        price: {input_per_1k: 0.0005, output_per_1k: 0.0015}   # USD

A model without a price costs nothing: its calls are recorded with cost 0 and no budget applies to
them (a budget measures money, and a free call cannot exceed one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from hub.call import Usage

NANOS_PER_USD = 1_000_000_000


class Price(BaseModel):
    """USD per 1,000 tokens. A pydantic model so that ``hub.settings`` can use it as the field type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_1k: float = Field(0.0, ge=0, description="USD per 1,000 prompt tokens")
    output_per_1k: float = Field(0.0, ge=0, description="USD per 1,000 completion tokens")

    @property
    def free(self) -> bool:
        return self.input_per_1k == 0 and self.output_per_1k == 0


Prices = Mapping[str, Price]
"""Model name -> price; models missing from it are free."""


def cost(usage: Usage, price: Price | None) -> float:
    """USD for ``usage`` at ``price`` (0 for a model without one)."""
    if price is None:
        return 0.0
    return (usage.prompt_tokens * price.input_per_1k + usage.completion_tokens * price.output_per_1k) / 1000


def to_nanos(usd: float, *, round_up: bool = False) -> int:
    """USD as whole nano-dollars, the unit budget counters keep.

    Integers because shared counters must add exactly (Redis HINCRBY, no float drift), and nano
    because a call to a cheap self-hosted model can cost well under a micro-dollar. Lua numbers are
    doubles, exact up to 2**53 nanos: about 9 million USD per counter and period.
    ``round_up`` for reservations, so an estimate never reserves less than it computed.
    """
    nanos = usd * NANOS_PER_USD
    return math.ceil(nanos - 1e-6) if round_up else round(nanos)


def to_usd(nanos: int) -> float:
    return nanos / NANOS_PER_USD
