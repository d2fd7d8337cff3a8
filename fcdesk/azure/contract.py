"""What the rest of fcdesk sees of the live path: plain data and one protocol, no azure.* import.

The GUI and the CLI build a :class:`SignInOptions` and a :class:`CaptureOptions`, and talk to a
:class:`LiveSession` (implemented in :mod:`fcdesk.azure.session`, which imports the SDK lazily so that
the window starts without loading it).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from fcdesk.azure.clouds import PUBLIC, Cloud
from fcdesk.core.records import RawRecord, ScopeError, SnapshotMeta

TOKEN_ENV = "FCDESK_ACCESS_TOKEN"  #: a bearer token (az account get-access-token, CI, the emulator)
KEYRING_SERVICE = "fcdesk"  #: keyring service name; secrets are keyed "sp:<tenant>:<client id>"


class AuthMethod(enum.StrEnum):
    CLI = "cli"  #: reuse the Azure CLI login
    BROWSER = "browser"  #: interactive browser sign-in
    DEVICE_CODE = "device-code"  #: a code to enter on another device
    SP = "sp"  #: service principal: client secret (from the keyring) or certificate file
    MSI = "msi"  #: managed identity
    TOKEN = "token"  #: a bearer token from the FCDESK_ACCESS_TOKEN environment variable


@dataclass(frozen=True, slots=True)
class SignInOptions:
    method: AuthMethod
    cloud: Cloud = PUBLIC
    tenant_id: str | None = None  #: picked before any prompt; None: the home tenant
    client_id: str | None = None  #: service principal / user-assigned managed identity
    certificate_path: str | None = None  #: service principal with a certificate
    persistent_cache: bool = True  #: use the OS-encrypted token cache where the OS offers one


@dataclass(frozen=True, slots=True)
class DeviceCode:
    """What the user must do for a device-code sign-in (shown with a copy button)."""

    url: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is signed in, as far as fcdesk knows (for the title bar and the audit log)."""

    tenant_id: str
    principal: str  #: user principal name, app id, or "token from FCDESK_ACCESS_TOKEN"
    method: AuthMethod
    cloud: Cloud
    token_cache: str  #: e.g. "encrypted on disk (libsecret)" or "in memory only"


@dataclass(frozen=True, slots=True)
class Tenant:
    tenant_id: str
    display_name: str
    default_domain: str = ""


@dataclass(frozen=True, slots=True)
class SubscriptionChoice:
    subscription_id: str
    display_name: str
    tenant_id: str
    state: str = "Enabled"


@dataclass(slots=True)
class CaptureOptions:
    cloud: Cloud = PUBLIC
    subscriptions: list[str] | None = None  #: None: every subscription the identity can see
    tenant_id: str | None = None
    concurrency: int = 32  #: requests in flight; ARM allows bursts of 250 reads per subscription
    request_timeout_s: float = 30.0
    max_retries: int = 4  #: transient failures (5xx, dropped connections, timeouts) and 429s
    label: str = ""


@dataclass(frozen=True, slots=True)
class Progress:
    stage: str  #: "Subscriptions", "Accounts", "Deployments", "Policy states", "Defender", "Done"
    done: int  #: units finished (requests completed)
    total: int  #: units known so far (grows as lists come back)
    requests: int
    errors: int


@dataclass(slots=True)
class CaptureResult:
    meta: SnapshotMeta  #: source LIVE, partial when cancelled or any scope failed, errors listed
    records: list[RawRecord]
    requests: int
    seconds: float
    cancelled: bool = False
    errors: list[ScopeError] = field(default_factory=list)


ProgressCallback = Callable[[Progress], None]
RecordsCallback = Callable[[list[RawRecord]], None]


class LiveSession(Protocol):
    """One signed-in identity. All methods run on the asyncio (qasync) loop; none blocks it."""

    identity: Identity | None

    async def sign_in(self, options: SignInOptions, *, on_device_code: Callable[[DeviceCode], None] | None = None) -> Identity: ...

    async def tenants(self) -> list[Tenant]: ...

    async def subscriptions(self, tenant_id: str | None = None) -> list[SubscriptionChoice]: ...

    async def capture(
        self,
        options: CaptureOptions,
        *,
        on_progress: ProgressCallback | None = None,
        on_records: RecordsCallback | None = None,
        cancel: asyncio.Event | None = None,
    ) -> CaptureResult: ...

    async def close(self) -> None: ...
