"""A test issuer of JWTs: keys generated here, tokens signed here, and its JWKS served over real HTTP on
127.0.0.1 (a ``ThreadingHTTPServer`` in a thread), so the hub fetches keys as it would from an IdP.

``Issuer.token(**claims)`` signs with the current key (RS256 by default); ``rotate()`` adds a new key
to the served JWKS; ``hits`` counts JWKS fetches. ``forge_*`` make the tokens a hub must refuse.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ISSUER = "https://issuer.test"
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def new_key(algorithm: str) -> PrivateKey:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def public_jwk(key: PrivateKey, kid: str, algorithm: str) -> dict[str, Any]:
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
    return {**jwk, "kid": kid, "alg": algorithm, "use": "sig"}


def public_pem(key: PrivateKey) -> str:
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Issuer:
    audience: str = "hub"
    issuer: str = ISSUER
    algorithm: str = "RS256"
    team: str = "a"
    keys: dict[str, tuple[PrivateKey, str]] = field(default_factory=dict)
    current: str = ""
    hits: int = 0
    url: str = ""

    def __post_init__(self) -> None:
        self.rotate(self.algorithm)

    def rotate(self, algorithm: str | None = None) -> str:
        """Add a new signing key (it becomes current) and serve it; returns its kid."""
        algorithm = algorithm or self.algorithm
        kid = f"k{len(self.keys) + 1}-{algorithm}-{secrets.token_hex(3)}"
        self.keys[kid] = (new_key(algorithm), algorithm)
        self.current = kid
        return kid

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(key, kid, alg) for kid, (key, alg) in self.keys.items()]}

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": "agent-7",
            "iat": now,
            "exp": now + 300,
            "team": self.team,
            "scope": "models:use",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, kid: str | None = None, **claims: Any) -> str:
        kid = kid or self.current
        key, algorithm = self.keys[kid]
        return jwt.encode(self.claims(**claims), key, algorithm=algorithm, headers={"kid": kid})

    def forge_none(self, **claims: Any) -> str:
        """An unsigned token (``alg: none``)."""
        header = {"alg": "none", "typ": "JWT", "kid": self.current}
        body = json.dumps(self.claims(**claims)).encode()
        return f"{_b64(json.dumps(header).encode())}.{_b64(body)}."

    def forge_hs256(self, **claims: Any) -> str:
        """HS256 "signed" with the issuer's public key as the HMAC secret: algorithm confusion."""
        key, _ = self.keys[self.current]
        secret = public_pem(key).encode()
        header = {"alg": "HS256", "typ": "JWT", "kid": self.current}
        payload = json.dumps(self.claims(**claims)).encode()
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(payload)}"
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"


def _handler(issuer: Issuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            issuer.hits += 1
            body = json.dumps(issuer.jwks()).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serve_jwks(issuer: Issuer) -> Iterator[Issuer]:
    """Serve ``issuer``'s JWKS at ``issuer.url`` (``http://127.0.0.1:PORT/jwks.json``) while inside."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(issuer))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    issuer.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
