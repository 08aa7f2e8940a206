"""Whose trace context the hub joins.

A caller's ``traceparent`` decides where the hub's spans go and whether they are sampled, so it is
honoured only from configured networks (``tracing.trusted_networks``; default: nobody). From anyone
else the hub starts a trace of its own and keeps the caller's context as a span *link*: the two traces
can still be found from each other, but a caller cannot graft the hub's spans onto a trace it made up
or switch sampling on or off.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence

from hub.tracing import w3c
from hub.tracing.seam import SpanContext

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NO_LINKS: tuple[SpanContext, ...] = ()


class Incoming:
    """Reads an inbound call's trace context and decides what the server span hangs from."""

    def __init__(self, trusted_networks: Iterable[str] = ()) -> None:
        self._networks: Sequence[IPNetwork] = tuple(
            ipaddress.ip_network(network, strict=False) for network in trusted_networks
        )

    def trusts(self, client: str | None) -> bool:
        """Is ``client`` (an IP address, as the door saw it) inside a trusted network?"""
        if not self._networks or not client:
            return False
        try:
            address = ipaddress.ip_address(client)
        except ValueError:  # a Unix socket path, or anything that is not an address
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:10.1.2.3 is 10.1.2.3
        return any(address in network for network in self._networks)

    def parent(
        self, headers: Mapping[str, str], client: str | None
    ) -> tuple[SpanContext | None, Sequence[SpanContext]]:
        """The span to start the server span under (None: a new trace), and the links to give it.

        No valid ``traceparent``: a new trace. From a trusted caller: the caller's span (the server
        span nests under it, and its sampling decision holds). From anyone else: a new trace, linked.
        """
        if "traceparent" not in headers:
            return None, _NO_LINKS
        remote = w3c.parse(headers)
        if remote is None:
            return None, _NO_LINKS
        if self.trusts(client):
            return remote, _NO_LINKS
        return None, (remote,)
