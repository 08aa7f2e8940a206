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

from opentelemetry.context import Context
from opentelemetry.trace import Link, get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# An empty context: a span started in it is the root of a new trace, whatever the ambient context holds.
NEW_TRACE = Context()
_NO_LINKS: tuple[Link, ...] = ()


class Incoming:
    """Reads an inbound call's trace context and decides what the server span hangs from."""

    def __init__(self, trusted_networks: Iterable[str] = ()) -> None:
        self._networks: Sequence[IPNetwork] = tuple(
            ipaddress.ip_network(network, strict=False) for network in trusted_networks
        )
        self._propagator = TraceContextTextMapPropagator()

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

    def parent(self, headers: Mapping[str, str], client: str | None) -> tuple[Context, Sequence[Link]]:
        """The context to start the server span in, and the links to give it.

        No ``traceparent``: a new trace. From a trusted caller: the caller's context (the span nests
        under the caller's, and its sampling decision holds). From anyone else: a new trace, linked.
        """
        if "traceparent" not in headers:
            return NEW_TRACE, _NO_LINKS
        extracted = self._propagator.extract(headers)
        remote = get_current_span(extracted).get_span_context()
        if not remote.is_valid:
            return NEW_TRACE, _NO_LINKS
        if self.trusts(client):
            return extracted, _NO_LINKS
        return NEW_TRACE, (Link(remote),)
