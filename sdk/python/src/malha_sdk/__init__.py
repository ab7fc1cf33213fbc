"""The thin hand-written layer over the generated Malha stubs (the `malha`
package): one channel from a base URL that logs in, refreshes its access
token before it expires, puts a default deadline on every unary call,
retries UNAVAILABLE on idempotent calls, and raises MalhaError with the
google.rpc details. Any service of the contract is used through
`client.stub(XServiceStub)`, so a new service needs no change here.
"""

from malha_sdk.client import (
    ClientCredentials,
    Credentials,
    FieldViolation,
    MalhaClient,
    MalhaError,
    Password,
    Tokens,
    connect,
    idempotent,
)

__all__ = [
    "ClientCredentials",
    "Credentials",
    "FieldViolation",
    "MalhaClient",
    "MalhaError",
    "Password",
    "Tokens",
    "connect",
    "idempotent",
]
__version__ = "0.1.0"
