"""``AzureSession``: the :class:`~fcdesk.azure.contract.LiveSession` the window and the CLI use.

Failures raise :class:`~fcdesk.azure.errors.LiveError` (``SignInError`` from ``sign_in``, ``ArmError``
from the listings), whose ``user_message`` is one plain sentence. A capture never raises for ARM
errors: they are in its result.

Importing this module is cheap: the Azure SDK is loaded on the first sign-in, not before.

One credential per (tenant, method, cloud, client) is created and reused, so each tenant prompts
at most once (and the home tenant, once its id is known, shares the sign-in's credential).

Writes (and the reads around them) go through :meth:`AzureSession.arm`, which lends an
:class:`~fcdesk.azure.writes.ArmWriter` with the signed-in credential and cloud.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from fcdesk.azure.contract import (
    CaptureOptions,
    CaptureResult,
    DeviceCode,
    Identity,
    ProgressCallback,
    RecordsCallback,
    SignInOptions,
    SubscriptionChoice,
    Tenant,
)
from fcdesk.azure.errors import SignInError, first_line

if TYPE_CHECKING:
    from fcdesk.azure.writes import ArmWriter

log = logging.getLogger(__name__)


class AzureSession:
    """One signed-in identity. Every method runs on the asyncio (qasync) loop and never blocks it."""

    def __init__(self, *, secret: str | None = None) -> None:
        """``secret``: a service principal's client secret given by the caller (the CLI reads
        ``AZURE_CLIENT_SECRET``); otherwise it comes from the keyring."""
        self.identity: Identity | None = None
        self._secret = secret
        self._options: SignInOptions | None = None
        self._on_device_code: Callable[[DeviceCode], None] | None = None
        self._credentials: dict[tuple[Any, ...], Any] = {}
        self._tenant_names: dict[str, str] = {}
        self._lock: asyncio.Lock | None = None

    # ------------------------------------------------------------------------------- sign-in

    async def sign_in(
        self, options: SignInOptions, *, on_device_code: Callable[[DeviceCode], None] | None = None
    ) -> Identity:
        """Build the credential and fetch one token to prove it works. Raises :class:`SignInError`."""
        from azure.core.exceptions import ClientAuthenticationError

        from fcdesk.azure.auth import jwt_claims, principal_from_claims

        if self._options is not None and self._key(options, options.tenant_id) != self._key(
            self._options, self._options.tenant_id
        ):
            await self.close()  # a different identity: forget the previous one's credentials
        self._options = options
        self._on_device_code = on_device_code
        credential = await self._credential(options.tenant_id)
        try:
            token = await credential.get_token(options.cloud.token_scope)
        except ClientAuthenticationError as exc:
            raise SignInError(first_line(exc) or "Sign-in failed.") from None
        claims = jwt_claims(token.token) or {}
        tenant = str(claims.get("tid") or options.tenant_id or "")
        if tenant and not options.tenant_id:  # the home tenant by id shares the same credential
            self._credentials.setdefault(self._key(options, tenant), credential)
        self.identity = Identity(
            tenant_id=tenant,
            principal=principal_from_claims(claims)
            or getattr(credential, "description", "")
            or str(options.method),
            method=options.method,
            cloud=options.cloud,
            token_cache=getattr(credential, "token_cache", "in memory only"),
        )
        return self.identity

    def _signed_in(self) -> SignInOptions:
        if self._options is None:
            raise SignInError("Not signed in.")
        return self._options

    @staticmethod
    def _key(options: SignInOptions, tenant_id: str | None) -> tuple[Any, ...]:
        return (
            (tenant_id or "").lower(),
            str(options.method),
            options.cloud,
            options.client_id,
            options.certificate_path,
            options.persistent_cache,
        )

    async def _credential(self, tenant_id: str | None) -> Any:
        from fcdesk.azure.auth import make_credential

        options = self._signed_in()
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # two tabs asking for the same new tenant get one credential
            key = self._key(options, tenant_id)
            credential = self._credentials.get(key)
            if credential is None:
                credential = await make_credential(
                    dataclasses.replace(options, tenant_id=tenant_id or None),
                    secret=self._secret,
                    on_device_code=self._on_device_code,
                )
                self._credentials[key] = credential
            return credential

    # ------------------------------------------------------------------------------- listing

    async def tenants(self) -> list[Tenant]:
        from fcdesk.azure.auth import list_tenants

        options = self._signed_in()
        found = await list_tenants(await self._credential(options.tenant_id), options.cloud)
        self._tenant_names.update({t.tenant_id.lower(): t.display_name for t in found})
        return found

    async def subscriptions(self, tenant_id: str | None = None) -> list[SubscriptionChoice]:
        from fcdesk.azure.auth import list_subscriptions

        options = self._signed_in()
        tenant = tenant_id or options.tenant_id or (self.identity.tenant_id if self.identity else None)
        credential = await self._credential(tenant)
        return await list_subscriptions(credential, options.cloud, tenant)

    # ------------------------------------------------------------------------------- capture

    async def capture(
        self,
        options: CaptureOptions,
        *,
        on_progress: ProgressCallback | None = None,
        on_records: RecordsCallback | None = None,
        cancel: asyncio.Event | None = None,
    ) -> CaptureResult:
        """Capture with the signed-in identity, for ``options.tenant_id`` (default: the sign-in's).

        The capture always talks to the cloud signed in to (``options.cloud`` is replaced by it).
        """
        from fcdesk.azure.capture import capture

        signed = self._signed_in()
        tenant = options.tenant_id or signed.tenant_id or (self.identity.tenant_id if self.identity else None)
        run_options = dataclasses.replace(options, cloud=signed.cloud, tenant_id=tenant or None)
        credential = await self._credential(tenant)
        result = await capture(
            credential, run_options, on_progress=on_progress, on_records=on_records, cancel=cancel
        )
        if not result.meta.tenant_name and result.meta.tenant_id:
            result.meta.tenant_name = self._tenant_names.get(result.meta.tenant_id.lower(), "")
        return result

    # ------------------------------------------------------------------------------- writes

    @contextlib.asynccontextmanager
    async def arm(
        self, tenant_id: str | None = None, *, concurrency: int = 8, request_timeout_s: float = 60.0
    ) -> AsyncIterator[ArmWriter]:
        """An :class:`~fcdesk.azure.writes.ArmWriter` with this identity's credential and cloud, for
        ``tenant_id`` (default: the sign-in's), open for the ``async with`` block.

        Raises :class:`SignInError` when not signed in.
        """
        from fcdesk.azure._http import ArmHttp
        from fcdesk.azure.writes import ArmWriter

        signed = self._signed_in()
        tenant = tenant_id or signed.tenant_id or (self.identity.tenant_id if self.identity else None)
        credential = await self._credential(tenant)
        async with ArmHttp(
            credential, signed.cloud, concurrency=concurrency, request_timeout_s=request_timeout_s
        ) as http:
            yield ArmWriter(http)

    async def close(self) -> None:
        credentials = list({id(c): c for c in self._credentials.values()}.values())
        self._credentials.clear()
        self.identity = None
        for credential in credentials:
            try:
                await credential.close()
            except Exception:  # closing must not fail sign-out
                log.debug("closing a credential failed", exc_info=True)
