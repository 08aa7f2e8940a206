from __future__ import annotations

from pathlib import Path

import pytest

from hub.call import Operation
from hub.settings import ConfigError, load_settings

MINIMAL = """\
models:
  - name: fake-model
    task: chat
    backend: openai
    replicas:
      - url: http://127.0.0.1:9001/v1
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hub.yaml"
    path.write_text(text)
    return path


def test_minimal_file_works_as_written(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL), environ={})
    (model,) = settings.models
    assert model.name == "fake-model"
    assert model.task is Operation.CHAT
    assert model.replicas[0].url == "http://127.0.0.1:9001/v1"
    assert model.routing == "least-outstanding"
    assert settings.server.port == 8080


def test_no_file_means_embedded_default() -> None:
    settings = load_settings(None, environ={})
    names = {m.name for m in settings.models}
    assert {"smollm2-135m-instruct", "all-minilm-l6-v2", "vader-sentiment"} <= names
    assert all(m.backend == "local" for m in settings.models)
    assert settings.source == "embedded default"


def test_env_overrides_nested_keys_and_list_items(tmp_path: Path) -> None:
    env = {
        "HUB_SERVER__PORT": "9100",
        "HUB_MODELS__0__REPLICAS__0__URL": "http://10.0.0.5:8000/v1",
        "HUB_MODELS__0__ROUTING": "round-robin",
        "UNRELATED": "x",
    }
    settings = load_settings(write(tmp_path, MINIMAL), environ=env)
    assert settings.server.port == 9100
    assert settings.models[0].replicas[0].url == "http://10.0.0.5:8000/v1"
    assert settings.models[0].routing == "round-robin"


def test_config_path_from_env(tmp_path: Path) -> None:
    settings = load_settings(None, environ={"HUB_CONFIG": str(write(tmp_path, MINIMAL))})
    assert settings.models[0].name == "fake-model"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MINIMAL.replace("backend: openai", "backend: opneai"), "models.0.backend: Input should be"),
        (MINIMAL.replace("http://127.0.0.1:9001/v1", "ftp://x"), "models.0.replicas.0.url"),
        (MINIMAL.replace("task: chat", "task: dance"), "models.0.task"),
        (MINIMAL + "    colour: red\n", "models.0.colour: unknown key: expected one of name, task, backend"),
        ("server:\n  port: -1\n", "server.port: Input should be greater than or equal to 0"),
        ("limits:\n  redis_client: hiredis\n", "limits.redis_client: Input should be 'own' or 'redis-py'"),
        ("budgets:\n  redis_client: hiredis\n", "budgets.redis_client: Input should be 'own' or 'redis-py'"),
        ("models: [1, 2", "not valid YAML"),
        ("home: /elsewhere\n", "home: unknown key: the hub sets it"),
        ("- a\n- b\n", "expected a mapping at the top level"),
        (MINIMAL + MINIMAL.replace("models:\n", ""), "is used twice"),
        (
            MINIMAL.replace("    replicas:\n      - url: http://127.0.0.1:9001/v1\n", ""),
            "needs at least one replica",
        ),
    ],
)
def test_bad_file_names_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), environ={})
    assert expected in str(info.value)
    assert "Traceback" not in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_settings(tmp_path / "nope.yaml", environ={})


def test_env_override_of_a_missing_list_item_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="HUB_MODELS__7__NAME"):
        load_settings(write(tmp_path, MINIMAL), environ={"HUB_MODELS__7__NAME": "x"})


def test_api_key_is_secret(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "      - url: http://127.0.0.1:9001/v1", "      - url: http://h/v1\n        api_key: sk-x"
    )
    settings = load_settings(write(tmp_path, text), environ={})
    assert "sk-x" not in repr(settings)


def test_store_url_password_stays_out_of_reprs_and_errors() -> None:
    from hub.settings import Settings, StoreSettings
    from hub.store import build_engine

    settings = Settings.model_validate({"store": {"url": "postgresql+asyncpg://hub:hunter2@db/hub"}})
    assert "hunter2" not in repr(settings)
    with pytest.raises(ConfigError) as info:
        build_engine(StoreSettings(url="::hunter2::not-a-url"))
    assert "hunter2" not in str(info.value)


def test_the_embedded_chat_model_has_a_default_max_tokens() -> None:
    settings = load_settings(environ={})
    (chat,) = [m for m in settings.models if m.task is Operation.CHAT]
    assert chat.defaults.fields() == {"max_tokens": 256}
    assert all(not m.defaults.fields() for m in settings.models if m is not chat)


def test_defaults_are_for_chat_and_completion_models(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(
        "models:\n  - {name: e, task: embed, backend: local, options: {model: minilm}, "
        "defaults: {max_tokens: 8}}\n"
    )
    with pytest.raises(ConfigError, match="defaults"):
        load_settings(path, environ={})
    path.write_text("models:\n  - {name: c, task: chat, backend: local, defaults: {max_tokens: 0}}\n")
    with pytest.raises(ConfigError, match=r"defaults\.max_tokens"):
        load_settings(path, environ={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MINIMAL.replace("replicas:", "replica:"), "models.0.replica: unknown key: did you mean 'replicas'?"),
        ("server:\n  prot: 9000\n", "server.prot: unknown key: did you mean 'port'?"),
        (
            MINIMAL.replace("    replicas:", "    timeouts: {raed: 3}\n    replicas:"),
            "models.0.timeouts.raed: unknown key: did you mean 'read'?",
        ),
        ("auth:\n  teems: {}\n", "auth.teems: unknown key: did you mean 'teams'?"),
        (
            "auth:\n  teams:\n    a: {modles: ['*']}\n",
            "auth.teams.a.modles: unknown key: did you mean 'models'?",
        ),
        ("modles: []\n", "modles: unknown key: did you mean 'models'?"),
    ],
)
def test_an_unknown_key_gets_a_suggestion(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), environ={})
    assert expected in str(info.value)


def test_an_unknown_key_from_the_environment_gets_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"server\.prot: unknown key: did you mean 'port'\?"):
        load_settings(write(tmp_path, MINIMAL), environ={"HUB_SERVER__PROT": "9000"})


@pytest.mark.parametrize(
    "name", ["my_smol", "hub_feedback", "hub:feedback", "Hub/tools", "with space", "-x", "x" * 257]
)
def test_model_names_follow_one_rule(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, MINIMAL.replace("fake-model", f'"{name}"')), environ={})
    assert "models.0.name: " in str(info.value)


@pytest.mark.parametrize("name", ["qwen2.5:7b", "meta-llama/Llama-3.1-8B", "hubble", "my-hub:x"])
def test_model_names_that_are_fine(tmp_path: Path, name: str) -> None:
    settings = load_settings(write(tmp_path, MINIMAL.replace("fake-model", f'"{name}"')), environ={})
    assert settings.models[0].name == name


def test_the_default_store_is_in_the_hubs_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cases = [
        ({"HUB_HOME": str(tmp_path / "h"), "HOME": str(home)}, tmp_path / "h"),
        ({"XDG_DATA_HOME": str(tmp_path / "x"), "HOME": str(home)}, tmp_path / "x" / "hub"),
        ({"XDG_DATA_HOME": "relative", "HOME": str(home)}, home / ".local" / "share" / "hub"),
        ({"HOME": str(home)}, home / ".local" / "share" / "hub"),
    ]
    for env, folder in cases:
        for path in (write(tmp_path, MINIMAL), None):
            assert load_settings(path, environ=env).store.url == f"sqlite+aiosqlite:///{folder / 'hub.db'}"
    named = {"HOME": str(home), "HUB_STORE__URL": "sqlite+aiosqlite:///elsewhere.db"}
    assert load_settings(write(tmp_path, MINIMAL), environ=named).store.url.endswith("///elsewhere.db")


def test_hub_variables_that_are_not_keys_are_not_overrides(tmp_path: Path) -> None:
    env = {"HUB_HOME": str(tmp_path), "HUB_CONFIG": str(write(tmp_path, MINIMAL)), "HUB_API_KEY": "hub-x"}
    assert load_settings(None, environ=env).models[0].name == "fake-model"
