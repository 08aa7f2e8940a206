"""Redis for the stores that share state between hub replicas (limits, budgets).

``client.RedisClient`` is what a store needs of a client; ``connect.connect`` builds one from a URL,
either the hub's own pipelined client (``resp``) or redis-py's asyncio client; ``script.Script`` runs
a Lua script by its SHA1.
"""
