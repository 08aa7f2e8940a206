"""Replica pools end to end: failover, ejection, re-admission, disconnects, prefix affinity."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import openai

from tests.support.fake_openai import FakeUpstream, run_fake_openai
from tests.support.hub_server import HubProcess, run_hub
from tests.support.net import wait_until


def chat_model(*upstreams: FakeUpstream, **extra: Any) -> dict[str, Any]:
    return {
        "name": "m",
        "task": "chat",
        "backend": "openai",
        "replicas": [{"url": u.base_url} for u in upstreams],
        "health": {"enabled": False},
        **extra,
    }


def ask(client: openai.OpenAI, text: str = "hi") -> None:
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": text}])


def test_killed_replica_fails_over_is_ejected_and_readmitted(tmp_path: Path) -> None:
    with run_fake_openai() as a, run_fake_openai() as b:
        config = {
            "models": [
                chat_model(
                    a,
                    b,
                    routing="round-robin",
                    outlier={"consecutive_failures": 2, "base_ejection_seconds": 1.5},
                )
            ]
        }
        with run_hub(config, tmp_path) as hub:
            client = openai.OpenAI(base_url=hub.v1, api_key="x", max_retries=0)
            for _ in range(4):
                ask(client)
            assert a.stats()["requests"] == 2 and b.stats()["requests"] == 2

            a.set_mode("error")  # the replica fails; callers must not notice
            for _ in range(6):
                ask(client)
            assert hub.replicas("m")["m/0"]["ejected"] is True
            assert a.stats()["requests"] == 4  # two failures, then no more traffic while ejected

            a.set_mode("ok")
            wait_until(lambda: not hub.replicas("m")["m/0"]["ejected"], timeout=10, what="re-admission")
            before = a.stats()["requests"]
            for _ in range(4):
                ask(client)
            assert a.stats()["requests"] > before

            b.kill()  # a replica dies mid-test: every call still succeeds through the other
            for _ in range(6):
                ask(client)
            assert hub.replicas("m")["m/1"]["ejected"] is True


def test_client_disconnect_cancels_the_upstream_request(tmp_path: Path) -> None:
    with (
        run_fake_openai("slow-stream", delay_ms=50) as slow,
        run_hub({"models": [chat_model(slow)]}, tmp_path) as hub,
    ):
        _read_two_events_then_hang_up(hub)
        wait_until(lambda: slow.stats()["disconnects"] == 1, timeout=10, what="upstream saw disconnect")
        wait_until(lambda: hub.replicas("m")["m/0"]["outstanding"] == 0, timeout=10, what="slot freed")


def _read_two_events_then_hang_up(hub: HubProcess) -> None:
    host, port = hub.url.removeprefix("http://").split(":")
    body = json.dumps({"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}).encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        received = b""
        while received.count(b"data: ") < 2:
            data = sock.recv(4096)
            assert data, "hub closed the stream early"
            received += data
        assert hub.replicas("m")["m/0"]["outstanding"] == 1


def test_prefix_affinity_keeps_a_prefix_on_one_replica(tmp_path: Path) -> None:
    with run_fake_openai() as a, run_fake_openai() as b, run_fake_openai() as c:
        ups = (a, b, c)
        with run_hub({"models": [chat_model(*ups, routing="prefix-affinity")]}, tmp_path) as hub:
            client = openai.OpenAI(base_url=hub.v1, api_key="x", max_retries=0)
            for _ in range(12):
                ask(client, "You are a helpful pirate. Question: where is the gold?")
            counts = sorted(u.stats()["requests"] for u in ups)
            assert counts == [0, 0, 12]
            for u in ups:
                u.reset_stats()
            for i in range(60):
                ask(client, f"system prompt number {i}")
            assert all(u.stats()["requests"] > 5 for u in ups)
