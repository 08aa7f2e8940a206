"""API keys: the format, the hash that is stored, and that the secret never shows in a repr."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.auth import keys

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_new_key_parses_back_and_matches_its_record() -> None:
    made = keys.generate("team-a", NOW, name="bot", models=("chat-*",), rpm=60)
    value = made.key.get_secret_value()
    assert value.startswith("hub-") and len(value) > 60
    parsed = keys.parse(value)
    assert parsed is not None and parsed.id == made.record.id
    assert keys.matches(made.record, parsed)
    assert made.record.secret_hash == keys.hash_secret(parsed.secret)
    assert parsed.secret not in made.record.secret_hash  # stored hashed, never as it is


def test_secrets_stay_out_of_reprs() -> None:
    made = keys.generate("team-a", NOW)
    value = made.key.get_secret_value()
    parsed = keys.parse(value)
    assert parsed is not None
    for shown in (repr(made), str(made), repr(made.record), repr(parsed)):
        assert parsed.secret not in shown and made.record.secret_hash not in shown


def test_two_keys_differ_and_a_wrong_secret_does_not_match() -> None:
    first, second = keys.generate("t", NOW), keys.generate("t", NOW)
    assert first.record.id != second.record.id
    other = keys.parse(second.key.get_secret_value())
    assert other is not None
    mixed = keys.parse(f"hub-{first.record.id}-{other.secret}")
    assert mixed is not None and not keys.matches(first.record, mixed)


def test_things_that_are_not_keys() -> None:
    for value in ("", "unused", "sk-abc", "hub-", "hub-zz-secret", "hub-0123456789abcdef", "hub-0123-x"):
        assert keys.parse(value) is None
    assert keys.parse("hub-0123456789ABCDEF-secret") is not None  # ids compare lower-case
