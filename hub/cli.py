"""``hub serve | models | keys | usage | check-config | mcp-stdio``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from hub.settings import NO_MODELS, ConfigError, Settings, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description="Agent-to-model integration hub")
    parser.add_argument("--version", action="version", version=f"hub {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the hub (embedded default pool without --config)")
    serve.add_argument("--config", help="YAML config file (default: $HUB_CONFIG, else the embedded pool)")
    serve.add_argument("--host", help="bind address (default: server.host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: server.port, 8080)")
    serve.set_defaults(func=_serve)

    models = sub.add_parser("models", help="list the pool and replica health")
    models.add_argument("--url", help="a running hub, e.g. http://127.0.0.1:8080")
    models.add_argument(
        "--api-key-env",
        default="HUB_API_KEY",
        metavar="VAR",
        help="with --url: the environment variable holding the key to send (default: HUB_API_KEY)",
    )
    models.add_argument("--config", help="a config file: check its replicas directly")
    models.add_argument("--json", action="store_true", help="print JSON")
    models.set_defaults(func=_models)

    check = sub.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("file")
    check.set_defaults(func=_check_config)

    stdio = sub.add_parser("mcp-stdio", help="serve the pool as MCP tools over stdin/stdout")
    stdio.add_argument("--config", help="YAML config file (default: $HUB_CONFIG, else the embedded pool)")
    stdio.set_defaults(func=_mcp_stdio)

    from hub.auth.cli import add_parser as add_keys

    add_keys(sub)
    from hub.usage.cli import add_parser as add_usage

    add_usage(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hub")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from hub.api.connections import ConnectionLimits, protocol_class
    from hub.app import build_app
    from hub.startup import freeze_heap, prepare

    settings = load_settings(args.config)
    server = settings.server.model_copy(
        update={k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    )
    settings = settings.model_copy(update={"server": server})
    prepare(settings)  # the process's own settings (SDK instrumentation, logging): before anything is built
    app = build_app(settings, on_ready=freeze_heap)
    config = uvicorn.Config(
        app,
        host=server.host,
        port=server.port,
        loop="uvloop",
        # httptools with bounds on head size, head/body/idle time and open connections
        http=protocol_class(
            ConnectionLimits(
                max_header_bytes=server.max_header_bytes,
                header_timeout=server.header_timeout,
                body_timeout=server.body_timeout,
                keep_alive_timeout=server.keep_alive_timeout,
                max_connections=server.max_connections,
            )
        ),
        ws="none",  # no route of the hub is a WebSocket: an upgrade request is an ordinary request
        lifespan="on",
        access_log=False,
        log_level=server.log_level,
        log_config=None,  # uvicorn's loggers write through the hub's handler (hub.logs)
        # Forwarded-header rewriting costs ~3% per request and is wrong unless a trusted proxy is in
        # front; the Server header tells strangers what we run.
        proxy_headers=False,
        server_header=False,
    )
    uvicorn.Server(config).run()
    return 0


def _mcp_stdio(args: argparse.Namespace) -> int:
    import anyio

    from hub.api.mcp.stdio import serve_stdio
    from hub.startup import freeze_heap, prepare

    settings = load_settings(args.config)
    # stdout carries the protocol, so logs go to stderr.
    prepare(settings, stream=sys.stderr)
    anyio.run(serve_stdio, settings, freeze_heap)
    return 0


def _models(args: argparse.Namespace) -> int:
    if args.url:
        pool = _fetch_pool(args.url, os.environ.get(args.api_key_env), args.api_key_env)
    else:  # a configured hub that may not be running: ask its replicas directly
        pool = asyncio.run(_probe_configured(load_settings(args.config)))
    if args.json:
        print(json.dumps(pool, indent=2))
    else:
        _print_pool(pool)
    return 0


def _fetch_pool(url: str, key: str | None, variable: str) -> list[dict[str, Any]]:
    """The running hub's pool, as the caller holding ``key`` may see it. The key comes from the
    environment, never the command line (where ``ps`` and shell history would keep it)."""
    headers = {} if not key else {"Authorization": f"Bearer {key}"}
    request = urllib.request.Request(url.rstrip("/") + "/admin/models", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            models: list[dict[str, Any]] = json.load(resp)["models"]
            return models
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise SystemExit(f"hub: {url} needs credentials: set {variable} to an API key") from None
        raise SystemExit(f"hub: {url} answered {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise SystemExit(f"hub: cannot reach {url}: {exc}") from None


async def _probe_configured(settings: Settings) -> list[dict[str, Any]]:
    """Check each configured replica once, as the running hub's health checker would."""
    from hub.pools.health import HealthChecker
    from hub.registry import build_registry

    registry = build_registry(settings)
    checker = HealthChecker(registry)
    try:
        for entry in registry:
            if entry.settings.backend != "local":
                await checker.probe(entry)
        return [
            {
                "name": e.name,
                "task": e.settings.task.value,
                "backend": e.settings.backend,
                "routing": e.settings.routing,
                "replicas": e.pool.snapshot(),
            }
            for e in registry
        ]
    finally:
        await registry.aclose()


def _print_pool(pool: list[dict[str, Any]]) -> None:
    print(f"{'MODEL':32} {'TASK':10} {'BACKEND':8} {'REPLICA':36} {'STATE':10} IN-FLIGHT")
    for model in pool:
        for replica in model["replicas"]:
            state = "ejected" if replica["ejected"] else ("healthy" if replica["healthy"] else "unhealthy")
            print(
                f"{model['name']:32} {model['task']:10} {model['backend']:8} {replica['name']:36} "
                f"{state:10} {replica['outstanding']}"
            )


def _check_config(args: argparse.Namespace) -> int:
    from hub.registry import build_registry

    settings = load_settings(args.file)
    asyncio.run(build_registry(settings).aclose())  # also checks what only the backends know
    print(f"{args.file}: ok ({len(settings.models)} models)")
    if not settings.models:
        print(f"hub: {args.file}: warning: {NO_MODELS}", file=sys.stderr)
    for model in settings.models:
        print(f"  {model.name}: {model.task.value} via {model.backend}, {len(model.replicas)} replica(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
