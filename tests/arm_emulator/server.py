"""An HTTPS ARM emulator on loopback, in its own thread and event loop.

The server speaks enough of Azure Resource Manager for fcdesk's capture: the read endpoints of
``docs/azure-map.md`` with ARM's paging (``nextLink`` / ``@odata.nextLink`` with a ``$skiptoken``),
ARM error bodies, bearer-token checks and the headers clients look at; and the writes of
:mod:`.writes` (policy assignments, guardrails, deployments, policy evaluation) behind an RBAC check.
See ``__init__.py`` for the endpoint list and :mod:`.faults` for what it can be told to get wrong.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import re
import shutil
import ssl
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

import orjson
from aiohttp import web

from fcdesk.core.records import Kind

from .faults import Faults, Rule
from .scenario import ACCOUNT_CHILDREN, Index, Scenario, State, idkey
from .wire import (
    ArmError,
    Reply,
    action_of,
    authorization_failed,
    error_body,
    is_read,
    method_not_allowed,
    not_found,
    object_id,
)
from .writes import Caller, Writes

JSON = "application/json; charset=utf-8"
DEFAULT_TOKEN_LIFETIME = 3600.0
#: ARM's read bucket per (subscription, principal): capacity, refill per second.
READ_BUCKET = (250.0, 25.0)
#: ARM's write bucket (reported in ``x-ms-ratelimit-remaining-subscription-writes``, never enforced).
WRITE_BUCKET = (200.0, 10.0)
#: The principal of a token the emulator did not mint (accepted with ``Scenario.accept_any_token``).
EXTERNAL_PRINCIPAL = "external token"
_CHILD_COLLECTIONS = frozenset(ACCOUNT_CHILDREN.values())
_ERROR_CODES = {
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


@dataclass(frozen=True, slots=True)
class RequestLog:
    """One request the emulator saw (appended just before its answer is sent)."""

    method: str
    path: str  #: decoded path, as sent
    query: dict[str, str]  #: decoded query parameters (first value of each)
    status: int  #: HTTP status; 0 when no response was sent (dropped or hung)
    time: float  #: ``time.time()`` when the request arrived
    duration_s: float = 0.0  #: arrival → answer (includes injected latency)
    fault: str = ""  #: the fault that answered it, if any ("throttle", "drop", ...)
    principal: str = ""  #: who the token says sent it ("" when unauthenticated)
    #: The request body: parsed JSON, the raw bytes when it is not JSON, None when empty.
    body: Any = None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%m/%d/%Y %H:%M:%S")


# ------------------------------------------------------------------------------ OData $filter


class FilterError(ValueError):
    pass


_TOKEN = re.compile(r"\s*(?:(\()|(\))|('(?:[^']|'')*')|([A-Za-z_@][\w.@/]*)|(-?\d+(?:\.\d+)?))")


def parse_filter(text: str) -> Callable[[dict[str, Any]], bool]:
    """A predicate over a lower-cased record for the OData subset ARM clients use:
    ``field eq|ne 'text'|true|false|null|number``, ``and``, ``or``, ``not`` and parentheses.
    Text compares case-insensitively (ARM ids are case-insensitive)."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterError(f"cannot read the filter at {text[pos : pos + 20]!r}")
        pos = m.end()
        if m.group(1):
            tokens.append(("(", "("))
        elif m.group(2):
            tokens.append((")", ")"))
        elif m.group(3):
            tokens.append(("str", m.group(3)[1:-1].replace("''", "'")))
        elif m.group(4):
            tokens.append(("word", m.group(4)))
        else:
            tokens.append(("num", m.group(5)))
    at = 0

    def peek() -> tuple[str, str] | None:
        return tokens[at] if at < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal at
        if at >= len(tokens):
            raise FilterError("the filter ends too early")
        at += 1
        return tokens[at - 1]

    def is_word(tok: tuple[str, str] | None, word: str) -> bool:
        return tok is not None and tok[0] == "word" and tok[1].lower() == word

    def expr() -> Callable[[dict[str, Any]], bool]:
        parts = [term()]
        while is_word(peek(), "or"):
            take()
            parts.append(term())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def term() -> Callable[[dict[str, Any]], bool]:
        parts = [factor()]
        while is_word(peek(), "and"):
            take()
            parts.append(factor())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def factor() -> Callable[[dict[str, Any]], bool]:
        tok = take()
        if tok[0] == "(":
            inner = expr()
            if take()[0] != ")":
                raise FilterError("missing ')'")
            return inner
        if tok[0] == "word" and tok[1].lower() == "not":
            inner = factor()
            return lambda r: not inner(r)
        if tok[0] != "word":
            raise FilterError(f"expected a field name, got {tok[1]!r}")
        name = tok[1].lower()
        op = take()
        if op[0] != "word" or op[1].lower() not in ("eq", "ne"):
            raise FilterError(f"only 'eq' and 'ne' are supported, not {op[1]!r}")
        lit = take()
        if lit[0] == "str":
            want: Any = lit[1].lower()
        elif lit[0] == "num":
            want = float(lit[1])
        elif lit[0] == "word" and lit[1].lower() in ("true", "false"):
            want = lit[1].lower() == "true"
        elif lit[0] == "word" and lit[1].lower() == "null":
            want = None
        else:
            raise FilterError(f"expected a literal after {op[1]!r}, got {lit[1]!r}")
        negate = op[1].lower() == "ne"

        def compare(record: dict[str, Any]) -> bool:
            value = record.get(name)
            if isinstance(want, bool):
                same = value == want if isinstance(value, bool) else str(value).lower() == str(want).lower()
            elif want is None:
                same = value is None or value == ""
            elif isinstance(want, float):
                same = isinstance(value, int | float) and not isinstance(value, bool) and float(value) == want
            else:
                same = value is not None and str(value).lower() == want
            return same != negate

        return compare

    result = expr()
    if at != len(tokens):
        raise FilterError(f"unexpected {tokens[at][1]!r}")
    return result


# ------------------------------------------------------------------------------------ emulator


@dataclass
class _Bucket:
    tokens: float
    last: float


@dataclass
class _Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    log: list[RequestLog] = field(default_factory=list)


class ArmEmulator:
    """A loopback HTTPS ARM serving one :class:`Scenario`; a context manager.

    ``url`` and ``ca_file`` are valid once started. Safe to use from any thread: the server runs in
    its own thread with its own asyncio loop.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        faults: Faults | None = None,
        page_size: int = 100,
        port: int = 0,
        host: str = "127.0.0.1",
        lro_polls: int = 1,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.scenario = scenario
        self.faults = faults if faults is not None else Faults()
        self.page_size = page_size  #: may be changed while running (read per request)
        self.host = host
        self.port = port
        self.url = ""
        self.ca_file = ""
        self._secret = os.urandom(32)
        self._stats = _Stats()
        self._buckets: dict[tuple[str, str, bool], _Bucket] = {}
        self._writes = Writes(scenario, lro_polls=lro_polls)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None
        self._tmpdir: str | None = None
        self._startup_error: BaseException | None = None
        self._tenants: list[bytes] = []

    # ------------------------------------------------------------------------------ lifecycle

    def start(self) -> ArmEmulator:
        if self._thread is not None:
            return self
        import trustme

        self._tmpdir = tempfile.mkdtemp(prefix="arm-emulator-")
        ca = trustme.CA(organization_name="fcdesk ARM emulator (throw-away)")
        cert = ca.issue_cert("127.0.0.1", "localhost", "::1")
        self.ca_file = os.path.join(self._tmpdir, "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        _ = self.scenario.index  # pre-serialise every body before the first request
        self._tenants = [orjson.dumps(body) for body in self.scenario.tenant_bodies()]
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ctx, ready), name="arm-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(timeout=30) or self._startup_error is not None:
            error = self._startup_error
            self._thread.join(timeout=5)
            self._thread = None
            self._cleanup_files()
            raise RuntimeError(f"the ARM emulator did not start: {error!r}") from error
        return self

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=30)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
            self._thread = None
            self._loop = None
            self._cleanup_files()

    def __enter__(self) -> ArmEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def lro_polls(self) -> int:
        """Polls a long-running operation answers "in progress" before it completes (default 1;
        may be changed while running, each operation keeps the value it started with)."""
        return self._writes.lro_polls

    @lro_polls.setter
    def lro_polls(self, value: int) -> None:
        self._writes.lro_polls = value

    # ------------------------------------------------------------------------------ state (tests)

    def resource(self, arm_id: str) -> dict[str, Any] | None:
        """A copy of the body served as ``GET {arm_id}`` now, or None."""
        with self.scenario.lock:
            found = self.scenario.find(arm_id)
            return orjson.loads(orjson.dumps(found.body)) if found is not None else None

    def put_resource(self, body: dict[str, Any], *, kind: Kind | None = None) -> dict[str, Any]:
        """Store ``body`` under its ``id`` as if someone else had written it (a deployment or RAI
        policy gets a new etag); returns what is stored. See :meth:`.writes.Writes.store`."""
        return self._writes.store(body, kind=kind)

    def update(
        self, arm_id: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> dict[str, Any]:
        """Change a stored body (``change`` edits a copy in place or returns a new one) and bump its
        etag, as another client's write would; returns what is stored. KeyError if absent."""
        return self._writes.update(arm_id, change)

    def remove_resource(self, arm_id: str) -> dict[str, Any] | None:
        """Delete a resource as someone else would; its body, or None if there was none."""
        found = self.scenario.remove(arm_id)
        return found.body if found is not None else None

    def evaluate(self, scope: str = "/") -> list[dict[str, Any]]:
        """Run Azure Policy's evaluation of the guardrail initiative at ``scope`` now (what
        ``triggerEvaluation`` does) and return the new policy-state bodies."""
        return self._writes.evaluate(scope)

    def _cleanup_files(self) -> None:
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def _run(self, ctx: ssl.SSLContext, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(ctx))
        except BaseException as exc:  # reported by start()
            self._startup_error = exc
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def _serve(self, ctx: ssl.SSLContext) -> None:
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # handler_cancellation: a client that gives up (timeout) cancels its handler at once.
        runner = web.AppRunner(
            app, handle_signals=False, access_log=None, handler_cancellation=True, shutdown_timeout=2.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, ssl_context=ctx, backlog=1024)
        await site.start()
        self._runner = runner
        port = runner.addresses[0][1]
        self.port = port
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"https://{host}:{port}/"

    async def _shutdown(self) -> None:
        if self._stopping is not None:
            self._stopping.set()  # releases hung requests
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        # Handlers still unwinding (a dropped or hung request being cancelled): let them finish, so
        # that the loop never closes with a task pending.
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
        # Connections aiohttp never saw (a client that dropped during the TLS handshake) are only
        # known to the loop: abort them, or their sockets are left to the garbage collector and
        # surface as "unclosed socket" ResourceWarnings in a later, unrelated test.
        transports = getattr(asyncio.get_running_loop(), "_transports", {})  # selector loops only
        for transport in list(transports.values()):
            if transport is not None and not transport.is_closing():
                transport.abort()
        for _ in range(3):  # let the aborts run their connection_lost callbacks
            await asyncio.sleep(0)

    # ------------------------------------------------------------------------------ tokens & log

    def mint_token(self, *, expires_in: float = DEFAULT_TOKEN_LIFETIME, principal: str = "tester") -> str:
        """A signed JWT-shaped bearer token this emulator accepts until it expires.

        ``Faults.token_lifetime_s``, when set, caps ``expires_in`` (0: the token is born expired).
        Claims: ``aud`` (the emulator URL), ``iss``, ``tid``, ``oid``, ``upn``/``name``/``unique_name``
        (the principal), ``iat``, ``nbf`` and ``exp`` (seconds since the epoch, may be fractional).
        """
        lifetime = expires_in
        if self.faults.token_lifetime_s is not None:
            lifetime = min(lifetime, self.faults.token_lifetime_s)
        now = time.time()
        tenant = self.scenario.tenant_id
        header = {"alg": "HS256", "typ": "JWT", "kid": "arm-emulator"}
        claims = {
            "aud": self.url or "https://management.azure.com/",
            "iss": f"https://sts.windows.net/{tenant}/",
            "iat": int(now),
            "nbf": int(now) - 1,
            "exp": round(now + lifetime, 3),
            "tid": tenant,
            "oid": object_id(principal),
            "upn": principal,
            "unique_name": principal,
            "name": principal,
            "ver": "1.0",
        }
        signing_input = _b64url(orjson.dumps(header)) + "." + _b64url(orjson.dumps(claims))
        sig = hmac.new(self._secret, signing_input.encode("ascii"), hashlib.sha256).digest()
        return signing_input + "." + _b64url(sig)

    def _token_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this emulator minted, or None for any other string."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            sig = _unb64url(parts[2])
        except (ValueError, TypeError):
            return None
        want = hmac.new(
            self._secret, f"{parts[0]}.{parts[1]}".encode("ascii", "replace"), hashlib.sha256
        ).digest()
        if not hmac.compare_digest(sig, want):
            return None
        try:
            return orjson.loads(_unb64url(parts[1]))
        except (ValueError, TypeError):
            return None

    @property
    def requests(self) -> list[RequestLog]:
        """A copy of the request log, oldest first."""
        with self._stats.lock:
            return list(self._stats.log)

    def reset_log(self) -> None:
        with self._stats.lock:
            self._stats.log.clear()

    def count(
        self,
        path_contains: str | None = None,
        *,
        method: str | None = None,
        status: int | None = None,
        fault: str | None = None,
    ) -> int:
        """Logged requests whose path contains ``path_contains`` (case-insensitive), and so on."""
        needle = path_contains.lower() if path_contains else None
        n = 0
        for entry in self.requests:
            if needle is not None and needle not in entry.path.lower():
                continue
            if method is not None and entry.method != method.upper():
                continue
            if status is not None and entry.status != status:
                continue
            if fault is not None and entry.fault != fault:
                continue
            n += 1
        return n

    def _log(
        self, request: web.Request, t0: float, status: int, fault: str, principal: str, body: Any = None
    ) -> None:
        entry = RequestLog(
            request.method,
            request.path,
            {k: request.query.get(k, "") for k in request.query.keys()},
            status,
            t0,
            time.time() - t0,
            fault,
            principal,
            body,
        )
        with self._stats.lock:
            self._stats.log.append(entry)

    # ------------------------------------------------------------------------------ requests

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        t0 = time.time()
        faults = self.faults
        # The token is checked on arrival (as ARM does); the answer, whatever it is, comes after
        # the injected latency.
        try:
            principal = self._authenticate(request)
            auth_error: ArmError | None = None
        except ArmError as err:
            principal, auth_error = "", err
        delay = (faults.latency_ms + faults.jitter()) / 1000.0
        if delay > 0:
            faults.note("latency")
            await asyncio.sleep(delay)
        path = request.path
        method = request.method.upper()
        segs = [s for s in path.split("/") if s]
        lower = [s.lower() for s in segs]
        sub = lower[1] if len(lower) >= 2 and lower[0] == "subscriptions" else ""
        write = not is_read(method, lower)
        body = await self._body(request)
        fault = ""
        rate_headers: dict[str, str] = {}
        try:
            if auth_error is not None:
                raise auth_error
            query = {k.lower(): v for k, v in request.query.items()}
            if not query.get("api-version"):
                raise ArmError(
                    400,
                    "MissingApiVersionParameter",
                    "The api-version query parameter (?api-version=) is required for all requests.",
                )
            if sub and sub in faults.forbidden_subscriptions:
                faults.note("forbidden")
                fault = "forbidden"
                raise authorization_failed(principal, action_of(segs, method), f"/subscriptions/{segs[1]}")
            rule = faults.pick("hang", method, path)
            if rule is not None:
                self._log(request, t0, 0, "hang", principal, body)
                await self._hold(rule.hold_s)
                return await self._no_response(request)
            rule = faults.pick("drop", method, path)
            if rule is not None:
                self._log(request, t0, 0, "drop", principal, body)
                return await self._no_response(request)
            rule = faults.pick("throttle", method, path)
            if rule is not None:
                fault = "throttle"
                raise ArmError(
                    rule.status or 429,
                    "SubscriptionRequestsThrottled",
                    f"Number of 'read' requests for subscription '{sub}' actor '{principal}' exceeded. "
                    "Please try again later.",
                    _retry_headers(rule),
                )
            rule = faults.pick("server_errors", method, path)
            if rule is not None:
                fault = "server_errors"
                status = rule.status or 500
                raise ArmError(
                    status,
                    _ERROR_CODES.get(status, "InternalServerError"),
                    "The server encountered an internal error. Please retry the request. (emulated)",
                    _retry_headers(rule),
                )
            rate_headers = self._rate_limit(sub, principal, write)
            caller = Caller(principal, minted=principal != EXTERNAL_PRINCIPAL)
            self._writes.authorize(caller, method, segs)
            answer = self._route(request, method, segs, lower, query, body, caller)
        except ArmError as err:
            headers = dict(err.headers)
            headers.update(rate_headers or self._rate_headers(sub, principal, write))
            if err.status == 401:
                authority = f"https://login.microsoftonline.com/{self.scenario.tenant_id}"
                headers["WWW-Authenticate"] = (
                    f'Bearer authorization_uri="{authority}", error="invalid_token", '
                    f'error_description="{err.message}"'
                )
            if not fault and err.code == "SubscriptionRequestsThrottled":
                fault = "rate_limited"
            elif not fault and err.code == "ExpiredAuthenticationToken":
                fault = "expired_token"
            self._log(request, t0, err.status, fault, principal, body)
            return self._respond(err.status, error_body(err.code, err.message), headers)
        reply = answer if isinstance(answer, Reply) else Reply(200, answer)
        rule = faults.pick("malformed", method, path) if reply.status == 200 else None
        if rule is not None:
            self._log(request, t0, 200, "malformed", principal, body)
            ctype = "text/html; charset=utf-8" if rule.mode == "html" else JSON
            return self._respond(200, _spoil(reply.body, rule.mode), rate_headers, content_type=ctype)
        self._log(request, t0, reply.status, "", principal, body)
        return self._respond(reply.status, reply.body, {**rate_headers, **reply.headers})

    @staticmethod
    async def _body(request: web.Request) -> Any:
        """The request body for the handlers and the log: parsed JSON, else the bytes, or None."""
        if not request.can_read_body:
            return None
        data = await request.read()
        if not data:
            return None
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return data

    def _respond(
        self, status: int, body: bytes, headers: dict[str, str], *, content_type: str = JSON
    ) -> web.Response:
        out = {
            "Content-Type": content_type,
            "x-ms-request-id": str(uuid.uuid4()),
            "x-ms-correlation-request-id": str(uuid.uuid4()),
            "Cache-Control": "no-cache",
        }
        out.update(headers)
        return web.Response(body=body, status=status, headers=out)

    async def _hold(self, seconds: float) -> None:
        assert self._stopping is not None
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass

    async def _no_response(self, request: web.Request) -> web.StreamResponse:
        """Close the connection without an answer. The handler is then cancelled (connection lost)."""
        transport = request.transport
        if transport is not None:
            transport.abort()
        await asyncio.sleep(3600)
        raise ConnectionResetError("dropped")  # not reached: the handler is cancelled first

    def _authenticate(self, request: web.Request) -> str:
        auth = request.headers.get("Authorization")
        if not auth:
            raise ArmError(
                401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."
            )
        scheme, _, token = auth.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ArmError(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is provided in an invalid format.",
            )
        claims = self._token_claims(token)
        if claims is None:
            if self.scenario.accept_any_token:
                return EXTERNAL_PRINCIPAL
            raise ArmError(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid. (This emulator accepts only tokens from mint_token.)",
            )
        now = time.time()
        exp = float(claims.get("exp", 0))
        if now >= exp:
            self.faults.note("expired_token")
            raise ArmError(
                401,
                "ExpiredAuthenticationToken",
                f"The access token expiry UTC time '{_utc(exp)}' is earlier than current UTC time "
                f"'{_utc(now)}'.",
            )
        return str(claims.get("upn") or claims.get("name") or "")

    # ------------------------------------------------------------------------------ rate limits

    def _bucket_take(self, sub: str, principal: str, write: bool, take: bool) -> float:
        capacity, refill = WRITE_BUCKET if write else self.faults.rate_limit or READ_BUCKET
        now = time.monotonic()
        key = (sub, principal, write)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(capacity, now)
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.last) * refill)
        bucket.last = now
        if take and bucket.tokens >= 1:
            bucket.tokens -= 1
            return bucket.tokens
        return bucket.tokens - 1 if take else bucket.tokens

    @staticmethod
    def _rate_header(write: bool, remaining: float) -> dict[str, str]:
        name = "writes" if write else "reads"
        return {f"x-ms-ratelimit-remaining-subscription-{name}": str(max(0, int(remaining)))}

    def _rate_headers(self, sub: str, principal: str, write: bool) -> dict[str, str]:
        return self._rate_header(write, self._bucket_take(sub, principal, write, take=False))

    def _rate_limit(self, sub: str, principal: str, write: bool) -> dict[str, str]:
        """Take one request from the caller's bucket; 429 when the (enforced) read bucket is empty."""
        remaining = self._bucket_take(sub, principal, write, take=True)
        if remaining < 0 and not write and self.faults.rate_limit is not None:
            refill = self.faults.rate_limit[1]
            wait = max(1, int(-remaining / refill + 0.999)) if refill > 0 else 3600
            self.faults.note("rate_limited")
            raise ArmError(
                429,
                "SubscriptionRequestsThrottled",
                f"Number of 'read' requests for subscription '{sub}' actor '{principal}' exceeded. "
                f"Please try again after '{wait}' seconds after the last request.",
                {"Retry-After": str(wait), "x-ms-ratelimit-remaining-subscription-reads": "0"},
            )
        return self._rate_header(write, remaining)

    # ------------------------------------------------------------------------------ routing

    def _route(
        self,
        request: web.Request,
        method: str,
        segs: list[str],
        lower: list[str],
        query: dict[str, str],
        body: Any,
        caller: Caller,
    ) -> bytes | Reply:
        ix = self.scenario.index
        n = len(lower)
        try:
            p = len(lower) - 1 - lower[::-1].index("providers")
        except ValueError:
            p = -1
        if p < 0:
            if method != "GET":
                raise method_not_allowed(method, request.path)
            if lower == ["subscriptions"]:
                return self._page(request, ix.subscriptions, query)
            if lower == ["tenants"]:
                return self._page(request, self._tenants, query)
            if n >= 2 and lower[0] == "subscriptions":
                sub = lower[1]
                if n == 2:
                    return self._get(
                        ix,
                        f"/subscriptions/{sub}",
                        "SubscriptionNotFound",
                        f"The subscription '{segs[1]}' could not be found.",
                    )
                self._need_sub(ix, sub, segs[1])
                if n == 3 and lower[2] == "resourcegroups":
                    return self._page(request, ix.rgs.get(sub, []), query)
                if n == 4 and lower[2] == "resourcegroups":
                    return self._get(
                        ix,
                        idkey(request.path),
                        "ResourceGroupNotFound",
                        f"Resource group '{segs[3]}' could not be found.",
                    )
            raise not_found(request.path)
        scope = lower[:p]
        scope_key = "/" + "/".join(scope) if scope else ""
        ns = lower[p + 1] if p + 1 < n else ""
        rest = lower[p + 2 :]
        sub = scope[1] if len(scope) >= 2 and scope[0] == "subscriptions" else ""
        if sub:
            self._need_sub(ix, sub, segs[1])
        reply = self._writes.route(request.host, method, segs, p, query, body, caller)
        if reply is not None:
            return reply
        if ns == "microsoft.policyinsights":
            if (
                len(rest) == 3
                and rest[0] == "policystates"
                and rest[1] in ("latest", "default")
                and rest[2] in ("queryresults", "summarize")
            ):
                if method != "POST":
                    raise method_not_allowed(method, request.path)
                if not sub:
                    raise not_found(
                        request.path, "policy states are emulated at subscription scope and below only"
                    )
                return self._policy_states(request, scope_key, sub, rest[2], query)
            raise not_found(request.path)
        if method != "GET":
            raise method_not_allowed(method, request.path)
        key = idkey(request.path)
        found = ix.by_id.get(key)
        if found is not None:
            return found
        if ns == "microsoft.cognitiveservices" and rest and rest[0] == "accounts":
            if len(rest) == 1 and len(scope) == 2 and sub:
                return self._page(request, ix.accounts.get(sub, []), query)
            if len(rest) == 1 and len(scope) == 4 and scope[2] == "resourcegroups":
                if scope_key not in ix.known_rgs:
                    raise ArmError(
                        404, "ResourceGroupNotFound", f"Resource group '{segs[3]}' could not be found."
                    )
                return self._page(request, ix.accounts_by_rg.get(scope_key, []), query)
            if len(rest) >= 2 and len(scope) == 4:
                acct = f"{scope_key}/providers/microsoft.cognitiveservices/accounts/{rest[1]}"
                if acct not in ix.known_accounts:
                    raise ArmError(
                        404,
                        "ResourceNotFound",
                        f"The Resource 'Microsoft.CognitiveServices/accounts/{segs[p + 3]}' under resource "
                        f"group '{segs[3]}' was not found. For more details please go to "
                        "https://aka.ms/ARMResourceNotFoundFix",
                    )
                if len(rest) == 3 and rest[2] in _CHILD_COLLECTIONS:
                    return self._page(request, ix.children.get((acct, rest[2]), []), query)
                if len(rest) == 4 and rest[2] in _CHILD_COLLECTIONS:
                    raise ArmError(404, "NotFound", f"The requested resource '{segs[-1]}' does not exist.")
        elif ns == "microsoft.authorization" and rest:
            if rest == ["policyassignments"] and sub and len(scope) in (2, 4):
                return self._assignments(request, scope_key, sub, query)
            if len(rest) == 2 and rest[0] == "policyassignments":
                raise ArmError(
                    404, "PolicyAssignmentNotFound", f"The policy assignment '{segs[-1]}' is not found."
                )
            if len(rest) == 2 and rest[0] == "policysetdefinitions" and len(scope) in (0, 2):
                found = ix.set_definitions.get(rest[1])
                if found is not None:
                    return found
                raise ArmError(
                    404,
                    "PolicySetDefinitionNotFound",
                    f"The policy set definition '{segs[-1]}' could not be found.",
                )
        elif ns == "microsoft.security" and rest:
            if rest == ["assessments"] and scope:
                if len(scope) == 2 and sub:
                    items = [raw for _, raw in ix.assessments.get(sub, [])]
                else:
                    items = [raw for k, raw in ix.assessments.get(sub, []) if k.startswith(scope_key + "/")]
                return self._page(request, items, query)
            if len(rest) == 2 and rest[0] == "assessments":
                raise ArmError(
                    404, "NotFound", f"Assessment '{segs[-1]}' was not found on '{'/'.join(segs[:p])}'."
                )
            if rest == ["assessmentmetadata"] and len(scope) in (0, 2):
                return self._page(request, ix.metadata, query)
            if len(rest) == 2 and rest[0] == "assessmentmetadata" and len(scope) in (0, 2):
                found = ix.metadata_by_name.get(rest[1])
                if found is not None:
                    return found
                raise ArmError(404, "NotFound", f"Assessment metadata '{segs[-1]}' was not found.")
            if rest == ["alerts"] and sub:
                items = ix.alerts.get(sub, [])
                if len(scope) > 2:
                    prefix = scope_key + "/"
                    items = [raw for raw in items if idkey(orjson.loads(raw).get("id")).startswith(prefix)]
                return self._page(request, items, query)
            if rest == ["pricings"] and len(scope) == 2 and sub:
                # Pricings_List is not pageable (PricingList has no nextLink): always the whole list.
                return b'{"value":[' + b",".join(ix.pricings.get(sub, [])) + b"]}"
            if len(rest) == 2 and rest[0] == "pricings" and len(scope) == 2 and sub:
                raise ArmError(
                    404,
                    "NotFound",
                    f"Pricing '{segs[-1]}' was not found for scope '/subscriptions/{segs[1]}'.",
                )
        raise not_found(request.path)

    def _need_sub(self, ix: Index, sub: str, original: str) -> None:
        if sub not in ix.known_subs:
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{original}' could not be found.")

    @staticmethod
    def _get(ix: Index, key: str, code: str, message: str) -> bytes:
        found = ix.by_id.get(key)
        if found is None:
            raise ArmError(404, code, message)
        return found

    def _assignments(self, request: web.Request, scope_key: str, sub: str, query: dict[str, str]) -> bytes:
        ix = self.scenario.index
        flt = (query.get("$filter") or "").strip()
        items = ix.assignments.get(sub, [])
        at_scope = flt.lower().replace(" ", "") in ("atscope()", "atexactscope()")
        exact = flt.lower().replace(" ", "") == "atexactscope()"
        if exact:
            chosen = [raw for s, raw in items if s == scope_key]
        elif at_scope:
            # Everything that applies to the scope: at it or above it.
            chosen = [
                raw
                for s, raw in items
                if s == scope_key or scope_key.startswith(s + "/") or not s.startswith("/subscriptions/")
            ]
        else:
            # Unfiltered: what applies to the scope plus what is assigned inside it.
            chosen = [
                raw
                for s, raw in items
                if s == scope_key
                or scope_key.startswith(s + "/")
                or s.startswith(scope_key + "/")
                or not s.startswith("/subscriptions/")
            ]
        if flt and not at_scope:
            m = re.fullmatch(r"\s*policyDefinitionId\s+eq\s+'([^']*)'\s*", flt, re.IGNORECASE)
            if not m:
                raise ArmError(400, "InvalidFilterInQueryString", f"The filter '{flt}' is not supported.")
            want = idkey(m.group(1))
            chosen = [
                raw
                for raw in chosen
                if idkey(str((orjson.loads(raw).get("properties") or {}).get("policyDefinitionId", "")))
                == want
            ]
        return self._page(request, chosen, query)

    # ------------------------------------------------------------------------------ paging

    def _page(
        self,
        request: web.Request,
        items: list[bytes],
        query: dict[str, str],
        *,
        ident: str = "",
        link_key: bytes = b"nextLink",
        head: bytes = b"",
        odata_count: bool = False,
    ) -> bytes:
        ident = ident or request.path.lower()
        offset = self._offset(query, ident)
        size = self.page_size
        end = offset + size
        chunk = items[offset:end]
        out = [b"{", head]
        if odata_count:
            out.append(b'"@odata.count":%d,' % len(chunk))
        out += [b'"value":[', b",".join(chunk), b"]"]
        if end < len(items):
            out += [b',"', link_key, b'":', orjson.dumps(self._next_link(request, end, ident))]
        out.append(b"}")
        return b"".join(out)

    @staticmethod
    def _token_for(offset: int, ident: str) -> str:
        # Standard base64 (with '+', '/', '='): like ARM's, it must be percent-encoded in the link.
        return base64.b64encode(f"{offset}|{zlib.crc32(ident.encode()):08x}|emu".encode()).decode("ascii")

    def _offset(self, query: dict[str, str], ident: str) -> int:
        token = query.get("$skiptoken")
        if token is None:
            return 0
        try:
            offset_text, crc, tag = base64.b64decode(token, validate=True).decode().split("|")
            offset = int(offset_text)
        except (ValueError, UnicodeDecodeError):
            offset, crc, tag = -1, "", ""
        if offset < 0 or tag != "emu" or crc != f"{zlib.crc32(ident.encode()):08x}":
            raise ArmError(
                400, "InvalidSkipToken", f"The skip token '{token}' is not valid for this request."
            )
        return offset

    def _next_link(self, request: web.Request, offset: int, ident: str) -> str:
        kept = [
            part
            for part in request.rel_url.raw_query_string.split("&")
            if part and unquote(part.split("=", 1)[0]).lower() != "$skiptoken"
        ]
        kept.append("$skiptoken=" + quote(self._token_for(offset, ident), safe=""))
        return f"https://{request.host}{request.rel_url.raw_path}?{'&'.join(kept)}"

    # ------------------------------------------------------------------------------ policy states

    def _policy_states(
        self, request: web.Request, scope_key: str, sub: str, op: str, query: dict[str, str]
    ) -> bytes:
        ix = self.scenario.index
        states = _scoped_states(ix.states.get(sub, []), scope_key)
        flt = query.get("$filter")
        if query.get("$apply"):
            raise ArmError(400, "InvalidODataQuery", "$apply is not supported by the emulator.")
        if flt:
            try:
                pred = parse_filter(flt)
            except FilterError as exc:
                raise ArmError(
                    400, "InvalidFilterInQueryString", f"The $filter '{flt}' is invalid: {exc}."
                ) from None
            states = [s for s in states if pred(s.lower)]
        base = f"https://{request.host}{scope_key}/providers/Microsoft.PolicyInsights/policyStates/$metadata#"
        if op == "summarize":
            return orjson.dumps(_summary(states, base, f"https://{request.host}{request.path}"))
        select = query.get("$select") or ""
        top_text = query.get("$top")
        try:
            top = int(top_text) if top_text is not None else None
            if top is not None and top < 0:
                raise ValueError
        except ValueError:
            raise ArmError(
                400, "InvalidODataQuery", f"$top must be a non-negative integer, not '{top_text}'."
            ) from None
        ident = "|".join((request.path.lower(), flt or "", select.lower(), str(top)))
        items = ix.query_cache.get(ident)
        if items is None:
            if top is not None:
                states = states[:top]
            if select:
                fields = {f.strip().lower() for f in select.split(",") if f.strip()}
                items = [
                    orjson.dumps({k: v for k, v in s.body.items() if k.lower() in fields}) for s in states
                ]
            else:
                items = [s.raw for s in states]
            if len(ix.query_cache) > 256:
                ix.query_cache.clear()
            ix.query_cache[ident] = items
        head = b'"@odata.context":' + orjson.dumps(base + "latest") + b","
        return self._page(
            request, items, query, ident=ident, link_key=b"@odata.nextLink", head=head, odata_count=True
        )


def _scoped_states(states: list[State], scope_key: str) -> list[State]:
    parts = scope_key.split("/")
    if len(parts) == 3:  # "", "subscriptions", sub
        return states
    marker = "/providers/microsoft.authorization/"
    if marker in scope_key:
        kind_and_name = scope_key.split(marker, 1)[1].split("/")
        kind, name = kind_and_name[0], kind_and_name[-1]
        if kind == "policyassignments":
            return [s for s in states if idkey(str(s.lower.get("policyassignmentid") or "")) == scope_key]
        if kind == "policysetdefinitions":
            tail = f"/policysetdefinitions/{name}"
            return [
                s for s in states if idkey(str(s.lower.get("policysetdefinitionid") or "")).endswith(tail)
            ]
        if kind == "policydefinitions":
            tail = f"/policydefinitions/{name}"
            return [s for s in states if idkey(str(s.lower.get("policydefinitionid") or "")).endswith(tail)]
    prefix = scope_key + "/"
    return [s for s in states if s.resource == scope_key or s.resource.startswith(prefix)]


def _details(noncompliant: int, compliant: int) -> list[dict[str, Any]]:
    out = []
    if compliant:
        out.append({"complianceState": "compliant", "count": compliant})
    if noncompliant:
        out.append({"complianceState": "noncompliant", "count": noncompliant})
    return out


def _results(states: list[State], uri: str) -> dict[str, Any]:
    resources: dict[str, bool] = {}
    policies: dict[tuple[str, str, str], bool] = {}
    for s in states:
        bad = (
            str(s.lower.get("compliancestate") or "").lower() == "noncompliant"
            or s.lower.get("iscompliant") is False
        )
        resources[s.resource] = resources.get(s.resource, False) or bad
        ref = str(s.lower.get("policydefinitionreferenceid") or "")
        definition = str(s.lower.get("policydefinitionid") or "")
        if ref or definition:
            pkey = (idkey(str(s.lower.get("policyassignmentid") or "")), definition.lower(), ref.lower())
            policies[pkey] = policies.get(pkey, False) or bad
    nc_res = sum(resources.values())
    nc_pol = sum(policies.values())
    return {
        "queryResultsUri": uri,
        "nonCompliantResources": nc_res,
        "nonCompliantPolicies": nc_pol,
        "resourceDetails": _details(nc_res, len(resources) - nc_res),
        "policyDetails": _details(nc_pol, len(policies) - nc_pol),
        "policyGroupDetails": [],
    }


def _summary(states: list[State], base: str, query_uri: str) -> dict[str, Any]:
    """The shape of PolicyStates_Summarize*, computed from the states held."""
    uri = query_uri.replace("/summarize", "/queryResults")
    by_assignment: dict[str, list[State]] = {}
    for s in states:
        by_assignment.setdefault(str(s.lower.get("policyassignmentid") or ""), []).append(s)
    assignments = []
    for assignment_id, group in by_assignment.items():
        defs: dict[tuple[str, str], list[State]] = {}
        for s in group:
            definition = str(s.lower.get("policydefinitionid") or "")
            ref = str(s.lower.get("policydefinitionreferenceid") or "")
            if definition or ref:
                defs.setdefault((definition, ref), []).append(s)
        assignments.append(
            {
                "policyAssignmentId": assignment_id,
                "policySetDefinitionId": str(group[0].lower.get("policysetdefinitionid") or ""),
                "results": _results(group, uri),
                "policyDefinitions": [
                    {
                        "policyDefinitionId": definition,
                        "policyDefinitionReferenceId": ref,
                        "policyDefinitionGroupNames": [],
                        "effect": "audit",
                        "results": _results(members, uri),
                    }
                    for (definition, ref), members in defs.items()
                ],
                "policyGroups": [],
            }
        )
    return {
        "@odata.context": base + "summary",
        "@odata.count": 1,
        "value": [
            {
                "@odata.id": None,
                "@odata.context": base + "summary/$entity",
                "results": _results(states, uri),
                "policyAssignments": assignments,
            }
        ],
    }


# ------------------------------------------------------------------------------------ helpers


def _retry_headers(rule: Rule) -> dict[str, str]:
    headers = {}
    if rule.retry_after is not None:
        headers["Retry-After"] = _seconds(rule.retry_after)
    if rule.retry_after_ms is not None:
        headers["retry-after-ms"] = str(int(rule.retry_after_ms))
    return headers


def _spoil(body: bytes, mode: str) -> bytes:
    if mode == "truncated":
        return body[: max(1, len(body) // 2)]
    if mode == "invalid":
        return b'{"value": [{"id": "/subscriptions/emulated", "name": unquoted-garbage}'
    if mode == "html":
        return b"<html><head><title>502 Bad Gateway</title></head><body>upstream error</body></html>"
    return b""  # empty
