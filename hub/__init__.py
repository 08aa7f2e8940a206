"""Hub: one gateway, three front doors (MCP, A2A, OpenAI-compatible HTTP), one pipeline, many models."""

__version__ = "0.1.0"
