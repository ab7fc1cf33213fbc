"""Connection, login and refresh, deadlines, retries and typed errors."""

from __future__ import annotations

import random
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, TypeVar, Union

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from malha.identity.v1 import identity_pb2, identity_pb2_grpc

Stub = TypeVar("Stub")


@dataclass(frozen=True)
class Password:
    """Logs in as a user (Login) and refreshes with the refresh token."""

    username: str
    password: str


@dataclass(frozen=True)
class ClientCredentials:
    """Logs in as a service account (IssueServiceToken); a new token is
    issued before expiry, as these have no refresh token."""

    client_id: str
    client_secret: str


@dataclass(frozen=True)
class Tokens:
    """A pair obtained elsewhere (e.g. CreateAnonymousCustomer), refreshed
    with its refresh token while it has one."""

    pair: identity_pb2.TokenPair


Credentials = Union[Password, ClientCredentials, Tokens]


@dataclass(frozen=True)
class FieldViolation:
    """One violated request field (google.rpc.BadRequest)."""

    field: str
    description: str


class MalhaError(grpc.RpcError):
    """Every error a Malha call raises: its code and message with the
    google.rpc details. Being a grpc.RpcError, code() and details() work
    as with any gRPC error."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        field_violations: Optional[list[FieldViolation]] = None,
        error_info: Optional[error_details_pb2.ErrorInfo] = None,
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.status = code
        self.message = message
        #: What was wrong with the request (INVALID_ARGUMENT), field by field.
        self.field_violations = field_violations or []
        #: The machine-readable reason, when the server gave one.
        self.error_info = error_info

    def code(self) -> grpc.StatusCode:
        return self.status

    def details(self) -> str:
        return self.message

    @property
    def fields(self) -> list[str]:
        """The names of the violated fields, in the server's order."""
        return [violation.field for violation in self.field_violations]

    @classmethod
    def from_error(cls, error: BaseException) -> "MalhaError":
        if isinstance(error, MalhaError):
            return error
        if not isinstance(error, grpc.Call):
            return cls(grpc.StatusCode.UNKNOWN, str(error))
        violations: list[FieldViolation] = []
        info = None
        status = rpc_status.from_call(error)
        for detail in status.details if status else []:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad_request = error_details_pb2.BadRequest()
                detail.Unpack(bad_request)
                violations += [FieldViolation(v.field, v.description) for v in bad_request.field_violations]
            elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
        return cls(error.code(), error.details() or "", violations, info)


def idempotent(method: str, request: Any) -> bool:
    """Reads (Get, List, Validate, Verify) and requests with a request_id,
    which the server de-duplicates."""
    name = method.rsplit("/", 1)[-1]
    if name.startswith(("Get", "List", "Validate", "Verify")):
        return True
    fields = getattr(getattr(request, "DESCRIPTOR", None), "fields_by_name", {})
    return "request_id" in fields and bool(getattr(request, "request_id"))


class _Session:
    """The current token. One lock makes the refresh single-flight:
    concurrent calls that find the token about to expire wait for one
    refresh instead of each spending the (rotating) refresh token."""

    def __init__(self, credentials: Credentials, identity: identity_pb2_grpc.IdentityServiceStub) -> None:
        self._credentials = credentials
        self._identity = identity
        self._lock = threading.Lock()
        self._access = ""
        self._refresh = ""
        self._refresh_at = 0.0
        self._issued = False

    def token(self) -> str:
        with self._lock:
            if self._issued and time.monotonic() < self._refresh_at:
                return self._access
            pair = self._renew()
            self._access, self._refresh, self._issued = pair.access_token, pair.refresh_token, True
            # Renew when a third of the token's life (at most 30 s) is left,
            # so a call never leaves with a token that expires on the way.
            lifetime = float(pair.expires_in)
            self._refresh_at = time.monotonic() + lifetime - min(lifetime / 3, 30.0)
            return self._access

    def _renew(self) -> identity_pb2.TokenPair:
        if self._issued and self._refresh:
            try:
                return self._identity.RefreshToken(
                    identity_pb2.RefreshTokenRequest(refresh_token=self._refresh)
                ).tokens
            except MalhaError as error:
                # An expired or revoked refresh token: log in again below.
                if error.code() != grpc.StatusCode.UNAUTHENTICATED:
                    raise
        credentials = self._credentials
        if isinstance(credentials, Tokens):
            if self._issued:
                raise MalhaError(grpc.StatusCode.UNAUTHENTICATED, "the access token expired and cannot be renewed")
            return credentials.pair
        if isinstance(credentials, Password):
            request = identity_pb2.LoginRequest(username=credentials.username, password=credentials.password)
            return self._identity.Login(request).tokens
        return self._identity.IssueServiceToken(
            identity_pb2.IssueServiceTokenRequest(
                client_id=credentials.client_id, client_secret=credentials.client_secret
            )
        ).tokens


class _TypedStream:
    """A server stream that raises MalhaError; otherwise the grpc call."""

    def __init__(self, call: Any) -> None:
        self._call = call

    def __iter__(self) -> "_TypedStream":
        return self

    def __next__(self) -> Any:
        try:
            return next(self._call)
        except grpc.RpcError as error:
            raise MalhaError.from_error(error) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


@dataclass
class _Behaviour(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """What every call goes through, in this order: the token, the default
    deadline (unary calls only: a stream lasts as long as its own timeout),
    retries of UNAVAILABLE on idempotent calls, typed errors."""

    deadline: float
    max_attempts: int
    token: Optional[Callable[[], str]] = None
    _sleep: Callable[[float], None] = field(default=time.sleep)

    def _with_token(self, details: Any, timeout: Optional[float]) -> Any:
        metadata = list(details.metadata or [])
        if self.token is not None:
            metadata.append(("authorization", f"Bearer {self.token()}"))
        return _CallDetails(details.method, timeout, metadata, details.credentials, details.wait_for_ready, details.compression)

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        timeout = details.timeout if details.timeout is not None else self.deadline
        ends = time.monotonic() + timeout
        backoff = 0.1
        attempt = 1
        while True:
            remaining = ends - time.monotonic()
            outcome = continuation(self._with_token(details, max(remaining, 0.0)), request)
            error = outcome.exception()
            if error is None:
                return outcome
            typed = MalhaError.from_error(error)
            if typed.code() == grpc.StatusCode.CANCELLED and time.monotonic() >= ends:
                # grpc-python reports a deadline that passes before the call
                # is sent as CANCELLED ("Timeout expired").
                typed = MalhaError(grpc.StatusCode.DEADLINE_EXCEEDED, typed.message)
            pause = random.uniform(0, backoff) + 0.001
            if (
                typed.code() != grpc.StatusCode.UNAVAILABLE
                or attempt >= self.max_attempts
                or not idempotent(details.method, request)
                or time.monotonic() + pause >= ends
            ):
                raise typed
            self._sleep(pause)
            backoff = min(2 * backoff, 2.0)
            attempt += 1

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        try:
            return _TypedStream(continuation(self._with_token(details, details.timeout), request))
        except grpc.RpcError as error:
            raise MalhaError.from_error(error) from None


@dataclass(frozen=True)
class _CallDetails(grpc.ClientCallDetails):
    method: str
    timeout: Optional[float]
    metadata: Any
    credentials: Any
    wait_for_ready: Any
    compression: Any


class MalhaClient:
    """One channel to Malha; see connect()."""

    def __init__(
        self,
        base_url: str,
        credentials: Optional[Credentials] = None,
        deadline: float = 10.0,
        max_attempts: int = 4,
        interceptors: Sequence[Any] = (),
    ) -> None:
        self._channel = _channel(base_url)
        # The session logs in through the same channel without a token
        # (login RPCs are public).
        plain = grpc.intercept_channel(self._channel, _Behaviour(deadline, max_attempts))
        self._session = (
            _Session(credentials, identity_pb2_grpc.IdentityServiceStub(plain)) if credentials else None
        )
        token = self._session.token if self._session else None
        # Your own interceptors sit inside: they see every attempt, with its token.
        inner = grpc.intercept_channel(self._channel, *interceptors) if interceptors else self._channel
        self.channel = grpc.intercept_channel(inner, _Behaviour(deadline, max_attempts, token))

    def stub(self, stub: Callable[[grpc.Channel], Stub]) -> Stub:
        """A stub of one generated service, e.g. client.stub(OrdersServiceStub)."""
        return stub(self.channel)

    def access_token(self) -> Optional[str]:
        """The token the next call will carry, refreshed first if it is about to expire."""
        return self._session.token() if self._session else None

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "MalhaClient":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def connect(
    base_url: str,
    credentials: Optional[Credentials] = None,
    deadline: float = 10.0,
    max_attempts: int = 4,
    interceptors: Sequence[Any] = (),
) -> MalhaClient:
    """Connects to Malha at base_url ("http://host:port" or "https://host")
    and, with credentials, logs in first. `deadline` (seconds) applies to
    unary calls without their own timeout; `max_attempts` to idempotent calls
    answered UNAVAILABLE; `interceptors` (grpc client interceptors) see every
    attempt."""
    client = MalhaClient(base_url, credentials, deadline, max_attempts, interceptors)
    try:
        client.access_token()
    except BaseException:
        client.close()
        raise
    return client


def _channel(base_url: str) -> grpc.Channel:
    parsed = urllib.parse.urlsplit(base_url)
    if parsed.scheme == "http" and parsed.netloc:
        return grpc.insecure_channel(parsed.netloc)
    if parsed.scheme == "https" and parsed.netloc:
        target = parsed.netloc if parsed.port else f"{parsed.netloc}:443"
        return grpc.secure_channel(target, grpc.ssl_channel_credentials())
    raise ValueError(f"base URL {base_url!r}: want http://host:port or https://host[:port]")
