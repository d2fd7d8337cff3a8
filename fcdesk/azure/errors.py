"""Errors of the live path, and the plain sentences the user sees for them.

No ``azure.*`` import here: the GUI may catch these without loading the SDK. Messages never contain
a token or a secret (ARM does not echo them, and nothing here formats a request's headers).
"""

from __future__ import annotations

from fcdesk.core.records import ScopeError

#: ARM error codes that mean "the bearer token has expired": renew it once and retry.
EXPIRED_TOKEN_CODES = frozenset({"expiredauthenticationtoken", "invalidauthenticationtokentokenexpired"})

_MAX_ARM_MESSAGE = 400  # ARM messages can be long (they list principals and scopes)


class LiveError(Exception):
    """Base of the live path's errors; ``user_message`` is one plain sentence, safe to show."""

    @property
    def user_message(self) -> str:
        return str(self)


class SignInError(LiveError):
    """Signing in failed (no Azure CLI login, no secret, a closed browser, an unset token...)."""


class ArmError(LiveError):
    """One ARM call that failed for good (after the retries it deserved).

    ``status`` is the HTTP status (``None`` when there was no response: timeout, dropped
    connection); ``code`` is ARM's error code (``AuthorizationFailed``...) or one of ours:
    ``Timeout``, ``ConnectionError``, ``MalformedJson``, ``AuthenticationFailed``.
    """

    def __init__(self, status: int | None, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    @property
    def user_message(self) -> str:
        return self.sentence("The Azure request")

    @property
    def short_code(self) -> str:
        """What goes into ``ScopeError.code``: the HTTP status when there is one, else our code."""
        return str(self.status) if self.status is not None and self.status >= 400 else self.code

    def reason(self) -> str:
        """A few words on what went wrong, with the HTTP status and ARM code when known."""
        words = {
            401: "not signed in or the sign-in expired",
            403: "access denied",
            404: "not found",
            408: "the request timed out",
            409: "conflict",
            429: "throttled by Azure Resource Manager",
        }.get(self.status or 0)
        if words is None and self.status is not None and self.status >= 500:
            words = "Azure reported a server error"
        if words is None:
            words = {
                "Timeout": "no answer in time",
                "ConnectionError": "the connection failed",
                "MalformedJson": "the answer was not valid JSON",
                "AuthenticationFailed": "could not get an access token",
            }.get(self.code, "the request failed")
        tag = ", ".join(part for part in (f"HTTP {self.status}" if self.status else "", self.code) if part)
        return f"{words} ({tag})" if tag else words

    def sentence(self, what: str) -> str:
        """``"<what> failed: access denied (HTTP 403, AuthorizationFailed). <ARM's message>"``."""
        detail = " ".join(self.message.split())
        if len(detail) > _MAX_ARM_MESSAGE:
            detail = detail[: _MAX_ARM_MESSAGE - 1] + "…"
        text = f"{what} failed: {self.reason()}."
        if detail:
            text += f" {detail}" if detail.endswith((".", "!", "?", "…")) else f" {detail}."
        return text

    def to_scope_error(self, scope: str, what: str) -> ScopeError:
        return ScopeError(scope=scope, message=self.sentence(what), code=self.short_code)

    @property
    def is_expired_token(self) -> bool:
        return self.status == 401 and self.code.lower() in EXPIRED_TOKEN_CODES

    @property
    def ends_subscription(self) -> bool:
        """Whether this error on a subscription's first lists means the whole subscription is unreadable."""
        return self.status in (401, 403, 404) or self.code in (
            "Timeout",
            "ConnectionError",
            "AuthenticationFailed",
        )


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (azure-identity's say what to do), or ""."""
    lines = str(getattr(exc, "message", "") or exc).strip().splitlines()
    return lines[0] if lines else ""


CANCELLED = ScopeError(scope="", message="Cancelled by the user", code="cancelled")
