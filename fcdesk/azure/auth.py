"""Credentials for every sign-in method, for the right cloud, with no prompt storms.

``await make_credential(options)`` returns an ``AsyncTokenCredential`` (azure-core's protocol: an
async ``get_token``, ``close`` and ``async with``). Every credential it returns also carries
``token_cache`` (where tokens are kept, for :class:`~fcdesk.azure.contract.Identity`),
``description`` (who it signs in as, when the token does not say) and ``invalidate()`` (forget the
cached token: ARM said it expired).

- Browser and device-code sign-in only exist as *sync* credentials in azure-identity: they are run
  in a worker thread (``asyncio.to_thread``) by :class:`SerializedCredential`, which also
  serialises concurrent ``get_token`` calls behind one ``asyncio.Lock`` and caches the token until
  it is near expiry, so the 40 requests a capture starts at once cause one prompt, not 40. The
  same adapter guards the Azure CLI (one ``az`` process at a time), service principals and managed
  identity.
- Secrets: a service principal's client secret lives in the OS keyring under
  ``KEYRING_SERVICE`` / ``"sp:<tenant>:<client id>"``; keyring calls can block on an unlock prompt,
  so they run in a worker thread. Nothing here writes a secret or a token to a file or a log.
- Token cache: with ``persistent_cache`` the interactive, device-code and service-principal
  credentials use MSAL's cache encrypted by the OS (DPAPI, Keychain, libsecret) under the name
  ``fcdesk``, never a plain-text file; where the OS offers no encrypted store, tokens stay in memory.
- No module-level ``azure.*`` import: the window starts without loading the SDK.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import inspect
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from fcdesk.azure.clouds import Cloud
from fcdesk.azure.contract import (
    KEYRING_SERVICE,
    TOKEN_ENV,
    AuthMethod,
    DeviceCode,
    SignInOptions,
    SubscriptionChoice,
    Tenant,
)
from fcdesk.azure.errors import SignInError
from fcdesk.logsetup import register_secret

log = logging.getLogger(__name__)

#: Refresh a cached token when less than this much (or half its lifetime) is left. azure-core's
#: bearer policy asks again 5 minutes before expiry: then we really fetch a new one.
REFRESH_MARGIN_S = 300.0
#: A token whose expiry cannot be read (not a JWT) is trusted for this long.
OPAQUE_TOKEN_LIFETIME_S = 3600.0
CACHE_NAME = "fcdesk"

IN_MEMORY = "in memory only"


# ------------------------------------------------------------------------------------------ JWTs


def jwt_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT (not verified: only for display and expiry), or None if it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1]
    try:
        data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, TypeError):  # binascii.Error and orjson.JSONDecodeError are ValueErrors
        return None
    return data if isinstance(data, dict) else None


def principal_from_claims(claims: dict[str, Any] | None) -> str | None:
    if not claims:
        return None
    for key in ("upn", "unique_name", "preferred_username", "appid", "azp"):
        value = claims.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _expiry(token: str, now: float) -> int:
    claims = jwt_claims(token)
    exp = claims.get("exp") if claims else None
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        return int(exp)
    return int(now + OPAQUE_TOKEN_LIFETIME_S)


def _fresh(token: Any, fetched_at: float, now: float) -> bool:
    lifetime = max(0.0, token.expires_on - fetched_at)
    margin = min(REFRESH_MARGIN_S, lifetime / 2)
    return token.expires_on - now > margin


# --------------------------------------------------------------------------------- the adapters


class SerializedCredential:
    """An ``AsyncTokenCredential`` over a sync or async credential: one ``get_token`` at a time.

    Sync credentials (interactive browser, device code) run in a worker thread. The token is
    cached per (scopes, tenant) until near expiry, so concurrent callers wait for the one prompt and
    then share its token; if that one attempt fails (the user closed the browser), the callers that
    were waiting for it get its error instead of a prompt each. ``invalidate()`` forgets the cached
    tokens.
    """

    def __init__(self, inner: Any, *, token_cache: str = IN_MEMORY, description: str = "") -> None:
        self.inner = inner
        self.token_cache = token_cache
        self.description = description
        self._is_async = inspect.iscoroutinefunction(getattr(inner, "get_token", None))
        self._lock: asyncio.Lock | None = None
        self._cache: dict[tuple[Any, ...], tuple[Any, float]] = {}
        self.calls = 0  #: how many times the wrapped credential was asked (for tests and diagnostics)
        self._attempts = 0  #: finished attempts, so waiters can tell whether one ended while they waited
        self._failure: BaseException | None = None  #: the last attempt's error, if it failed

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> Any:
        key = (scopes, tenant_id or "", enable_cae)
        if claims is None and (hit := self._cached(key)) is not None:
            return hit
        if self._lock is None:
            self._lock = asyncio.Lock()
        attempts = self._attempts
        async with self._lock:
            if claims is None and (hit := self._cached(key)) is not None:
                return hit
            if self._attempts != attempts and self._failure is not None:
                raise self._failure  # it failed while we waited: no second prompt for the same request
            extra = dict(kwargs)
            if claims is not None:
                extra["claims"] = claims
            if tenant_id:
                extra["tenant_id"] = tenant_id
            if enable_cae:
                extra["enable_cae"] = True
            self.calls += 1
            try:
                if self._is_async:
                    token = await self.inner.get_token(*scopes, **extra)
                else:
                    token = await asyncio.to_thread(functools.partial(self.inner.get_token, *scopes, **extra))
            except Exception as exc:
                self._failure = exc
                raise
            else:
                self._failure = None
            finally:
                self._attempts += 1
            self._cache[key] = (token, time.time())
            return token

    def _cached(self, key: tuple[Any, ...]) -> Any:
        entry = self._cache.get(key)
        if entry is None:
            return None
        token, fetched_at = entry
        return token if _fresh(token, fetched_at, time.time()) else None

    def invalidate(self, *, before: float | None = None) -> None:
        """Forget cached tokens (only those fetched before ``before``, a ``time.time()``, if given)."""
        if before is None:
            self._cache.clear()
        else:
            self._cache = {k: v for k, v in self._cache.items() if v[1] >= before}

    async def close(self) -> None:
        self._cache.clear()
        close = getattr(self.inner, "close", None)
        if close is None:
            return
        if inspect.iscoroutinefunction(close):
            await close()
        else:
            await asyncio.to_thread(close)

    async def __aenter__(self) -> SerializedCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class EnvTokenCredential:
    """The bearer token in ``FCDESK_ACCESS_TOKEN`` (from ``az account get-access-token``, CI, a test).

    Its expiry comes from the JWT ``exp`` claim (else one hour); when it is near, the variable is
    read again so that a refreshed value is picked up. Unset or empty: a clear
    ``CredentialUnavailableError``.
    """

    token_cache = f"{IN_MEMORY} (token from {TOKEN_ENV})"
    description = f"token from {TOKEN_ENV}"

    def __init__(self, env: str = TOKEN_ENV) -> None:
        self.env = env
        self._token: Any = None
        self._fetched_at = 0.0
        self.calls = 0  #: how many times the variable was read

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        now = time.time()
        if self._token is not None and _fresh(self._token, self._fetched_at, now):
            return self._token
        return self._read(now)

    def _read(self, now: float) -> Any:
        from azure.core.credentials import AccessToken
        from azure.identity import CredentialUnavailableError

        self.calls += 1
        value = os.environ.get(self.env, "").strip()
        if value.lower().startswith("bearer "):
            value = value[7:].strip()
        if not value:
            raise CredentialUnavailableError(
                message=f"{self.env} is not set: put an ARM access token in it "
                "(for example from `az account get-access-token --query accessToken -o tsv`)."
            )
        register_secret(value)  # masked in every log line, whatever logs it
        self._token = AccessToken(value, _expiry(value, now))
        self._fetched_at = now
        return self._token

    def invalidate(self, *, before: float | None = None) -> None:
        """Read the variable again next time (unless it was read after ``before``)."""
        if before is None or self._fetched_at < before:
            self._token = None

    async def close(self) -> None:
        self._token = None

    async def __aenter__(self) -> EnvTokenCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


# -------------------------------------------------------------------------------- token caching


@functools.lru_cache(maxsize=1)
def token_cache_status() -> tuple[bool, str]:
    """(whether the OS offers an encrypted token store, how to describe where tokens are kept).

    Blocking (it may touch the OS keyring): call through ``asyncio.to_thread``.
    """
    if sys.platform.startswith("win") or sys.platform == "darwin":
        where = "Windows DPAPI" if sys.platform.startswith("win") else "macOS Keychain"
        try:  # what azure-identity builds: DPAPI-protected file / Keychain (nothing is written yet)
            import tempfile

            import msal_extensions

            signal = os.path.join(tempfile.gettempdir(), "fcdesk-cache-probe")
            if sys.platform.startswith("win"):
                msal_extensions.FilePersistenceWithDataProtection(signal)
            else:
                msal_extensions.KeychainPersistence(signal, "Microsoft.Developer.IdentityService", CACHE_NAME)
        except Exception as exc:  # noqa: BLE001 - whatever stops the OS store: fall back to memory
            log.debug("no encrypted token store: %s", type(exc).__name__)
            return False, f"{IN_MEMORY} (no encrypted store on this system)"
        return True, f"encrypted on disk ({where})"
    if sys.platform.startswith("linux"):
        try:
            from msal_extensions.libsecret import trial_run

            trial_run()  # what msal_extensions.LibsecretPersistence runs before it can be used
        except Exception as exc:  # noqa: BLE001 - ImportError (no PyGObject), no D-Bus, no keyring daemon...
            log.debug("no encrypted token store: %s", type(exc).__name__)
            return False, f"{IN_MEMORY} (no encrypted store on this system)"
        return True, "encrypted on disk (libsecret)"
    return False, f"{IN_MEMORY} (no encrypted store on this system)"


async def _cache_options(options: SignInOptions) -> tuple[dict[str, Any], str]:
    if not options.persistent_cache:
        return {}, IN_MEMORY
    encrypted, description = await asyncio.to_thread(token_cache_status)
    if not encrypted:
        return {}, description
    from azure.identity import TokenCachePersistenceOptions

    return {
        "cache_persistence_options": TokenCachePersistenceOptions(
            name=CACHE_NAME, allow_unencrypted_storage=False
        )
    }, description


# ------------------------------------------------------------------------------------ SP secrets


def _sp_key(tenant_id: str, client_id: str) -> str:
    return f"sp:{tenant_id}:{client_id}"


class _Sealed:
    """A secret crossing a worker thread. Executors may log a call's arguments and result (qasync's
    does, at DEBUG): closures carry the secret in, and this wrapper's repr hides it on the way out."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "<secret>" if self._value is not None else "<no secret>"

    __str__ = __repr__

    def open(self) -> str | None:
        return self._value


async def store_sp_secret(tenant_id: str, client_id: str, secret: str) -> None:
    """Keep a service principal's client secret in the OS keyring."""
    import keyring

    register_secret(secret)
    sealed = _Sealed(secret)
    key = _sp_key(tenant_id, client_id)

    def write() -> None:  # no arguments: nothing secret in an executor's log line
        keyring.set_password(KEYRING_SERVICE, key, sealed.open() or "")

    await asyncio.to_thread(write)


async def get_sp_secret(tenant_id: str, client_id: str) -> str | None:
    import keyring

    key = _sp_key(tenant_id, client_id)

    def read() -> _Sealed:
        return _Sealed(keyring.get_password(KEYRING_SERVICE, key))

    secret = (await asyncio.to_thread(read)).open()
    register_secret(secret)
    return secret


async def forget_sp_secret(tenant_id: str, client_id: str) -> bool:
    """Remove the stored secret; False if there was none."""
    import keyring
    from keyring.errors import PasswordDeleteError

    try:
        await asyncio.to_thread(keyring.delete_password, KEYRING_SERVICE, _sp_key(tenant_id, client_id))
    except PasswordDeleteError:
        return False
    return True


# ----------------------------------------------------------------------------- make_credential


async def make_credential(
    options: SignInOptions,
    *,
    secret: str | None = None,
    on_device_code: Callable[[DeviceCode], None] | None = None,
    additionally_allowed_tenants: Sequence[str] = (),
) -> Any:
    """An ``AsyncTokenCredential`` for ``options`` (see the module doc). Creating it prompts nobody.

    ``secret``: a service principal's client secret (else read from the keyring).
    ``on_device_code``: called on this event loop with the code to show (device-code sign-in).
    ``additionally_allowed_tenants``: only when the user opted in to tokens for other tenants.
    Raises :class:`SignInError` when ``options`` cannot work (no client id for a service principal,
    no secret stored, a malformed tenant id...).
    """
    try:
        return await _make_credential(options, secret, on_device_code, additionally_allowed_tenants)
    except ValueError as exc:  # azure-identity validates tenant ids, authorities... with ValueError
        raise SignInError(
            str(exc).strip().splitlines()[0] if str(exc).strip() else "Invalid sign-in options."
        ) from None


async def _make_credential(
    options: SignInOptions,
    secret: str | None,
    on_device_code: Callable[[DeviceCode], None] | None,
    additionally_allowed_tenants: Sequence[str],
) -> Any:
    method = AuthMethod(options.method)
    cloud: Cloud = options.cloud
    tenant = options.tenant_id or None
    allowed = list(additionally_allowed_tenants or getattr(options, "additionally_allowed_tenants", ()) or ())
    extra: dict[str, Any] = {"additionally_allowed_tenants": allowed} if allowed else {}
    if method is AuthMethod.TOKEN:
        return EnvTokenCredential()
    if method is AuthMethod.CLI:
        from azure.identity.aio import AzureCliCredential

        return SerializedCredential(
            AzureCliCredential(tenant_id=tenant or "", **extra),
            token_cache="kept by the Azure CLI",
            description="Azure CLI login",
        )
    if method is AuthMethod.MSI:
        from azure.identity.aio import ManagedIdentityCredential

        msi = (
            ManagedIdentityCredential(client_id=options.client_id)
            if options.client_id
            else ManagedIdentityCredential()
        )
        return SerializedCredential(msi, token_cache=IN_MEMORY, description="managed identity")
    cache_kwargs, cache_text = await _cache_options(options)
    common: dict[str, Any] = {"authority": cloud.authority_host, **cache_kwargs, **extra}
    # the interactive methods take the same tenant and (optional) public client id
    interactive = dict(common)
    if tenant:
        interactive["tenant_id"] = tenant
    if options.client_id:
        interactive["client_id"] = options.client_id
    if method is AuthMethod.BROWSER:
        from azure.identity import InteractiveBrowserCredential

        return SerializedCredential(
            InteractiveBrowserCredential(**interactive), token_cache=cache_text, description="browser sign-in"
        )
    if method is AuthMethod.DEVICE_CODE:
        from azure.identity import DeviceCodeCredential

        credential = DeviceCodeCredential(**interactive, prompt_callback=_device_code_prompt(on_device_code))
        return SerializedCredential(credential, token_cache=cache_text, description="device-code sign-in")
    if method is AuthMethod.SP:
        if not tenant or not options.client_id:
            raise SignInError("A service principal needs a tenant id and a client id.")
        if options.certificate_path:
            from azure.identity.aio import CertificateCredential

            if not os.path.isfile(options.certificate_path):
                raise SignInError(f'The certificate file "{options.certificate_path}" does not exist.')
            inner: Any = CertificateCredential(
                tenant, options.client_id, certificate_path=options.certificate_path, **common
            )
        else:
            from azure.identity.aio import ClientSecretCredential

            secret = secret or await get_sp_secret(tenant, options.client_id)
            if not secret:
                raise SignInError(
                    f"No client secret is stored for service principal {options.client_id} in tenant "
                    f"{tenant}: save it in the sign-in dialog, or set AZURE_CLIENT_SECRET."
                )
            register_secret(secret)
            inner = ClientSecretCredential(tenant, options.client_id, secret, **common)
        return SerializedCredential(
            inner, token_cache=cache_text, description=f"service principal {options.client_id}"
        )
    raise SignInError(f"Unknown sign-in method {method!r}.")  # pragma: no cover - AuthMethod is closed


def _device_code_prompt(on_device_code: Callable[[DeviceCode], None] | None) -> Callable[..., None]:
    """azure-identity's prompt callback (called on a worker thread), forwarded to the loop."""
    loop = asyncio.get_running_loop()

    def prompt(verification_uri: str, user_code: str, expires_on: Any = None) -> None:
        code = DeviceCode(
            url=verification_uri,
            code=user_code,
            message=f"To sign in, open {verification_uri} in a browser and enter the code {user_code}.",
        )
        if on_device_code is None:
            log.warning("%s", code.message)
        else:
            loop.call_soon_threadsafe(on_device_code, code)

    return prompt


# --------------------------------------------------------------------------- tenants, subscriptions


async def list_tenants(credential: Any, cloud: Cloud) -> list[Tenant]:
    """``GET /tenants``: the directories this identity can sign in to."""
    from fcdesk.azure._http import ArmHttp

    out: list[Tenant] = []
    async with ArmHttp(credential, cloud, concurrency=4) as http:
        params = {"api-version": http.versions["subscriptions"]}
        async for page in http.pages("subscriptions", "/tenants", params):
            for item in page:
                if isinstance(item, dict) and item.get("tenantId"):
                    out.append(
                        Tenant(
                            tenant_id=str(item["tenantId"]),
                            display_name=str(item.get("displayName") or item["tenantId"]),
                            default_domain=str(item.get("defaultDomain") or ""),
                        )
                    )
    return out


async def list_subscriptions(
    credential: Any, cloud: Cloud, tenant_id: str | None = None
) -> list[SubscriptionChoice]:
    """``GET /subscriptions`` with a token for ``tenant_id`` (the credential's tenant)."""
    from fcdesk.azure._http import ArmHttp

    out: list[SubscriptionChoice] = []
    async with ArmHttp(credential, cloud, concurrency=4) as http:
        params = {"api-version": http.versions["subscriptions"]}
        async for page in http.pages("subscriptions", "/subscriptions", params):
            for item in page:
                if not isinstance(item, dict) or not item.get("subscriptionId"):
                    continue
                sub_tenant = str(item.get("tenantId") or tenant_id or "")
                if tenant_id and sub_tenant and sub_tenant.lower() != tenant_id.lower():
                    continue
                out.append(
                    SubscriptionChoice(
                        subscription_id=str(item["subscriptionId"]),
                        display_name=str(item.get("displayName") or item["subscriptionId"]),
                        tenant_id=sub_tenant,
                        state=str(item.get("state") or "Enabled"),
                    )
                )
    return out
