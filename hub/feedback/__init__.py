"""The accuracy signal: callers rate calls by trace id ("up" or "down", with an optional comment), and
the usage reports show each model's ratings beside its cost and latency.

``FeedbackService`` holds the rules; ``FeedbackStore`` (``SqlFeedback``, fake ``MemoryFeedback``) keeps
the ratings in ``hub_feedback``, beside the usage ledger. The doors: ``POST /v1/feedback``
(``hub.api.feedback``), the MCP tool ``hub_feedback`` and the A2A skill ``feedback``.
"""

from hub.feedback.memory import MemoryFeedback
from hub.feedback.request import MAX_COMMENT, FeedbackRequest, Rated, Rating, parse_feedback
from hub.feedback.service import FeedbackService, UnknownTrace
from hub.feedback.sql import SqlFeedback
from hub.feedback.store import FeedbackRecord, FeedbackStore, Tally

__all__ = [
    "MAX_COMMENT",
    "FeedbackRecord",
    "FeedbackRequest",
    "FeedbackService",
    "FeedbackStore",
    "MemoryFeedback",
    "Rated",
    "Rating",
    "SqlFeedback",
    "Tally",
    "UnknownTrace",
    "parse_feedback",
]
