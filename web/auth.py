"""Operator access: credentials checked in constant time, signed session cookies, CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response

from accel.settings import Settings

logger = logging.getLogger("accel.web")

SESSION_COOKIE = "accel_ops_session"
LOGIN_COOKIE = "accel_ops_login"  # carries the login form's CSRF token before anyone logs in
SESSION_MAX_AGE = 12 * 3600
LOGIN_MAX_AGE = 3600
DISABLED_MESSAGE = (
    "The operator pages are disabled: no operator credentials are configured. "
    "Set ACCEL_OPERATOR_USERNAME and ACCEL_OPERATOR_PASSWORD (and ACCEL_SESSION_SECRET, "
    "so that logins survive a restart), then restart the server."
)


@dataclass(frozen=True)
class OperatorSession:
    username: str
    csrf_token: str


class OperatorAuth:
    """What the operator pages need to know who is asking; `enabled` is False without credentials."""

    def __init__(
        self, *, username: str | None, password: str | None, secret: str, secure_cookies: bool
    ) -> None:
        self.enabled = bool(username) and bool(password)
        self._username = _digest(username or "")
        self._password = _digest(password or "")
        self.secure_cookies = secure_cookies
        # The credentials are part of every session: changing the password ends old sessions.
        version = hmac.new(secret.encode(), self._username + self._password, hashlib.sha256)
        self._version = version.hexdigest()[:16]
        self._sessions = URLSafeTimedSerializer(secret, salt="accel-ops-session")
        self._logins = URLSafeTimedSerializer(secret, salt="accel-ops-login")

    @classmethod
    def from_settings(cls, settings: Settings) -> OperatorAuth:
        password = settings.operator_password
        if settings.session_secret is not None and settings.session_secret.get_secret_value():
            secret = settings.session_secret.get_secret_value()
        else:
            secret = secrets.token_urlsafe(32)
            logger.warning(
                "ACCEL_SESSION_SECRET is unset: operator sessions are signed with a random "
                "secret made for this process, so logins end when it restarts."
            )
        auth = cls(
            username=settings.operator_username,
            password=password.get_secret_value() if password is not None else None,
            secret=secret,
            secure_cookies=settings.public_base_url.lower().startswith("https://"),
        )
        if not auth.enabled:
            logger.warning("/ops/ answers 503: %s", DISABLED_MESSAGE)
        return auth

    def check_credentials(self, username: str, password: str) -> bool:
        """Both compared in constant time on digests (equal lengths), and both always compared."""
        if not self.enabled:
            return False
        user_ok = hmac.compare_digest(_digest(username), self._username)
        password_ok = hmac.compare_digest(_digest(password), self._password)
        return user_ok & password_ok

    def new_session(self, username: str) -> tuple[str, OperatorSession]:
        session = OperatorSession(username=username, csrf_token=secrets.token_urlsafe(32))
        value = self._sessions.dumps(
            {"u": session.username, "c": session.csrf_token, "v": self._version}
        )
        return value, session

    def read_session(self, cookie: str | None) -> OperatorSession | None:
        if not self.enabled or not cookie:
            return None
        data = _loads(self._sessions, cookie, SESSION_MAX_AGE)
        if not isinstance(data, dict) or data.get("v") != self._version:
            return None
        username, csrf = data.get("u"), data.get("c")
        if not isinstance(username, str) or not isinstance(csrf, str):
            return None
        return OperatorSession(username=username, csrf_token=csrf)

    def new_login_token(self) -> tuple[str, str]:
        """(cookie value, token): the login form carries the token, the cookie its signed copy."""
        token = secrets.token_urlsafe(32)
        return self._logins.dumps(token), token

    def read_login_token(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        token = _loads(self._logins, cookie, LOGIN_MAX_AGE)
        return token if isinstance(token, str) else None

    def set_cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/ops",
            httponly=True,
            samesite="lax",
            secure=self.secure_cookies,
        )

    def clear_cookie(self, response: Response, name: str) -> None:
        response.delete_cookie(
            name, path="/ops", httponly=True, samesite="lax", secure=self.secure_cookies
        )


def tokens_match(given: str | None, expected: str) -> bool:
    """A submitted CSRF token against the expected one, in constant time."""
    if not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def safe_next(target: str | None) -> str:
    """Where to go after logging in: only a path of the operator pages, never another site.

    >>> safe_next("/ops/outbox"), safe_next("//evil.example/ops/"), safe_next("https://x/ops/")
    ('/ops/outbox', '/ops/', '/ops/')
    """
    if target and target.startswith("/ops/") and "\\" not in target and "//" not in target:
        return target
    return "/ops/"


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _loads(serializer: URLSafeTimedSerializer, value: str, max_age: int) -> Any:
    try:
        return serializer.loads(value, max_age=max_age)
    except BadSignature:  # also raised for expired values (SignatureExpired is a subclass)
        return None
