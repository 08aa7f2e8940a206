"""Who is calling and what they may use: API keys, JWT bearer tokens, the policy, and the ``Access``
façade that the identity and policy stages and the listing endpoints share (see ``docs/auth.md``).

One concept per module: ``keys`` (format, hashing), ``keystore`` (the ``KeyStore`` protocol and its
in-memory fake), ``sqlstore`` (the SQL table), ``apikeys`` (verification with a short cache),
``tokens`` and ``jwks`` (JWT verification and key sets), ``credentials`` (reading headers), ``policy``
(model allow-lists), ``errors`` (refusals and their challenges), ``access`` (the façade),
``metadata`` (RFC 9728), ``cli`` (``hub keys``). Nothing is imported here, so ``hub.settings`` can
import ``hub.auth.settings`` without loading the rest.
"""
