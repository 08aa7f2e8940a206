"""The MCP front door: every model in the pool is a tool (see ``docs/mcp.md``).

``server`` builds the SDK server and the door; ``tools``/``names``/``paging`` the catalog; ``calls`` the
``tools/call`` path into the pipeline; ``errors`` the one ``HubError`` mapping; ``resources`` the model
cards; ``http`` the Streamable HTTP transport; ``stdio`` the ``hub mcp-stdio`` command.
"""

from hub.api.mcp.server import MCPFrontDoor

__all__ = ["MCPFrontDoor"]
