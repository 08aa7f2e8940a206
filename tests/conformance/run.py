"""``make conformance``: the official MCP conformance suite against a real hub.

Starts the fast fake upstream and ``hub serve`` on free loopback ports (the pool below), runs
``conformance server --requirements REV`` for 2025-11-25 and 2026-07-28 under Node 22, each with its
expected-failures file (``expected-failures.REV.yaml``: only scenarios and checks that need the suite's
fixture tools, resources or prompts, each with its reason), prints the suite's per-scenario summary,
stops the servers, and exits non-zero if the suite did: an unexpected failure, or a listed one that
now passes.

The pool holds ordinary models, plus ``test_error_handling``: the suite's ``tools-call-error``
calls a tool of that name with ``{}`` and expects a tool error (``isError``), not a protocol error. Here
it is a real chat model whose only replica refuses connections; the call fails as any failing model's
call does (its empty arguments are refused by the chat schema first, also as ``isError``).
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tests.conformance.node_tools import HERE, PROJECT_ROOT, NodeTools, ensure_tools
from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import run_hub
from tests.support.net import LOCALHOST, free_port

REQUIREMENTS = ("2025-11-25", "2026-07-28")


def _model(name: str, task: str, url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "task": task,
        "backend": "openai",
        "replicas": [{"url": url}],
        "health": {"enabled": False},
        **extra,
    }


def hub_config(upstream: FakeUpstream) -> dict[str, Any]:
    refused = f"http://{LOCALHOST}:{free_port()}/v1"  # nothing listens there
    return {
        "server": {"log_level": "warning"},
        "a2a": {"enabled": False},
        "models": [
            _model("fake-chat", "chat", upstream.base_url, description="A fast fake chat model"),
            _model("fake-embed", "embed", upstream.base_url, description="A fast fake embedding model"),
            _model(
                "test_error_handling",
                "chat",
                refused,
                description="A chat model whose only replica refuses connections",
                max_retries=0,
            ),
        ],
    }


@contextlib.contextmanager
def hub_url() -> Iterator[str]:
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mcp-conformance-")))
        upstream = stack.enter_context(run_fake_openai())
        hub = stack.enter_context(run_hub(hub_config(upstream), tmp))
        yield hub.url + "/mcp"


def run_suite(tools: NodeTools, url: str, requirements: str, timeout: float) -> int:
    baseline = HERE / f"expected-failures.{requirements}.yaml"
    args = [
        str(tools.node),
        str(tools.conformance),
        "server",
        "--url",
        url,
        "--requirements",
        requirements,
        "--expected-failures",
        str(baseline),
    ]
    print(f"\n### conformance server --requirements {requirements}", flush=True)
    return subprocess.run(args, cwd=PROJECT_ROOT, env=tools.env, timeout=timeout, check=False).returncode


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.conformance.run", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--requirements", action="append", choices=REQUIREMENTS, help="default: both")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per requirement set")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    tools = ensure_tools()
    results: dict[str, int] = {}
    with hub_url() as url:
        for requirements in args.requirements or REQUIREMENTS:
            results[requirements] = run_suite(tools, url, requirements, args.timeout)
    print("\n### MCP conformance")
    for requirements, code in results.items():
        verdict = (
            "passed (only the listed fixture scenarios failed)" if code == 0 else f"FAILED (exit {code})"
        )
        print(f"  --requirements {requirements}: {verdict}")
    return 0 if all(code == 0 for code in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
