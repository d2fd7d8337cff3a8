"""What the emulator's handlers answer with: ARM errors, replies with a status, RBAC actions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import orjson


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer other than a plain 200 with a JSON body (which handlers return as ``bytes``)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def error_body(code: str, message: str) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message}})


def object_id(principal: str) -> str:
    """The ``oid`` claim of the emulator's tokens for ``principal`` (also used in ARM messages)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "arm-emulator:" + principal))


def is_read(method: str, lower: list[str]) -> bool:
    """Whether a request only reads: GET, or a POST policy-state query (``queryResults``, ``summarize``)."""
    if method in ("GET", "HEAD"):
        return True
    return (
        method == "POST"
        and len(lower) >= 3
        and lower[-3] == "policystates"
        and lower[-1] in ("queryresults", "summarize")
    )


def action_of(segs: list[str], method: str) -> str:
    """The RBAC action a request needs, e.g. ``Microsoft.Authorization/policyAssignments/write``:
    the resource types of the path after its last ``providers`` plus ``read``, ``write`` (PUT, PATCH),
    ``delete``, or for a POST the last segment and ``action``."""
    verb = {"GET": "read", "HEAD": "read", "POST": "action", "DELETE": "delete"}.get(method, "write")
    lower = [s.lower() for s in segs]
    if "providers" not in lower:
        kind = "subscriptions/resourceGroups" if "resourcegroups" in lower else "subscriptions"
        return f"Microsoft.Resources/{kind}/{verb}"
    p = len(lower) - 1 - lower[::-1].index("providers")
    rest = segs[p + 1 :]
    return "/".join([rest[0], *rest[1::2]]) + "/" + verb


def authorization_failed(principal: str, action: str, scope: str) -> ArmError:
    """ARM's 403 for a caller without the right to ``action`` over ``scope``."""
    return ArmError(
        403,
        "AuthorizationFailed",
        f"The client '{principal}' with object id '{object_id(principal)}' does not have authorization to "
        f"perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently "
        "granted, please refresh your credentials.",
    )


def not_found(path: str, detail: str = "") -> ArmError:
    extra = f" ({detail})" if detail else ""
    return ArmError(
        404,
        "InvalidResourceType",
        f"The resource type could not be found for the path '{path}'{extra}: the emulator does not serve it.",
    )


def method_not_allowed(method: str, path: str) -> ArmError:
    return ArmError(405, "MethodNotAllowed", f"The emulator does not support {method} on '{path}'.")
