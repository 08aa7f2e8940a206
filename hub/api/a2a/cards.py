"""Agent cards: Hub as a router agent whose skills are the pool's models, and one agent per model.

Where things live (``base`` is ``a2a.public_url``, else ``http://{server.host}:{server.port}``):

    Hub (router)   card  {base}/.well-known/agent-card.json     interface  {base}/a2a/
    model M        card  {base}/agents/M/.well-known/agent-card.json   interface  {base}/agents/M/

Each interface URL serves JSON-RPC (POST to the URL itself) and HTTP+JSON (``/message:send``,
``/tasks/...`` under it), for protocol 1.0 and, through the SDK's compatibility layer, 0.3 (which is
why the cards list both: a 0.3 client reads the legacy ``url``/``preferredTransport`` fields that the
SDK derives from the 0.3 entries).

With auth configured, every card declares the security schemes (``security``), and the router's skills
are per caller: a caller sees the models it may use (``AgentCards.router_for``), and the extended card
(which needs credentials) is the same per-caller card.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import quote

from a2a.types.a2a_pb2 import AgentCapabilities, AgentCard, AgentInterface, AgentProvider, AgentSkill
from a2a.utils.constants import PROTOCOL_VERSION_0_3, PROTOCOL_VERSION_1_0

import hub
from hub.a2a_wire.names import BINDINGS
from hub.api.a2a import parts
from hub.api.a2a.context import MODEL_KEY
from hub.api.a2a.defaults import DEFAULT_SETTING, RouterDefault
from hub.api.a2a.security import Security
from hub.registry import ModelEntry, Registry

ROUTER_PATH = "/a2a"
AGENTS_PATH = "/agents"


def router_url(base: str) -> str:
    return f"{base}{ROUTER_PATH}/"


def agent_url(base: str, model: str) -> str:
    return f"{base}{AGENTS_PATH}/{quote(model, safe='/:')}/"


def interfaces(url: str) -> list[AgentInterface]:
    """JSON-RPC first (the SDK client's default), each for 1.0 and then for 0.3."""
    return [
        AgentInterface(url=url, protocol_binding=binding, protocol_version=version)
        for version in (PROTOCOL_VERSION_1_0, PROTOCOL_VERSION_0_3)
        for binding in BINDINGS
    ]


def skill(entry: ModelEntry) -> AgentSkill:
    task = entry.settings.task
    about = parts.schema(task).describe(entry.name, entry.settings.description)
    return AgentSkill(
        id=entry.name,
        name=entry.name,
        description=f"{about} {parts.arguments_help(task)}",
        tags=[task.value, entry.settings.backend],
        examples=parts.examples(task),
        input_modes=parts.input_modes(task),
        output_modes=parts.output_modes(task),
    )


# A card needs at least one skill (A2A 1.0); a caller who may use no model (yet: it has not
# authenticated) sees this one instead of the models.
NO_MODELS = AgentSkill(
    id="hub",
    name="Hub",
    description=(
        "Routes each message to one model of this hub. No model is available to this caller: "
        "authenticate as the card's security schemes say to see the models you may use."
    ),
    tags=["router"],
    input_modes=["text/plain"],
    output_modes=["text/plain"],
)


def router_card(
    registry: Registry | Iterable[ModelEntry],
    base: str,
    push: bool,
    security: Security | None = None,
    hub_skills: Sequence[AgentSkill] = (),
    default: str | None = None,
) -> AgentCard:
    """``hub_skills``: the hub's own skills (feedback), after the models', for every caller.
    ``default``: the model a message that names none goes to (``hub.api.a2a.defaults``)."""
    entries = list(registry)
    if default is not None:
        fallback = f"a message that names none goes to the chat model '{default}' ({DEFAULT_SETTING})"
    else:
        fallback = "a message that names none is refused: no chat model is available to you"
    description = (
        "Hub routes each message to one model of its pool. Name the model in the message metadata "
        f"key '{MODEL_KEY}' (a skill id below); {fallback}. Messages in one contextId form a "
        "conversation: chat models see its earlier turns. Each model is also an agent of its own at "
        f"{base}{AGENTS_PATH}/<model>/."
    )
    return _card("Hub", description, router_url(base), entries, base, push, security, hub_skills)


def model_card(entry: ModelEntry, base: str, push: bool, security: Security | None = None) -> AgentCard:
    description = parts.schema(entry.settings.task).describe(entry.name, entry.settings.description)
    return _card(entry.name, description, agent_url(base, entry.name), [entry], base, push, security)


def _card(
    name: str,
    description: str,
    url: str,
    entries: list[ModelEntry],
    base: str,
    push: bool,
    security: Security | None,
    hub_skills: Sequence[AgentSkill] = (),
) -> AgentCard:
    skills = [*([skill(entry) for entry in entries] or [NO_MODELS]), *hub_skills]
    card = AgentCard(
        name=name,
        description=description,
        version=hub.__version__,
        provider=AgentProvider(organization="Hub", url=base),
        supported_interfaces=interfaces(url),
        capabilities=AgentCapabilities(
            streaming=True, push_notifications=push, extended_agent_card=security is not None
        ),
        default_input_modes=_union(s.input_modes for s in skills),
        default_output_modes=_union(s.output_modes for s in skills),
        skills=skills,
    )
    if security is not None:
        for scheme_name, scheme in security.schemes.items():
            card.security_schemes[scheme_name].CopyFrom(scheme)
        card.security_requirements.extend(security.requirements)
    return card


class AgentCards:
    """Every card of the door: the router's (whole, and per set of visible models) and each model's."""

    _MAX_VARIANTS = 256

    def __init__(
        self,
        registry: Registry,
        base: str,
        push: bool,
        security: Security | None,
        hub_skills: Sequence[AgentSkill] = (),
        default: RouterDefault | None = None,
    ) -> None:
        self._entries = {entry.name: entry for entry in registry}
        self._base, self._push, self._security = base, push, security
        self._hub_skills = tuple(hub_skills)  # the router's own skills (feedback), listed for everyone
        self._default = default or RouterDefault(registry, None, lambda identity, model: True)
        everything = self._default.among(self._entries)
        self.router = router_card(registry, base, push, security, self._hub_skills, everything)
        self.models = {name: model_card(e, base, push, security) for name, e in self._entries.items()}
        self._variants: dict[frozenset[str], AgentCard] = {}

    def router_for(self, visible: frozenset[str]) -> AgentCard:
        """The router's card with the skills of ``visible`` only (in the pool's order); built once per set."""
        card = self._variants.get(visible)
        if card is None:
            entries = [e for name, e in self._entries.items() if name in visible]
            default = self._default.among(visible)
            card = router_card(entries, self._base, self._push, self._security, self._hub_skills, default)
            if len(self._variants) >= self._MAX_VARIANTS:
                self._variants.clear()
            self._variants[visible] = card
        return card


def _union(groups: Iterable[Iterable[str]]) -> list[str]:
    """Every mode once, in first-seen order."""
    return list(dict.fromkeys(mode for group in groups for mode in group))
