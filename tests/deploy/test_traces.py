"""Traces in a real backend: user actions through the JSON edge of a live
`malha up` (conftest.py's `malha`, exporting over OTLP to Jaeger v2), each
with a caller-supplied `traceparent`, are found in Jaeger's query API (what
Grafana's Jaeger data source reads) as ONE trace: the edge span, the
services' server and client spans, the outbox relay's publish and the
consumer applying the event, with correct parent links, `service.name` per
target and OpenTelemetry's `rpc.*` and `messaging.*` attributes. The JSON
log lines written inside those spans carry the same trace and span ids.

Needs Jaeger (env JAEGER; scripts/check-deploy builds it) and the malha binary.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field

import os
import subprocess

import pytest
import yaml

from conftest import CHART, Manifests, free_port, render, wait_for
from test_edge_conformance import envoy_exe, local_config

TRACE_WAIT_S = 20


def call(base: str, method: str, path: str, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def ok(base: str, method: str, path: str, body=None, headers=None):
    status, answer = call(base, method, path, body, headers)
    assert status == 200, f"{method} {path}: {status} {answer}"
    return answer


class Caller:
    """A client that is itself traced: one trace id, a new parent span id per request."""

    def __init__(self):
        self.trace_id = secrets.token_hex(16)
        self.span_ids: list[str] = []

    def traceparent(self) -> dict[str, str]:
        span_id = secrets.token_hex(8)
        self.span_ids.append(span_id)
        return {"traceparent": f"00-{self.trace_id}-{span_id}-01"}


@dataclass
class Span:
    id: str
    parent: str | None
    service: str
    name: str
    tags: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.tags.get("span.kind", "")


class Trace:
    def __init__(self, data: dict):
        processes = {k: v["serviceName"] for k, v in data["processes"].items()}
        self.spans = []
        for s in data["spans"]:
            parents = [r["spanID"] for r in s["references"] if r["refType"] == "CHILD_OF"]
            self.spans.append(Span(s["spanID"], parents[0] if parents else None, processes[s["processID"]],
                                   s["operationName"], {t["key"]: t["value"] for t in s["tags"]}))
        self.by_id = {s.id: s for s in self.spans}

    def find(self, service: str, kind: str, name: str) -> Span | None:
        found = [s for s in self.spans if (s.service, s.kind, s.name) == (service, kind, name)]
        assert len(found) <= 1, f"several {service} {kind} spans {name!r}: {found}"
        return found[0] if found else None

    def descends(self, span: Span, ancestor: Span) -> bool:
        """`ancestor` is on `span`'s parent chain (a span may sit between)."""
        seen = span
        while seen.parent in self.by_id:
            seen = self.by_id[seen.parent]
            if seen.id == ancestor.id:
                return True
        return False

    def describe(self) -> str:
        return "\n".join(f"  {s.service:10} {s.kind:8} {s.name}  (id {s.id}, parent {s.parent})" for s in self.spans)


def wait_for_trace(jaeger: dict, trace_id: str, wanted: list[tuple[str, str, str]],
                   until=lambda trace: True) -> Trace:
    """The trace once every (service, kind, name) in `wanted` is in it (and `until` holds)."""
    deadline = time.monotonic() + TRACE_WAIT_S
    trace = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{jaeger['query']}/api/traces/{trace_id}", timeout=5) as r:
                data = json.loads(r.read())["data"]
        except urllib.error.HTTPError as e:
            if e.code != 404:
                raise
            data = []
        if data:
            assert len(data) == 1, f"trace {trace_id} came back as {len(data)} traces"
            trace = Trace(data[0])
            if all(trace.find(*w) for w in wanted) and until(trace):
                return trace
        time.sleep(0.5)
    pytest.fail(f"trace {trace_id} lacks some of {wanted} after {TRACE_WAIT_S} s:\n"
                + (trace.describe() if trace else "  (no trace)"))


def log_lines(malha: dict, trace_id: str) -> list[dict]:
    out = []
    for line in malha["log"].read_text().splitlines():
        if trace_id in line and line.startswith("{"):
            out.append(json.loads(line))
    return out


def assert_rpc(span: Span, service: str, method: str):
    assert span.tags.get("rpc.system") == "grpc", span
    assert span.tags.get("rpc.service") == service, span
    assert span.tags.get("rpc.method") == method, span


def assert_messaging(span: Span, subject: str, operation: str):
    assert span.tags.get("messaging.system") == "nats", span
    assert span.tags.get("messaging.destination.name") == subject, span
    assert span.tags.get("messaging.operation.type") == operation, span
    uuid.UUID(span.tags["messaging.message.id"])


def assert_logged_in(malha: dict, caller: Caller, spans: list[Span]):
    """Each span wrote a JSON log line carrying its trace and span ids."""
    lines = log_lines(malha, caller.trace_id)
    assert all(l.get("trace_id") == caller.trace_id for l in lines), lines
    logged = {l.get("span_id") for l in lines}
    missing = [f"{s.service} {s.name}" for s in spans if s.id not in logged]
    assert not missing, f"no JSON log line carries the span id of {missing}; lines with the trace id: {lines}"


def signed_webhook(txid: str, action: str) -> dict[str, str]:
    """The local Pix provider's notification headers (MercadoPago's x-signature
    scheme with `malha up`'s development secret)."""
    ts, request_id = str(int(time.time())), str(uuid.uuid4())
    manifest = f"id:{txid.lower()};request-id:{request_id};ts:{ts};action:{action};"
    signature = hmac.new(b"malha-dev-webhook-secret", manifest.encode(), hashlib.sha256).hexdigest()
    return {"x-signature": f"ts={ts},v1={signature}", "x-request-id": request_id}


def test_a_snack_bar_order_and_its_payment_are_one_trace(malha, jaeger):
    edge = malha["edge"]
    customer = ok(edge, "POST", "/v1/identity/customers:anonymous", {})
    bearer = {"authorization": "Bearer " + customer["tokens"]["accessToken"]}
    product = ok(edge, "GET", "/v1/menu")["sections"][0]["products"][0]["id"]
    caller = Caller()

    created = ok(edge, "POST", "/v1/orders", {"items": [{"productId": product, "quantity": 1}]},
                 {**bearer, **caller.traceparent()})
    order_id, payment_id = created["order"]["id"], created["payment"]["paymentId"]
    txid = ok(edge, "GET", f"/v1/payments/{payment_id}", headers=bearer)["payment"]["txid"]
    # The webhook continues the caller's trace (as the test is the caller of both).
    answer = ok(edge, "POST", "/v1/payments/notifications",
                {"type": "payment", "action": "payment.approved", "data": {"id": txid}},
                {**signed_webhook(txid, "payment.approved"), **caller.traceparent()})
    assert answer["outcome"] == "NOTIFICATION_OUTCOME_APPLIED", answer

    orders, payments = "malha.orders.v1.OrdersService", "malha.payments.v1.PaymentsService"
    subject = "payments.payment.approved"
    trace = wait_for_trace(jaeger, caller.trace_id, [
        ("edge", "server", "POST /v1/orders"),
        ("orders", "server", f"{orders}/CreateOrder"),
        ("orders", "client", f"{payments}/CreatePayment"),
        ("payments", "server", f"{payments}/CreatePayment"),
        ("edge", "server", "POST /v1/payments/notifications"),
        ("payments", "server", f"{payments}/HandleNotification"),
        ("payments", "producer", f"publish {subject}"),
        ("orders", "consumer", f"consume {subject}"),
    ])
    edge_order = trace.find("edge", "server", "POST /v1/orders")
    create_order = trace.find("orders", "server", f"{orders}/CreateOrder")
    client = trace.find("orders", "client", f"{payments}/CreatePayment")
    create_payment = trace.find("payments", "server", f"{payments}/CreatePayment")
    edge_hook = trace.find("edge", "server", "POST /v1/payments/notifications")
    hook = trace.find("payments", "server", f"{payments}/HandleNotification")
    publish = trace.find("payments", "producer", f"publish {subject}")
    consume = trace.find("orders", "consumer", f"consume {subject}")

    first, second = caller.span_ids
    assert edge_order.parent == first and edge_hook.parent == second, trace.describe()
    assert create_order.parent == edge_order.id, trace.describe()
    assert trace.descends(client, create_order), trace.describe()
    assert create_payment.parent == client.id, trace.describe()
    assert hook.parent == edge_hook.id, trace.describe()
    assert trace.descends(publish, hook), trace.describe()
    assert consume.parent == publish.id, trace.describe()

    assert edge_order.tags.get("http.route") == "/v1/orders" and edge_order.tags.get("http.request.method") == "POST"
    assert_rpc(create_order, orders, "CreateOrder")
    assert_rpc(client, payments, "CreatePayment")
    assert_rpc(create_payment, payments, "CreatePayment")
    assert_rpc(hook, payments, "HandleNotification")
    assert_messaging(publish, subject, "send")
    assert_messaging(consume, subject, "process")
    assert publish.tags["messaging.message.id"] == consume.tags["messaging.message.id"]
    assert not any(s.service == "malha" for s in trace.spans), trace.describe()

    # The consumer's effect: the order is paid.
    assert ok(edge, "GET", f"/v1/orders/{order_id}", headers=bearer)["order"]["status"] == "ORDER_STATUS_PAID"
    assert_logged_in(malha, caller, [edge_order, create_order, create_payment, hook, publish, consume])


def test_a_project_and_the_inventory_it_consumes_are_one_trace(malha, jaeger):
    edge = malha["edge"]
    login = ok(edge, "POST", "/v1/identity/login", {"username": "admin", "password": "malha-admin"})
    admin = {"authorization": "Bearer " + login["tokens"]["accessToken"]}
    product = ok(edge, "POST", "/v1/inventory/products",
                 {"product": {"sku": f"MDF-{uuid.uuid4().hex[:8]}", "name": "MDF 15 mm", "unit": "sheet"}},
                 admin)["product"]["id"]
    ok(edge, "POST", f"/v1/inventory/products/{product}/movements",
       {"kind": "MOVEMENT_KIND_RECEIPT", "quantity": "20", "reason": "delivery"}, admin)
    caller = Caller()

    ok(edge, "POST", "/v1/projects",
       {"project": {"name": "Cozinha", "materials": [{"productId": product, "productName": "MDF 15 mm",
                                                     "quantity": "6"}]}},
       {**admin, **caller.traceparent()})

    projects = "malha.projects.v1.ProjectsService"
    subject = "projects.project.created"
    trace = wait_for_trace(jaeger, caller.trace_id, [
        ("edge", "server", "POST /v1/projects"),
        ("projects", "server", f"{projects}/CreateProject"),
        ("projects", "producer", f"publish {subject}"),
        ("inventory", "consumer", f"consume {subject}"),
    ])
    edge_span = trace.find("edge", "server", "POST /v1/projects")
    create = trace.find("projects", "server", f"{projects}/CreateProject")
    publish = trace.find("projects", "producer", f"publish {subject}")
    consume = trace.find("inventory", "consumer", f"consume {subject}")
    assert edge_span.parent == caller.span_ids[0], trace.describe()
    assert create.parent == edge_span.id, trace.describe()
    assert trace.descends(publish, create), trace.describe()
    assert consume.parent == publish.id, trace.describe()
    assert_rpc(create, projects, "CreateProject")
    assert_messaging(publish, subject, "send")
    assert_messaging(consume, subject, "process")
    assert consume.tags.get("messaging.consumer.group.name"), consume

    movements = ok(edge, "GET", f"/v1/inventory/products/{product}/movements", headers=admin)["movements"]
    assert sorted(int(m["delta"]) for m in movements) == [-6, 20], movements
    assert_logged_in(malha, caller, [edge_span, create, publish, consume])


@pytest.fixture(scope="module")
def traced_envoy(malha, jaeger, workdir):
    """The real Envoy with the chart's edge config rendered with
    config.otlpEndpoint set to Jaeger's OTLP receiver."""
    chart = Manifests(render("-f", str(CHART / "ci" / "none-values.yaml"),
                             "--set", f"config.otlpEndpoint={jaeger['otlp']}").stdout).envoy()
    descriptor = workdir / "malha-traced.pb"
    subprocess.run([os.environ["MALHA_BIN"], "descriptor", "--out", str(descriptor)], check=True,
                   capture_output=True)
    port, admin = free_port(), free_port()
    path = workdir / "envoy-traced.yaml"
    path.write_text(yaml.safe_dump(local_config(chart, malha["grpc"], port, admin, free_port(), descriptor)))
    log = workdir / "envoy-traced.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([envoy_exe(), "-c", str(path), "--disable-hot-restart", "-l", "warning",
                                 "--concurrency", "1", "--base-id", str(free_port())],
                                stdout=out, stderr=subprocess.STDOUT)

    def ready():
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{admin}/ready", timeout=1).status == 200
        except OSError:
            return False
    try:
        wait_for("envoy", ready, proc, log, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_envoy_as_the_edge_joins_the_callers_trace(malha, jaeger, traced_envoy):
    customer = ok(malha["edge"], "POST", "/v1/identity/customers:anonymous", {})
    bearer = {"authorization": "Bearer " + customer["tokens"]["accessToken"]}
    product = ok(malha["edge"], "GET", "/v1/menu")["sections"][0]["products"][0]["id"]
    caller = Caller()

    ok(traced_envoy, "POST", "/v1/orders", {"items": [{"productId": product, "quantity": 1}]},
       {**bearer, **caller.traceparent()})

    orders, payments = "malha.orders.v1.OrdersService", "malha.payments.v1.PaymentsService"
    create_order = ("orders", "server", f"{orders}/CreateOrder")
    # Envoy exports on its own schedule (every 5 s): wait for its span too.
    trace = wait_for_trace(jaeger, caller.trace_id, [create_order, ("payments", "server", f"{payments}/CreatePayment")],
                           until=lambda t: t.find(*create_order).parent in t.by_id)
    envoy_span = trace.by_id[trace.find(*create_order).parent]
    assert envoy_span.service == "edge" and envoy_span.kind == "server", trace.describe()
    assert envoy_span.parent == caller.span_ids[0], trace.describe()
    assert envoy_span.tags.get("http.method") == "POST", envoy_span
