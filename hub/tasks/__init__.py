"""Tasks: what kind of work a model does (chat, embed, classify, ...), and how that looks at each door.

``specs``: the operations a task serves, its HTTP route and the fields a request must carry;
``schemas``: its tool/skill argument and result schemas and the mapping to and from payloads (MCP, A2A);
``json_schemas``: those JSON Schemas as data.
"""
