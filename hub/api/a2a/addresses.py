"""Which IP addresses a webhook may reach: public ones, judged by the IPv4 address they lead to.

Some IPv6 addresses carry an IPv4 address that the network turns back into IPv4 on the way:
IPv4-mapped (``::ffff:0:0/96``: the host's own stack connects to the IPv4 address), 6to4
(``2002::/16``, RFC 3056: a relay forwards to the IPv4 address in bits 16-48), NAT64 with the
well-known prefix (``64:ff9b::/96``, RFC 6052: the translator forwards to the last 32 bits). Python's
``is_global`` judges the IPv6 address alone, so ``2002:7f00:1::`` (6to4 for 127.0.0.1) reads as
global. Such an address is judged by the IPv4 address it embeds: a public one stays allowed (an
IPv6-only network with DNS64 reaches every IPv4-only webhook through ``64:ff9b::/96``).

Two prefixes are refused whatever they carry: local-use NAT64 (``64:ff9b:1::/48``, RFC 8215: its
translator is the operator's own and may embed IPv4 at any prefix length) and Teredo (``2001::/32``,
RFC 4380: its relay reaches a server and an obfuscated client address, in whatever network).
An operator's ``allowed`` networks win over every rule here, matched against the address as
resolved and against the IPv4 address it embeds.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
TEREDO = ipaddress.IPv6Network("2001::/32")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a packet to ``address`` ends up at: IPv4-mapped, 6to4 or well-known NAT64."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def public(address: Address, allowed: Sequence[Network] = ()) -> bool:
    """Whether a webhook may be posted to ``address``; see the module docstring."""
    inner = embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    if any(address in network or (inner is not None and inner in network) for network in allowed):
        return True
    if inner is not None:
        return _global(inner)
    if address in NAT64_LOCAL_USE or address in TEREDO:
        return False
    return _global(address)


def _global(address: Address) -> bool:
    return address.is_global and not (address.is_multicast or address.is_reserved)
