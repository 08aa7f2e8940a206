from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.hub_server import run_hub

GOOD = "models:\n  - name: fake-model\n    task: chat\n    backend: openai\n    replicas:\n      - url: http://127.0.0.1:9001/v1\n"


def hub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub", *args], capture_output=True, text=True, timeout=60)


def test_check_config_accepts_the_minimal_file(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(GOOD)
    result = hub("check-config", str(path))
    assert result.returncode == 0
    assert "ok (1 models)" in result.stdout and "fake-model: chat via openai" in result.stdout


def test_check_config_names_the_bad_key(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(GOOD.replace("task: chat", "task: chitchat"))
    result = hub("check-config", str(path))
    assert result.returncode == 2
    assert "models.0.task" in result.stderr and "Traceback" not in result.stderr


def test_check_config_knows_local_model_kinds(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(
        "models:\n  - name: x\n    task: embed\n    backend: local\n    options: {model: bert9000}\n"
    )
    result = hub("check-config", str(path))
    assert result.returncode == 2
    assert "options.model" in result.stderr and "minilm" in result.stderr


def test_serve_refuses_a_bad_file_at_start(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(GOOD.replace("http://127.0.0.1:9001/v1", "not-a-url"))
    result = hub("serve", "--config", str(path), "--port", "0")
    assert result.returncode == 2
    assert "models.0.replicas.0.url" in result.stderr and "Traceback" not in result.stderr


def test_usage_reads_the_ledger(tmp_path: Path) -> None:
    import asyncio
    from datetime import UTC, datetime

    from hub.settings import StoreSettings
    from hub.store import build_engine
    from hub.usage import SqlLedger, UsageRow

    db = tmp_path / "hub.db"
    config = tmp_path / "hub.yaml"
    config.write_text(f"store:\n  url: sqlite+aiosqlite:///{db}\n" + GOOD)

    async def write() -> None:
        engine = build_engine(StoreSettings(url=f"sqlite+aiosqlite:///{db}"))
        ledger = SqlLedger(engine)
        await ledger.initialize()
        row = UsageRow(
            at=datetime.now(UTC),
            frontdoor="http",
            model="fake-model",
            operation="chat",
            subject="k1",
            status="ok",
            status_code=200,
            latency_ms=3.0,
            prompt_tokens=10,
            completion_tokens=5,
            cost=0.25,
            stream=False,
            estimated=False,
            team="research",
            key_id="k1",
        )
        await ledger.insert([row, row])
        await engine.dispose()

    asyncio.run(write())
    result = hub("usage", "--config", str(config), "--by", "team", "--json", "--since", "1d")
    assert result.returncode == 0, result.stderr
    assert '"research"' in result.stdout and "0.5" in result.stdout
    bad = hub("usage", "--config", str(config), "--since", "someday")
    assert bad.returncode == 2 and "'since'" in bad.stderr


def test_version_prints_the_package_version() -> None:
    from importlib.metadata import version

    result = hub("--version")
    assert result.returncode == 0 and result.stdout == f"hub {version('hub')}\n"


LOCAL = "models:\n  - name: x\n    task: {task}\n    backend: local\n    options: {{model: {model}}}\n"


@pytest.mark.parametrize(
    ("task", "model", "serves"),
    [
        ("chat", "minilm", "embed"),
        ("embed", "vader", "classify"),
        ("summarize", "smollm2", "chat or completion"),
    ],
)
def test_a_local_model_of_another_task_is_refused_at_check_and_at_start(
    tmp_path: Path, task: str, model: str, serves: str
) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(LOCAL.format(task=task, model=model))
    expected = f"  models.0.task: '{task}' is not a task of options.model '{model}', which serves {serves}\n"
    for result in (hub("check-config", str(path)), hub("serve", "--config", str(path), "--port", "0")):
        assert result.returncode == 2
        assert result.stderr == f"hub: {path}: invalid configuration\n{expected}"


@pytest.mark.parametrize(
    ("task", "model"), [("chat", "smollm2"), ("completion", "smollm2"), ("classify", "langid")]
)
def test_a_local_model_of_its_own_task_passes(tmp_path: Path, task: str, model: str) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(LOCAL.format(task=task, model=model))
    result = hub("check-config", str(path))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            LOCAL.format(task="embed", model="bert9000"),
            "models.0.options.model: expected one of smollm2, minilm",
        ),
        (GOOD.replace("replicas:", "replica:"), "models.0.replica: unknown key: did you mean 'replicas'?"),
        (GOOD.replace("fake-model", "my_smol"), "models.0.name: a model name starts with a letter or digit"),
        (GOOD + "a2a:\n  default_model: nope\n", "a2a.default_model: no model named 'nope' in the pool"),
        (GOOD + "store:\n  url: '::hunter2::'\n", "store.url: not a SQLAlchemy URL"),
        (
            GOOD.replace("backend: openai", "backend: a2a") + "    options: {binding: SOAP}\n",
            "models.0.options.binding: expected one of",
        ),
    ],
)
def test_every_config_error_has_one_form(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(text)
    result = hub("check-config", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"hub: {path}: invalid configuration\n  {where}")
    assert "hunter2" not in result.stderr  # a store URL's password is never echoed


def test_a_file_without_models_is_said_to_serve_nothing(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text("server:\n  port: 9000\n")
    result = hub("check-config", str(path))
    assert result.returncode == 0 and "ok (0 models)" in result.stdout
    assert f"hub: {path}: warning: no models: the hub will serve nothing" in result.stderr
    with run_hub({"server": {"port": 9000}}, tmp_path) as started:
        assert "no models: the hub will serve nothing" in started.log()
