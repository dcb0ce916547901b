"""Who may call the server: the bind rule, bearer tokens, dashboard sessions, callback ids."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import re
from dataclasses import dataclass

from redwood.errors import ValidationError

SESSION_COOKIE = "redwood_session"
DEFAULT_MAX_BODY = 2 << 20
TOKEN_VARIABLE = "REDWOOD_TOKEN"
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
_CALLBACK_ALPHABET = re.compile(r"^[A-Za-z0-9_\-]+$")
_HEX = re.compile(r"^[0-9a-fA-F\-]+$")
# A callback id alone is a credential only when nobody can guess it: at least 128 bits if its
# characters were random, and not an obviously patterned string.
_CALLBACK_BITS = 128
_CALLBACK_DISTINCT = 10


def is_loopback(host: str) -> bool:
    """True when ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_binding(host: str, token: str | None) -> None:
    """Refuse to listen beyond loopback without a token: the API can cancel and complete work."""
    if token is not None and not token.strip():
        raise ValidationError(
            "The server token is empty. Pass a long random value with --token or "
            f"${TOKEN_VARIABLE}, e.g. from `python -c 'import secrets; "
            "print(secrets.token_urlsafe())'`.",
        )
    if token is None and not is_loopback(host):
        raise ValidationError(
            f"Refusing to serve on {host!r} without a token: anyone who can reach that address "
            "could start, cancel and complete executions. Pass --token (or set "
            f"${TOKEN_VARIABLE}), or bind to 127.0.0.1 to serve this machine only.",
            host=host,
        )


def host_of(header: str) -> str:
    """The host part of a Host header (``[::1]:8233`` -> ``::1``, ``a:80`` -> ``a``)."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


@dataclass(frozen=True, slots=True)
class Credentials:
    """The server's token (None: loopback-only and open) and the session cookie derived from it."""

    token: str | None

    @property
    def required(self) -> bool:
        """Whether requests must authenticate."""
        return self.token is not None

    def bearer_ok(self, authorization: str | None) -> bool:
        """True for ``Authorization: Bearer <the token>``."""
        if self.token is None or not authorization:
            return False
        scheme, _, value = authorization.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(),
                                                                  self.token.encode())

    def session_value(self) -> str:
        """The dashboard's cookie: derived from the token, so it is not the token itself."""
        assert self.token is not None
        return hmac.new(self.token.encode(), b"redwood dashboard session",
                        hashlib.sha256).hexdigest()

    def session_ok(self, cookie: str | None) -> bool:
        """True for a session cookie issued by /login with the current token."""
        if self.token is None or not cookie:
            return False
        return hmac.compare_digest(cookie.encode(), self.session_value().encode())

    def token_ok(self, candidate: str) -> bool:
        """True when ``candidate`` is the token (the login form)."""
        return self.token is not None and hmac.compare_digest(candidate.encode(),
                                                              self.token.encode())


def callback_id_is_unguessable(callback_id: str) -> bool:
    """True when the id alone may authorise completing its callback (see docs/dashboard.md)."""
    if not _CALLBACK_ALPHABET.match(callback_id):
        return False
    symbols = 16 if _HEX.match(callback_id) else 64
    digits = sum(1 for c in callback_id if c != "-") if symbols == 16 else len(callback_id)
    if digits * math.log2(symbols) < _CALLBACK_BITS:
        return False
    return len(set(callback_id)) >= _CALLBACK_DISTINCT
