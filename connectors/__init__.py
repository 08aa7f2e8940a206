"""Connectors to upstream MCP servers and A2A agents (federation). The seam is here; the connectors
arrive with the federation work."""
