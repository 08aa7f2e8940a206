"""``Access``: the one place the rules of identity and policy live.

The identity stage calls ``identify``, the policy stage ``authorize``; the listing endpoints
(``/v1/models``, MCP ``tools/list`` and ``resources/list``, A2A cards) and the doors' HTTP-level checks
call ``identify`` and ``visible``. So a model a caller may not use is refused and unlisted by the same
rule, and an unknown model and a forbidden one read the same to that caller.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence

from hub.auth import credentials
from hub.auth.apikeys import ApiKeys, Clock, KeyRefused
from hub.auth.credentials import Credential, Kind
from hub.auth.doors import DoorRules, door_rules
from hub.auth.errors import (
    Challenge,
    InvalidKey,
    InvalidToken,
    MissingCredentials,
    NotPermitted,
    insufficient_scope,
    unauthorized,
)
from hub.auth.jwks import JwksKeys, KeySource, StaticKeys
from hub.auth.keystore import KeyStore
from hub.auth.policy import Policy
from hub.auth.settings import JWTSettings
from hub.auth.tokens import JwtVerifier, TokenRefused
from hub.call import ANONYMOUS, Identity
from hub.settings import Settings

log = logging.getLogger("hub.auth")

_NO_RULES = DoorRules()


class Access:
    """Contract: ``identify`` is awaited concurrently on every request; it raises ``Unauthorized``
    (401: no credentials where required, or credentials that do not verify, never downgraded to
    anonymous), ``InsufficientScope`` (403) or ``AuthUnavailable`` (503: the key store is down).
    ``visible``/``authorize`` are pure and synchronous."""

    def __init__(
        self,
        *,
        policy: Policy,
        store: KeyStore | None,
        keys: ApiKeys | None,
        tokens: JwtVerifier | None = None,
        required: bool = False,
        key_headers: Sequence[str] = ("x-api-key",),
        doors: Mapping[str, DoorRules] | None = None,
    ) -> None:
        self._policy = policy
        self._store = store
        self._keys = keys
        self._tokens = tokens
        self.required = required
        self._key_headers = tuple(key_headers)
        self._doors = dict(doors or {})

    def rules(self, door: str) -> DoorRules:
        return self._doors.get(door, _NO_RULES)

    async def identify(self, headers: Mapping[str, str], door: str) -> Identity:
        rules = self.rules(door)
        try:
            found = credentials.read(headers, self._key_headers, self._tokens is not None)
        except credentials.Repeated as repeated:
            message = f"The request carries more than one '{repeated}' credential: send exactly one"
            raise unauthorized(InvalidKey, message, rules.challenge) from None
        recognised = [c for c in found if c.kind is not Kind.UNKNOWN]
        if not recognised:
            return self._without_credentials(bool(found), rules.challenge)
        if self.required and len(recognised) < len(found):
            # A credential of no form this hub accepts beside one it does: refused, never skipped
            # (in open mode such a value, "unused", is no credential at all).
            message = "The request carries a credential that is not in a form this hub accepts"
            raise unauthorized(InvalidKey, message, rules.challenge)
        if any(c.source not in rules.sources for c in recognised):
            # A credential where this door does not take one (A2A: not among the card's schemes) is
            # refused, not ignored: ignoring it could serve its holder as anonymous.
            message = "This endpoint accepts credentials only as its security schemes declare"
            raise unauthorized(InvalidKey, message, rules.challenge)
        identity = await self._verify(recognised[0], rules)
        for other in recognised[1:]:  # every credential presented must hold, and name the same caller
            if (await self._verify(other, rules)).subject != identity.subject:
                raise unauthorized(
                    InvalidKey, "The request carries credentials of two callers", rules.challenge
                )
        missing = [s for s in rules.required_scopes if s not in identity.scopes]
        if missing and identity.kind == "jwt":
            raise insufficient_scope(missing, rules.challenge)
        return identity

    def _without_credentials(self, unrecognised: bool, challenge: Challenge) -> Identity:
        if not self.required:
            return ANONYMOUS  # open: a value in no format of this hub ("unused") is not a credential here
        if unrecognised:
            message = "The credentials are not in a form this hub accepts (a hub API key or a bearer JWT)"
            raise unauthorized(InvalidKey, message, challenge)
        raise unauthorized(
            MissingCredentials, "Authentication required: send an API key or a bearer token", challenge
        )

    async def _verify(self, credential: Credential, rules: DoorRules) -> Identity:
        if credential.kind is Kind.API_KEY:
            if self._keys is None:
                raise unauthorized(InvalidKey, "The API key is not valid", rules.challenge)
            try:
                return await self._keys.verify(credential.value)
            except KeyRefused as refused:
                raise unauthorized(InvalidKey, refused.reason, rules.challenge) from None
        assert self._tokens is not None  # classify() says JWT only when a verifier is configured
        try:
            return await self._tokens.verify(credential.value, rules.audiences)
        except TokenRefused as refused:
            raise unauthorized(InvalidToken, refused.reason, rules.challenge) from None

    def visible(self, identity: Identity, model: str) -> bool:
        """Whether ``model`` appears in this caller's listings (and may be called)."""
        return self._policy.allows(identity, model)

    def authorize(self, identity: Identity, model: str) -> None:
        """Raise ``NotPermitted`` (403) unless ``identity`` may use ``model``; the same answer whether or
        not the model exists, so a caller learns nothing about models outside its allow-list."""
        if not self._policy.allows(identity, model):
            raise NotPermitted(model)

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Creates the key table at start (so hubs sharing a database do not race under load) and
        closes the JWKS client at the end."""
        if self._store is not None:
            await self._store.initialize()
        try:
            yield
        finally:
            if self._tokens is not None:
                await self._tokens.aclose()


def build_access(settings: Settings, store: KeyStore | None, clock: Clock = time.monotonic) -> Access:
    """``Access`` as the configuration says. Without an ``auth:`` section: open, but hub API keys that
    a caller presents are still verified against ``store`` (``hub keys create --config`` works on any
    hub started with the same file)."""
    auth = settings.auth
    if auth is None:
        policy = Policy({}, ("*",), anonymous=("*",))
        keys = None if store is None else ApiKeys(store, 1.0, clock)
        return Access(policy=policy, store=store, keys=keys, doors=door_rules(settings))
    teams = {name: team.models for name, team in auth.teams.items()}
    policy = Policy(teams, auth.default_models, auth.anonymous_models if auth.anonymous else None)
    return Access(
        policy=policy,
        store=store,
        keys=None if store is None else ApiKeys(store, auth.key_cache_seconds, clock),
        tokens=None if auth.jwt is None else JwtVerifier(auth.jwt, _key_source(auth.jwt)),
        required=not auth.anonymous,
        key_headers=auth.api_key_headers,
        doors=door_rules(settings),
    )


def _key_source(jwt: JWTSettings) -> KeySource:
    if jwt.jwks_url is None:
        return StaticKeys(jwt.public_keys)
    return JwksKeys(
        jwt.jwks_url,
        cache_seconds=jwt.jwks_cache_seconds,
        min_refresh_seconds=jwt.jwks_min_refresh_seconds,
        timeout=jwt.jwks_timeout,
    )


def announce(settings: Settings) -> None:
    """Say at start who may call; loudly when anyone on the network may."""
    auth = settings.auth
    if auth is not None and not auth.anonymous:
        log.info("auth: credentials required (API keys%s)", " and JWT bearer tokens" if auth.jwt else "")
        return
    host = settings.server.host
    why = "there is no 'auth:' section" if auth is None else "auth.anonymous is true"
    if _loopback(host):
        log.info("auth: anonymous access is on (%s); the hub listens on %s only", why, host)
    else:
        log.warning(
            "ANONYMOUS ACCESS IS ON and the hub listens on %s: anyone who can reach this port can use "
            "every model (%s). Add an 'auth:' section to the config to require API keys or tokens.",
            host,
            why,
        )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_access() -> Access:
    """Open access with no key store, for doors built without an ``Access`` (tests, tools): a caller
    without credentials is anonymous and sees everything; a hub API key cannot verify here."""
    return Access(policy=Policy({}, ("*",), anonymous=("*",)), store=None, keys=None)
