"""Hub API keys: their format, how they are made, and how they are stored (hashed).

A key reads ``hub-<id>-<secret>``: ``id`` is 16 hex digits (public: it names the key in ``hub keys
list`` and in logs), ``secret`` is 32 random bytes, base64url. Only SHA-256 of the secret is stored.

Why SHA-256 and not bcrypt/argon2: those slow hashes protect low-entropy passwords from guessing after
a database leak. A 256-bit random secret cannot be guessed at any hash speed, so a slow hash would buy
nothing, while verification runs on every request (argon2 at its defaults costs tens of milliseconds
and a chunk of memory per call). The id lets the lookup be a primary-key read, and the comparison is
constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from pydantic import SecretStr

PREFIX = "hub-"
_ID_BYTES = 8
_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One key as stored. ``rpm``/``tpm``/``budget`` are kept for the limits stage; ``models`` are glob
    patterns (empty: the team's allow-list alone applies)."""

    id: str
    secret_hash: str = field(repr=False)
    team: str
    created_at: datetime
    name: str | None = None
    models: tuple[str, ...] = ()
    rpm: int | None = None
    tpm: int | None = None
    budget: Decimal | None = None
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just made: the full key (shown once, never stored) and its record."""

    key: SecretStr
    record: KeyRecord


@dataclass(frozen=True, slots=True)
class ParsedKey:
    id: str
    secret: str = field(repr=False)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_key(value: str) -> bool:
    return value.startswith(PREFIX)


def parse(value: str) -> ParsedKey | None:
    """The id and secret of something shaped like a hub key; None for anything else."""
    if not value.startswith(PREFIX):
        return None
    key_id, sep, secret = value[len(PREFIX) :].partition("-")
    if not sep or len(key_id) != 2 * _ID_BYTES or not secret or len(secret) > 128:
        return None
    try:
        int(key_id, 16)
    except ValueError:
        return None
    return ParsedKey(key_id.lower(), secret)


def matches(record: KeyRecord, presented: ParsedKey) -> bool:
    return hmac.compare_digest(record.secret_hash, hash_secret(presented.secret))


def generate(
    team: str,
    created_at: datetime,
    *,
    name: str | None = None,
    models: tuple[str, ...] = (),
    rpm: int | None = None,
    tpm: int | None = None,
    budget: Decimal | None = None,
) -> NewKey:
    key_id = secrets.token_hex(_ID_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    record = KeyRecord(
        id=key_id,
        secret_hash=hash_secret(secret),
        team=team,
        created_at=created_at,
        name=name,
        models=models,
        rpm=rpm,
        tpm=tpm,
        budget=budget,
    )
    return NewKey(SecretStr(f"{PREFIX}{key_id}-{secret}"), record)
