"""ARM reads through the Azure SDK clients' own pipelines, returning the JSON exactly as received.

:class:`ArmHttp` owns one set of ``.aio`` management clients for one capture (or one listing) and
sends every request with the generated clients' ``send_request`` (``_send_request`` in some
packages; ``SecurityCenter`` only has its pipeline client's). Each client keeps the SDK's auth
(bearer token, CAE challenges, renewal near expiry), headers, redirects, logging with redaction and
the aiohttp transport; the bodies are read as bytes and parsed with orjson, never turned into SDK
models (the snapshot keeps ARM JSON verbatim, and model deserialisation is the costliest part of a
large capture).

Two things differ from the clients' defaults, on purpose:

- **Retries are ours** (``retry_total=0`` in the pipeline). azure-core retries a GET 429 only three
  times and a POST 429 (policy states are POST) only when it carries ``Retry-After``. Here 429 and
  transient failures (408/5xx, dropped connections, timeouts) are retried up to
  ``max_retries`` times for every method, honouring ``Retry-After``/``retry-after-ms``/
  ``x-ms-retry-after-ms``/``x-ms-user-quota-resets-after`` and otherwise backing off exponentially
  with jitter. A 429 also closes the gate for its whole throttling bucket (the subscription, or
  the tenant for tenant-level calls) until the wait is over, so the other requests do not keep
  hitting a throttled bucket. A 401 saying the token expired is retried exactly once, with a token
  fetched for that retry (our credential adapters first forget tokens older than the rejected
  request; see ``_auth_policy_class``).
- **No automatic resource-provider registration.** The generated clients include
  ``ARMAutoResourceProviderRegistrationPolicy``, which answers a 409 ``MissingSubscriptionRegistration``
  by *registering* the provider: a write, which a read-only capture must never do.

Requests share one aiohttp session whose connector holds a single SSL context: azure-core's
aiohttp transport builds a new ``SSLContext`` per request when ``connection_verify`` is a CA file,
and aiohttp keys its keep-alive pool on that object, so every request would pay a TLS handshake.
The session does not ``trust_env`` (that costs two worker-thread hops per request and would mix
``~/.netrc`` credentials into ARM calls); the environment's HTTPS proxy is looked up once instead.

Rate: one ``asyncio.Semaphore(concurrency)`` bounds the requests in flight, and a client-side token
bucket per throttling bucket mirrors ARM's documented read limits (a burst of 250 per subscription
and principal, refilled at 25 per second), tightened whenever ARM reports fewer remaining reads
(``x-ms-ratelimit-remaining-subscription-reads``/``-tenant-reads``).

Writes (PUT, DELETE, PATCH, and POST actions sent with ``write=True``) carry an optional JSON body
and have buckets of their own (ARM's write limits: 200, refilled at 10 per second). They are retried
like reads on 429 and on failures without a response (PUT and DELETE are idempotent), but a 5xx or
408 on a write is retried only once (:data:`WRITE_SERVER_RETRIES`): a failing write must surface
quickly, not after a minute of backoff. :meth:`ArmHttp.send` returns the status and headers too
(long-running operations are followed with them; see :mod:`fcdesk.azure.writes`).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from fcdesk._version import __version__
from fcdesk.azure.clouds import Cloud
from fcdesk.azure.errors import ArmError, first_line

log = logging.getLogger(__name__)

#: Placeholder for the clients that want a subscription id: every URL we send is absolute.
_NO_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"

#: (module, class) of each client. The api-version of each read comes from these (see api_versions()).
CLIENTS: dict[str, tuple[str, str]] = {
    "subscriptions": ("azure.mgmt.resource.subscriptions.aio", "SubscriptionClient"),
    "resources": ("azure.mgmt.resource.resources.aio", "ResourceManagementClient"),
    "policy": ("azure.mgmt.resource.policy.aio", "PolicyClient"),
    "insights": ("azure.mgmt.policyinsights.aio", "PolicyInsightsClient"),
    "cognitive": ("azure.mgmt.cognitiveservices.aio", "CognitiveServicesManagementClient"),
    "security": ("azure.mgmt.security.aio", "SecurityCenter"),
}

#: ARM's read limits per subscription (or tenant) and principal: a bucket of 250, refilled at 25/s.
ARM_READ_BURST = 250
ARM_READ_RATE = 25.0
#: ARM's write limits per subscription (or tenant) and principal: a bucket of 200, refilled at 10/s.
ARM_WRITE_BURST = 200
ARM_WRITE_RATE = 10.0
#: Methods that change something. A POST is a read (policy-state queries) unless sent with write=True.
WRITE_METHODS = frozenset({"PUT", "DELETE", "PATCH"})
#: A write answered with a 5xx (or 408) is retried at most this many times.
WRITE_SERVER_RETRIES = 1
RETRYABLE_STATUS = frozenset({408, 500, 502, 503, 504})
BACKOFF_BASE_S = 0.4
BACKOFF_CAP_S = 15.0
MAX_THROTTLE_WAIT_S = 300.0  #: a longer Retry-After is shortened to this (the user can still cancel)
#: A write waits at most this long for one throttling answer: a person is watching a busy dialog,
#: and a write that cannot go through within a minute is better reported than silently retried.
MAX_WRITE_THROTTLE_WAIT_S = 60.0
_SUB_RE = re.compile(r"^(?:https?://[^/]+)?/subscriptions/([^/?#]+)", re.IGNORECASE)


def api_versions() -> dict[str, str]:
    """The api-version of each read, as the installed SDK packages default them (looked up once).

    With the pinned packages: subscriptions 2022-12-01, resource groups 2025-04-01, policy
    assignments and set definitions 2026-06-01, policy states
    2019-10-01, Cognitive Services 2025-09-01, assessments and assessment metadata 2021-06-01,
    alerts 2022-01-01, pricings 2024-01-01; ``trigger_evaluation`` (policy insights) 2019-10-01.
    """
    return dict(_lookup_api_versions())


@functools.cache
def _lookup_api_versions() -> dict[str, str]:
    import importlib

    versions: dict[str, str] = {}
    for name, key in (
        ("subscriptions", "subscriptions"),
        ("resources", "resource_groups"),
        ("policy", "policy"),
        ("cognitive", "cognitive"),
    ):
        module, cls_name = CLIENTS[name]
        config_module = importlib.import_module(module.replace(".aio", ".aio._configuration"))
        config_cls = next(v for k, v in vars(config_module).items() if k.endswith("Configuration"))
        args = (object(),) if name == "subscriptions" else (object(), _NO_SUBSCRIPTION)
        versions[key] = config_cls(*args).api_version
    from azure.mgmt.security.aio import SecurityCenter

    profile = SecurityCenter.LATEST_PROFILE.get_profile_dict()[SecurityCenter._PROFILE_TAG]
    for group, key in (
        ("assessments", "assessments"),
        ("assessments_metadata", "assessment_metadata"),
        ("alerts", "alerts"),
        ("pricings", "pricings"),
    ):
        versions[key] = profile.get(group) or SecurityCenter.DEFAULT_API_VERSION
    try:  # policy insights has no client-wide api-version: its request builder carries the default
        from azure.mgmt.policyinsights.operations._policy_states_operations import (
            build_list_query_results_for_subscription_request,
        )

        request = build_list_query_results_for_subscription_request("latest", _NO_SUBSCRIPTION)
        versions["policy_states"] = str(request.query.get("api-version") or "2019-10-01")
    except (ImportError, TypeError, AttributeError):  # a regenerated package: the long-stable version
        versions["policy_states"] = "2019-10-01"
    try:
        from azure.mgmt.policyinsights.operations._policy_states_operations import (
            build_trigger_subscription_evaluation_request,
        )

        request = build_trigger_subscription_evaluation_request(_NO_SUBSCRIPTION)
        versions["trigger_evaluation"] = str(request.query.get("api-version") or "2019-10-01")
    except (ImportError, TypeError, AttributeError):
        versions["trigger_evaluation"] = "2019-10-01"
    return versions


# ------------------------------------------------------------------------------------- throttling


class _Bucket:
    """A client-side token bucket mirroring ARM's read (or write) limits for one subscription (or the
    tenant)."""

    __slots__ = ("burst", "rate", "tokens", "stamp", "open_at")

    def __init__(self, burst: int = ARM_READ_BURST, rate: float = ARM_READ_RATE) -> None:
        self.burst = float(burst)
        self.rate = rate
        self.tokens = self.burst
        self.stamp = time.monotonic()
        self.open_at = 0.0  #: monotonic time before which nothing is sent (after a 429)

    async def take(self) -> None:
        while True:
            now = time.monotonic()
            if now < self.open_at:
                await asyncio.sleep(self.open_at - now)
                continue
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return
            await asyncio.sleep((1.0 - self.tokens) / self.rate)

    def close_for(self, seconds: float) -> None:
        self.open_at = max(self.open_at, time.monotonic() + seconds)

    def observe_remaining(self, remaining: int) -> None:
        self.tokens = min(self.tokens, float(remaining))


def bucket_key(url: str) -> str:
    """The throttling bucket of a request: its subscription id, or "tenant"."""
    match = _SUB_RE.match(url)
    return match.group(1).lower() if match else "tenant"


def retry_after_s(headers: Any) -> float | None:
    """Seconds to wait from a throttled (or 503) response's headers, if it says."""
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) / 1000.0)
            except ValueError:
                pass
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None:
                return max(0.0, when.timestamp() - time.time())
    value = headers.get("x-ms-user-quota-resets-after")  # Resource Graph style: hh:mm:ss
    if value:
        try:
            h, m, s = (float(part) for part in value.split(":"))
            return max(0.0, h * 3600 + m * 60 + s)
        except ValueError:
            pass
    return None


def backoff_s(attempt: int) -> float:
    """Exponential backoff with jitter: 0.4 s, 0.8 s, 1.6 s... (±50 %), at most 15 s."""
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * (2**attempt)) * random.uniform(0.5, 1.0)


# ---------------------------------------------------------------------------------------- clients


def _ssl_context(ca_file: str | None) -> Any:
    import ssl

    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


#: Per-request pipeline option (popped by our auth policy): authorise with a newly fetched token.
FRESH_TOKEN = "fcdesk_fresh_token"


@functools.cache
def _auth_policy_class() -> Any:
    """ARM's bearer-token policy that can be told to fetch a new token for one request.

    After a 401 ``ExpiredAuthenticationToken`` the policy drops its token, but by the time the retry
    is sent another request may have cached a token that is itself stale (the policy trusts the
    expiry the credential reported). The retry therefore asks for a fresh one, so each such 401
    costs exactly one new token and one retry.
    """
    from azure.mgmt.core.policies import AsyncARMChallengeAuthenticationPolicy

    class ArmAuthPolicy(AsyncARMChallengeAuthenticationPolicy):
        async def on_request(self, request: Any) -> None:
            fresh = request.context.options.pop(FRESH_TOKEN, False)
            await super().on_request(request)
            if fresh:
                await self.authorize_request(request, *self._scopes)

    return ArmAuthPolicy


def env_proxy(url: str) -> str | None:
    """The HTTPS proxy the environment (or the OS settings) names for ``url``, honouring NO_PROXY.

    Looked up once per capture: aiohttp's ``trust_env`` would do it, and read ``~/.netrc``, in a
    worker thread on every request.
    """
    import urllib.request

    host = urlsplit(url).hostname or ""
    if not host or urllib.request.proxy_bypass(host):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get("https") or proxies.get("all") or None


def _policies(credential: Any, cloud: Cloud, proxy: str | None = None, **kwargs: Any) -> list[Any]:
    """The generated clients' policy list, minus auto-registration, with retries switched off."""
    from azure.core.pipeline import policies
    from azure.mgmt.core.policies import ARMHttpLoggingPolicy

    return [
        policies.RequestIdPolicy(**kwargs),
        policies.HeadersPolicy(**kwargs),
        policies.UserAgentPolicy(sdk_moniker=f"fcdesk/{__version__}", **kwargs),
        policies.ProxyPolicy(proxies={"https": proxy} if proxy else None, **kwargs),
        policies.ContentDecodePolicy(**kwargs),  # inert: every response is streamed and parsed by us
        policies.AsyncRedirectPolicy(**kwargs),
        policies.AsyncRetryPolicy(retry_total=0),
        _auth_policy_class()(credential, cloud.token_scope, **kwargs),
        policies.CustomHookPolicy(**kwargs),
        policies.NetworkTraceLoggingPolicy(**kwargs),
        policies.DistributedTracingPolicy(**kwargs),
        policies.SensitiveHeaderCleanupPolicy(**kwargs),
        ARMHttpLoggingPolicy(**kwargs),
    ]


@dataclass(frozen=True, slots=True)
class Answer:
    """One successful (2xx) answer: what :meth:`ArmHttp.send` returns."""

    status: int
    headers: Mapping[str, str]  #: case-insensitive (azure-core's)
    data: Any  #: the parsed JSON body, or None when the body was empty


class ArmHttp:
    """Bounded, retried, throttle-aware ARM requests for one capture (or one writer). Use as
    ``async with``."""

    def __init__(
        self,
        credential: Any,
        cloud: Cloud,
        *,
        concurrency: int = 32,
        request_timeout_s: float = 30.0,
        max_retries: int = 4,
        on_request: Callable[[], None] | None = None,
    ) -> None:
        self.credential = credential
        self.cloud = cloud
        self.request_timeout_s = float(request_timeout_s)
        self.max_retries = max(0, int(max_retries))
        self.requests = 0  #: HTTP requests sent, retries and pages included
        self._sem = asyncio.Semaphore(max(1, int(concurrency)))
        self._buckets: dict[tuple[str, bool], _Bucket] = {}
        self._on_request = on_request
        self._clients: dict[str, Any] = {}
        self._senders: dict[str, Callable[..., Any]] = {}
        self._session: Any = None
        self._transport: Any = None
        self._proxy: str | None = None
        self._origin = _origin(cloud.arm_endpoint)
        self._base = cloud.arm_endpoint.rstrip("/")
        self.versions = api_versions()

    async def __aenter__(self) -> ArmHttp:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        import aiohttp
        from azure.core.pipeline.transport import AioHttpTransport

        connector = aiohttp.TCPConnector(ssl=_ssl_context(self.cloud.ca_file), limit=0, ttl_dns_cache=300)
        self._proxy = env_proxy(self._base)
        self._session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False, trust_env=False
        )
        self._transport = AioHttpTransport(
            session=self._session,
            session_owner=False,
            read_timeout=self.request_timeout_s,
            connection_timeout=min(self.request_timeout_s, 20.0),
        )

    def client(self, name: str) -> Any:
        """The SDK client ``name`` (see CLIENTS), created on first use over the shared transport."""
        client = self._clients.get(name)
        if client is None:
            import importlib

            module, cls_name = CLIENTS[name]
            cls = getattr(importlib.import_module(module), cls_name)
            kwargs: dict[str, Any] = {
                "base_url": self._base,
                "credential_scopes": [self.cloud.token_scope],
                "transport": self._transport,
                "policies": _policies(self.credential, self.cloud, self._proxy),
            }
            args = (self.credential,) if name == "subscriptions" else (self.credential, _NO_SUBSCRIPTION)
            client = cls(*args, **kwargs)
            self._clients[name] = client
            self._senders[name] = (
                getattr(client, "send_request", None)
                or getattr(client, "_send_request", None)
                or client._client.send_request
            )
        return client

    async def close(self) -> None:
        clients, self._clients = self._clients, {}
        self._senders.clear()
        for client in clients.values():
            try:
                await client.close()
            except Exception:  # closing must not hide the capture's outcome
                log.debug("closing a client failed", exc_info=True)
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    # ----------------------------------------------------------------------------------- requests

    def url(self, path: str) -> str:
        return path if path.startswith("https://") or path.startswith("http://") else self._base + path

    def is_arm_url(self, url: str) -> bool:
        """Whether ``url`` is on the ARM endpoint (the only place the bearer token may be sent)."""
        return _origin(self.url(url)) == self._origin

    def _bucket(self, url: str, write: bool) -> _Bucket:
        key = (bucket_key(url), write)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(*((ARM_WRITE_BURST, ARM_WRITE_RATE) if write else ()))
        return bucket

    async def _send_once(
        self,
        client: str,
        method: str,
        url: str,
        params: dict[str, str] | None,
        json_body: Any,
        fresh_token: bool,
    ) -> tuple[int, Any, bytes]:
        from azure.core.rest import HttpRequest

        self.client(client)
        kwargs: dict[str, Any] = {}
        if params:
            kwargs["params"] = params
        if json_body is not None:
            kwargs["json"] = json_body
        request = HttpRequest(method, url, **kwargs)
        options = {FRESH_TOKEN: True} if fresh_token else {}
        response = await self._senders[client](request, stream=True, **options)
        try:
            body = await response.read()
        finally:
            await response.close()
        return response.status_code, response.headers, body

    async def request(
        self, client: str, method: str, path: str, params: dict[str, str] | None = None, body: Any = None
    ) -> Any:
        """Send one request (retrying as described in the module doc) and return the parsed JSON.

        ``body``: a JSON body (None: no body). Raises :class:`ArmError` when it fails for good.
        """
        return (await self.send(client, method, path, params, body)).data

    async def send(
        self,
        client: str,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        body: Any = None,
        *,
        write: bool | None = None,
    ) -> Answer:
        """:meth:`request`, returning the status and headers with the JSON.

        ``write``: retry as a write (see the module doc); default: PUT, DELETE and PATCH are writes.
        """
        from azure.core.exceptions import (
            ClientAuthenticationError,
            IncompleteReadError,
            ServiceRequestError,
            ServiceRequestTimeoutError,
            ServiceResponseError,
            ServiceResponseTimeoutError,
        )

        url = self.url(path)
        method = method.upper()
        is_write = method in WRITE_METHODS if write is None else write
        bucket = self._bucket(url, is_write)
        attempt = 0
        server_retries = 0  # 5xx/408 retries so far (a write gets only WRITE_SERVER_RETRIES)
        renewed = False  # this request already had its one renewal after an expired token
        fresh = False  # the next attempt must carry a newly fetched token
        while True:
            await bucket.take()
            failure: ArmError | None = None
            status, headers, raw = 0, {}, b""
            async with self._sem:
                self.requests += 1
                sent_at = time.time()
                try:
                    status, headers, raw = await asyncio.wait_for(
                        self._send_once(client, method, url, params, body, fresh), self.request_timeout_s
                    )
                except (TimeoutError, ServiceRequestTimeoutError, ServiceResponseTimeoutError):
                    failure = ArmError(None, "Timeout", f"No answer within {self.request_timeout_s:g} s.")
                except ClientAuthenticationError as exc:
                    message = first_line(exc) or "Could not get an access token."
                    raise ArmError(None, "AuthenticationFailed", message) from None
                except (ServiceRequestError, ServiceResponseError, IncompleteReadError, OSError) as exc:
                    failure = ArmError(None, "ConnectionError", first_line(exc) or type(exc).__name__)
                finally:
                    fresh = False
                    if self._on_request is not None:
                        self._on_request()
            if failure is None:
                self._observe(bucket, headers, is_write)
                if 200 <= status < 300:
                    try:
                        return Answer(status, headers, orjson.loads(raw) if raw else None)
                    except orjson.JSONDecodeError:
                        raise ArmError(status, "MalformedJson", "The answer was not valid JSON.") from None
                failure = _arm_error(status, raw)
                if status == 401 and failure.is_expired_token and not renewed:
                    renewed = fresh = True  # retried once, with a token fetched for it
                    self._invalidate(sent_at)
                    continue
                if status != 429 and status not in RETRYABLE_STATUS:
                    raise failure
                if status != 429 and is_write:
                    if server_retries >= WRITE_SERVER_RETRIES:
                        raise failure
                    server_retries += 1
            if attempt >= self.max_retries:
                raise failure
            wait = retry_after_s(headers) if status in (429, 503) else None
            if wait is None:
                wait = backoff_s(attempt)
            wait = min(wait, MAX_WRITE_THROTTLE_WAIT_S if is_write else MAX_THROTTLE_WAIT_S)
            if status == 429:
                bucket.close_for(wait)
            log.debug("retrying %s %s in %.2f s (%s)", method, urlsplit(url).path, wait, failure.code)
            attempt += 1
            await asyncio.sleep(wait)

    def _invalidate(self, sent_at: float) -> None:
        """Make our credential adapters forget tokens older than a request ARM rejected as expired
        (tokens fetched since, by other requests' renewals, are kept: one renewal, not a storm)."""
        invalidate = getattr(self.credential, "invalidate", None)
        if callable(invalidate):
            if "before" in inspect.signature(invalidate).parameters:
                invalidate(before=sent_at)
            else:
                invalidate()

    @staticmethod
    def _observe(bucket: _Bucket, headers: Any, write: bool) -> None:
        kind = "writes" if write else "reads"
        for scope in ("subscription", "tenant"):
            name = f"x-ms-ratelimit-remaining-{scope}-{kind}"
            value = headers.get(name)
            if value:
                try:
                    bucket.observe_remaining(int(value))
                except ValueError:
                    pass

    async def pages(
        self, client: str, path: str, params: dict[str, str] | None = None, *, method: str = "GET"
    ) -> AsyncIterator[list[Any]]:
        """Yield the ``value`` list of each page, following ``nextLink``/``@odata.nextLink``.

        A POST list (policy states) is followed with POST again, as the SDK does.
        """
        url = self.url(path)
        seen: set[str] = set()
        while True:
            data = await self.request(client, method, url, params)
            if not isinstance(data, dict) or not isinstance(data.get("value"), list):
                raise ArmError(200, "MalformedJson", "The answer was not a list of items.")
            yield data["value"]
            link = data.get("nextLink") or data.get("@odata.nextLink")
            if not link:
                return
            if not isinstance(link, str) or link in seen:
                raise ArmError(200, "MalformedJson", "The answer's next-page link is invalid or repeats.")
            if _origin(link) != self._origin:
                # Never send the bearer token anywhere but the ARM endpoint it was issued for.
                raise ArmError(200, "MalformedJson", "The next-page link points outside the ARM endpoint.")
            seen.add(link)
            url = link
            version = (params or {}).get("api-version")
            params = (
                None
                if "api-version=" in urlsplit(link).query.lower() or not version
                else {"api-version": version}
            )


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme.lower(), f"{host}:{port}"


def _arm_error(status: int, raw: bytes) -> ArmError:
    """ARM's ``{"error": {"code", "message"}}`` (or an OData-style variant) as an ArmError."""
    code, message = "", ""
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        err = data.get("error") if isinstance(data.get("error"), dict) else data
        code = str(err.get("code") or "")
        msg = err.get("message")
        if isinstance(msg, dict):  # OData: {"lang": ..., "value": ...}
            msg = msg.get("value")
        message = str(msg or "")
    return ArmError(status, code or f"Http{status}", message)
