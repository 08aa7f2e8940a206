"""The webhook address classifier: IPv6 addresses that embed an IPv4 address are judged by it."""

from __future__ import annotations

import ipaddress

import pytest

from hub.api.a2a.addresses import embedded_ipv4, public
from hub.api.a2a.push import PushUrlPolicy

pytestmark = pytest.mark.anyio

REFUSED = [
    "2002:7f00:1::",  # 6to4 for 127.0.0.1
    "2002:a00:1::1",  # 6to4 for 10.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 for 169.254.169.254 (cloud metadata)
    "2002:c0a8:101:1::1",  # 6to4 for 192.168.1.1
    "2002:6440:1::",  # 6to4 for 100.64.0.1 (shared address space)
    "64:ff9b::7f00:1",  # NAT64 (well-known prefix) for 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 for 169.254.169.254
    "64:ff9b::a00:1",  # NAT64 for 10.0.0.1
    "64:ff9b:1::808:808",  # local-use NAT64: refused whatever it carries
    "64:ff9b:1:ffff::a00:1",
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo (client 127.0.0.1)
    "2001:0:5ef5:79fd:0:59d:a0e5:ba1",  # Teredo with public addresses: refused all the same
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.1.2.3",
    "::ffff:169.254.169.254",
    "::1",
    "fe80::1",
    "fc00::1",
    "127.0.0.1",
    "10.1.2.3",
    "0.0.0.0",
    "::",
]
ALLOWED = [
    "93.184.216.34",
    "2606:2800:220:1:248:1893:25c8:1946",
    "2002:5db8:d822::1",  # 6to4 for 93.184.216.34
    "64:ff9b::5db8:d822",  # NAT64 for 93.184.216.34: how an IPv6-only network with DNS64 reaches it
    "::ffff:93.184.216.34",
]


@pytest.mark.parametrize("text", REFUSED)
def test_private_addresses_and_those_that_lead_to_one_are_refused(text: str) -> None:
    assert not public(ipaddress.ip_address(text))


@pytest.mark.parametrize("text", ALLOWED)
def test_public_addresses_and_those_that_lead_to_one_are_allowed(text: str) -> None:
    assert public(ipaddress.ip_address(text))


@pytest.mark.parametrize(
    ("text", "inner"),
    [
        ("2002:7f00:1::", "127.0.0.1"),
        ("64:ff9b::a00:1", "10.0.0.1"),
        ("::ffff:192.168.0.1", "192.168.0.1"),
        ("2001:db8::1", None),
        ("64:ff9b:1::a00:1", None),  # local use: where it embeds the address is the operator's choice
    ],
)
def test_the_embedded_ipv4_address(text: str, inner: str | None) -> None:
    address = ipaddress.IPv6Address(text)
    assert embedded_ipv4(address) == (None if inner is None else ipaddress.IPv4Address(inner))


def test_an_allowed_network_covers_the_ipv6_forms_of_its_addresses() -> None:
    allowed = [ipaddress.ip_network("127.0.0.0/8")]
    for text in ("127.0.0.1", "::ffff:127.0.0.1", "2002:7f00:1::", "64:ff9b::7f00:1"):
        assert public(ipaddress.ip_address(text), allowed)
    assert not public(ipaddress.ip_address("2002:a00:1::"), allowed)
    assert public(ipaddress.ip_address("2001:0:4136:e378::1"), [ipaddress.ip_network("2001::/32")])


@pytest.mark.parametrize("host", ["[2002:7f00:1::]", "[64:ff9b::7f00:1]", "[2002:a9fe:a9fe::1]"])
async def test_the_url_policy_refuses_6to4_and_nat64_forms_of_private_addresses(host: str) -> None:
    assert not await PushUrlPolicy()(f"http://{host}:8080/hook")
