"""The same HTTP cases against both edges: the local edge of a live `malha up`
and the real Envoy running the chart's rendered edge config, pointed at that
same Malha. Both must answer with the same status and the same body.

Needs the malha binary (MALHA_BIN) and Envoy (ENVOY, else `envoy` on PATH);
scripts/check-deploy provides both. `malha up` brings its own PostgreSQL and
nats-server on private ports in a temporary directory (conftest.py's `malha`).
"""

from __future__ import annotations

import copy
import http.client
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
import uuid

import pytest
import yaml

from conftest import free_port, wait_for

def envoy_exe() -> str:
    exe = os.environ.get("ENVOY") or shutil.which("envoy")
    if not exe:
        pytest.fail("envoy not found: run scripts/check-deploy (it installs it) or set ENVOY")
    return exe


def local_config(cfg: dict, grpc_port: int, port: int, admin_port: int, metrics_port: int,
                 descriptor: Path) -> dict:
    """The chart's Envoy config with only its addresses made local: every
    service cluster reaches the one Malha, the listeners take free ports, the
    transcoder reads the descriptor this binary writes."""
    cfg = copy.deepcopy(cfg)
    chart_port = next(l for l in cfg["static_resources"]["listeners"]
                      if l["name"] == "edge")["address"]["socket_address"]["port_value"]
    cfg["admin"]["address"]["socket_address"]["port_value"] = admin_port
    for lst in cfg["static_resources"]["listeners"]:
        sa = lst["address"]["socket_address"]
        sa["address"] = "127.0.0.1"
        sa["port_value"] = port if lst["name"] == "edge" else metrics_port
        for f in lst["filter_chains"][0]["filters"]:
            for hf in f["typed_config"].get("http_filters", []):
                t = hf["typed_config"]
                if hf["name"].endswith("grpc_json_transcoder"):
                    t["proto_descriptor"] = str(descriptor)
                if hf["name"].endswith("jwt_authn"):
                    for p in t["providers"].values():
                        uri = p["remote_jwks"]["http_uri"]
                        uri["uri"] = uri["uri"].replace(f":{chart_port}/", f":{port}/", 1)
    for c in cfg["static_resources"]["clusters"]:
        sa = c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
        if c["name"] == "edge_self":
            sa["port_value"] = port
        elif c["name"] == "envoy_admin":
            sa["port_value"] = admin_port
        elif c["name"] == "otel_collector":
            pass  # as rendered (config.otlpEndpoint)
        else:
            sa["address"], sa["port_value"] = "127.0.0.1", grpc_port
    return cfg


@pytest.fixture(scope="module")
def envoy(malha, rendered, workdir):
    """The real Envoy with the chart's edge config (mesh none)."""
    chart_cfg = rendered["none"].envoy()
    descriptor = workdir / "malha.pb"
    subprocess.run([os.environ["MALHA_BIN"], "descriptor", "--out", str(descriptor)], check=True,
                   capture_output=True)
    port, admin = free_port(), free_port()
    cfg = local_config(chart_cfg, malha["grpc"], port, admin, free_port(), descriptor)
    path = workdir / "envoy.yaml"
    path.write_text(yaml.safe_dump(cfg))
    log = workdir / "envoy.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([envoy_exe(), "-c", str(path), "--disable-hot-restart", "-l", "warning",
                                 "--concurrency", "1"], stdout=out, stderr=subprocess.STDOUT)
    try:
        def ready():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{admin}/ready", timeout=1).status == 200
            except OSError:
                return False
        wait_for("envoy", ready, proc, log, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def call(base: str, method: str, path: str, body=None, headers=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def as_json(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


@pytest.fixture(scope="module")
def token(malha):
    status, _, raw = call(malha["edge"], "POST", "/v1/identity/login",
                          {"username": "admin", "password": "malha-admin"})
    assert status == 200, raw
    return json.loads(raw)["tokens"]["accessToken"]


def both(malha, envoy, method, path, body=None, headers=None):
    local = call(malha["edge"], method, path, body, headers)
    real = call(envoy, method, path, body, headers)
    return local, real


def agree(local, real, *, ignore=()):
    """Same status and the same JSON body (fields in `ignore` differ per call)."""
    (ls, _, lb), (rs, _, rb) = local, real
    lj, rj = as_json(lb), as_json(rb)
    for k in ignore:
        if isinstance(lj, dict) and isinstance(rj, dict):
            assert (k in lj) == (k in rj), f"{k} only on one edge: local {lj}, envoy {rj}"
            lj.pop(k, None)
            rj.pop(k, None)
    assert (ls, lj) == (rs, rj), f"local edge {ls} {lj!r} / envoy {rs} {rj!r}"
    return ls, lj


def test_public_route_without_token(malha, envoy):
    status, body = agree(*both(malha, envoy, "GET", "/.well-known/jwks.json"))
    assert status == 200 and body["keys"], body


def test_public_post_with_body_star(malha, envoy):
    local, real = both(malha, envoy, "POST", "/v1/identity/login",
                       {"username": "admin", "password": "malha-admin"})
    # Each login mints new tokens: the rest of the answer must be equal.
    lt, rt = json.loads(local[2])["tokens"], json.loads(real[2])["tokens"]
    assert sorted(lt) == sorted(rt) and lt["tokenType"] == rt["tokenType"] == "Bearer"
    status, body = agree(local, real, ignore=("tokens",))
    assert status == 200 and body["user"]["username"] == "admin", body


def test_authed_get(malha, envoy, token):
    status, body = agree(*both(malha, envoy, "GET", "/v1/identity/me",
                               headers={"authorization": f"Bearer {token}"}))
    assert status == 200 and body, body


def test_path_variable_not_found(malha, envoy, token):
    status, body = agree(*both(malha, envoy, "GET", "/v1/identity/users/00000000-0000-4000-8000-000000000000",
                               headers={"authorization": f"Bearer {token}"}))
    assert status == 404 and body["code"] == 5, body


def test_query_parameters(malha, envoy, token):
    status, body = agree(*both(malha, envoy, "GET", "/v1/identity/customers?page_size=2",
                               headers={"authorization": f"Bearer {token}"}))
    assert status == 200, body


def test_invalid_argument_names_the_fields(malha, envoy, token):
    status, body = agree(*both(malha, envoy, "POST", "/v1/identity/people", {"name": "", "email": "x"},
                               headers={"authorization": f"Bearer {token}"}))
    assert status == 400 and body["code"] == 3, body
    assert any(d.get("fieldViolations") for d in body.get("details", [])), body


def test_unknown_route_is_404_without_token(malha, envoy):
    # Envoy's own 404 (the catch-all route), shaped by its local_reply_config.
    for path in ("/v1/nowhere", "/nowhere.v1.NowhereService/Get"):
        status, body = agree(*both(malha, envoy, "GET", path))
        assert status == 404 and body == {"code": 5, "message": f"no route for GET {path}"}, body


@pytest.mark.parametrize("headers, message", [
    ({}, "a bearer access token is required"),
    ({"authorization": "Bearer nonsense"}, "invalid access token"),
])
def test_401_is_the_same_status_json(malha, envoy, headers, message):
    # On Envoy jwt_authn answers by itself; on the local edge the service does.
    status, body = agree(*both(malha, envoy, "GET", "/v1/identity/customers", headers=headers))
    assert status == 401 and body["code"] == 16 and body["message"] == message, body
    assert body["details"][0]["reason"] == "UNAUTHENTICATED", body


def test_cors_preflight_from_an_unlisted_origin_finds_no_route(malha, envoy):
    status, body = agree(*both(malha, envoy, "OPTIONS", "/v1/identity/customers",
                               headers={"origin": "https://elsewhere.test",
                                        "access-control-request-method": "GET"}))
    assert status == 404 and body["code"] == 5, body


def test_a_sites_burst_from_one_address_passes_the_shipped_rate_limit(envoy):
    """A clinic behind one NAT address: 600 calls at once from 8 connections
    (the chart's old default, 100 tokens + 50/s, answered most with 429)."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: call(envoy, "GET", "/.well-known/jwks.json")[0], range(600)))
    assert statuses.count(200) == 600, {s: statuses.count(s) for s in set(statuses)}


@pytest.mark.parametrize("query, field, description", [
    ("page_size=abc", "page_size", 'invalid value "abc" for type TYPE_INT32'),
    ("page_size=99999999999", "page_size", 'invalid value "99999999999" for type TYPE_INT32'),
    ("nosuch=1", "nosuch", 'unknown field "nosuch" in malha.identity.v1.ListCustomersRequest'),
])
def test_a_bad_query_parameter_is_the_same_field_violation_on_both(malha, envoy, token, query, field,
                                                                   description):
    """Envoy's transcoder refuses these itself, in a sentence; the chart's
    Envoy turns it into the field violation the local edge answers."""
    (ls, lh, lb), (rs, rh, rb) = both(malha, envoy, "GET", f"/v1/identity/customers?{query}",
                                      headers={"authorization": f"Bearer {token}"})
    status, body = agree((ls, lh, lb), (rs, rh, rb))
    assert status == 400 and rh.get("content-type") == "application/json", (status, rh)
    assert body == {"code": 3, "message": f"invalid fields: {field}", "details": [
        {"@type": "type.googleapis.com/google.rpc.BadRequest",
         "fieldViolations": [{"field": field, "description": description}]}]}, body


def test_a_body_over_the_size_limit_is_413_on_both(malha, envoy):
    """1 MiB is the local edge's limit and the chart's edge.maxRequestBytes."""
    body = json.dumps({"username": "a" * (1 << 20), "password": "x"}).encode()
    status, body = agree(*both(malha, envoy, "POST", "/v1/identity/login", body))
    assert status == 413 and body == {"code": 8, "message": "the request body exceeds 1048576 bytes"}, body


@pytest.fixture(scope="module")
def backend_down(rendered, workdir):
    """Both edges in front of a gRPC address where nothing listens: the local
    edge alone (`malha serve --target edge`) and Envoy with the chart's config."""
    dead, local_port = free_port(), free_port()
    log = workdir / "edge-alone.log"
    env = dict(os.environ, MALHA_EDGE_ADDR=f"127.0.0.1:{local_port}", MALHA_UPSTREAM_URL=f"http://127.0.0.1:{dead}",
               MALHA_ADMIN_ADDR=f"127.0.0.1:{free_port()}")
    with open(log, "w") as out:
        edge = subprocess.Popen([os.environ["MALHA_BIN"], "serve", "--target", "edge"], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    descriptor = workdir / "malha-down.pb"
    subprocess.run([os.environ["MALHA_BIN"], "descriptor", "--out", str(descriptor)], check=True,
                   capture_output=True)
    port, admin = free_port(), free_port()
    path = workdir / "envoy-down.yaml"
    path.write_text(yaml.safe_dump(local_config(rendered["none"].envoy(), dead, port, admin, free_port(), descriptor)))
    envoy_log = workdir / "envoy-down.log"
    with open(envoy_log, "w") as out:
        proxy = subprocess.Popen([envoy_exe(), "-c", str(path), "--disable-hot-restart", "-l", "warning",
                                  "--concurrency", "1", "--base-id", str(free_port())],
                                 stdout=out, stderr=subprocess.STDOUT)
    try:
        def up(url):
            def ready():
                try:
                    return urllib.request.urlopen(url, timeout=1).status == 200
                except urllib.error.HTTPError:
                    return True  # answering, if not ready
                except OSError:
                    return False
            return ready
        wait_for("malha serve --target edge", up(f"http://127.0.0.1:{local_port}/healthz"), edge, log, timeout=30)
        wait_for("envoy", up(f"http://127.0.0.1:{admin}/ready"), proxy, envoy_log, timeout=30)
        yield {"edge": f"http://127.0.0.1:{local_port}"}, f"http://127.0.0.1:{port}"
    finally:
        for p in (edge, proxy):
            p.terminate()
            p.wait(timeout=10)


def test_503_when_the_service_is_down(backend_down):
    local, real = backend_down
    status, body = agree(*both(local, real, "GET", "/v1/menu"))
    assert status == 503 and body == {"code": 14, "message": "the service is unavailable"}, body


def test_enum_and_timestamp_fields(malha, envoy, token):
    # Two creates: each edge gets its own person; ids and times differ.
    local, real = both(malha, envoy, "POST", "/v1/identity/people",
                       {"name": "Bia", "email": "bia@example.com", "kind": "PERSON_KIND_EMPLOYEE"},
                       headers={"authorization": f"Bearer {token}"})
    lp, rp = json.loads(local[2])["person"], json.loads(real[2])["person"]
    assert local[0] == real[0] == 200, (local, real)
    assert lp["kind"] == rp["kind"] == "PERSON_KIND_EMPLOYEE"
    for p in (lp, rp):
        assert p["createTime"].endswith("Z") and "T" in p["createTime"], p
        del p["id"], p["createTime"]
    assert lp == rp


def test_403_for_a_caller_without_the_permission(malha, envoy):
    status, _, raw = call(malha["edge"], "POST", "/v1/identity/customers:anonymous",
                          {"requestId": str(uuid.uuid4())})
    assert status == 200, raw
    customer = json.loads(raw)["tokens"]["accessToken"]
    status, body = agree(*both(malha, envoy, "GET", "/v1/identity/customers",
                               headers={"authorization": f"Bearer {customer}"}))
    assert status == 403 and body["code"] == 7, body


def test_409_for_a_username_taken(malha, envoy, token):
    status, _, raw = call(malha["edge"], "POST", "/v1/identity/login",
                          {"username": "admin", "password": "malha-admin"})
    person = json.loads(raw)["user"]["personId"]

    def create(base):
        return call(base, "POST", "/v1/identity/users",
                    {"personId": person, "username": "admin", "password": "another-password-1",
                     "roles": ["admin"], "requestId": str(uuid.uuid4())},
                    {"authorization": f"Bearer {token}"})
    status, body = agree(create(malha["edge"]), create(envoy))
    assert status == 409 and body["code"] == 6, body


def first_stream_message(base: str, path: str, headers: dict):
    """Status, content type and the first message of a server stream, read
    as it arrives (the stream stays open until the order is delivered)."""
    host, port = base.split("//")[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        ctype = r.getheader("content-type", "")
        data = ""
        while True:
            chunk = r.read1(65536).decode()
            assert chunk, f"{base}{path} ended before its first message: {data!r}"
            data += chunk
            if ctype.startswith("text/event-stream"):
                if "\n\n" in data:
                    event = data.split("\n\n", 1)[0]
                    return r.status, ctype, json.loads("".join(
                        l[len("data:"):].strip() for l in event.splitlines() if l.startswith("data:")))
            else:
                # Envoy's transcoder frames a stream as one JSON array: `[m1,m2...]`.
                try:
                    first, _ = json.JSONDecoder().raw_decode(data.lstrip("[").lstrip())
                    return r.status, ctype, first
                except ValueError:
                    continue
    finally:
        conn.close()


def test_server_stream(malha, envoy):
    status, _, raw = call(malha["edge"], "POST", "/v1/identity/customers:anonymous",
                          {"requestId": str(uuid.uuid4())})
    h = {"authorization": f"Bearer {json.loads(raw)['tokens']['accessToken']}"}
    status, _, raw = call(malha["edge"], "GET", "/v1/menu")
    product = json.loads(raw)["sections"][0]["products"][0]["id"]
    status, _, raw = call(malha["edge"], "POST", "/v1/orders",
                          {"items": [{"productId": product, "quantity": 1}], "requestId": str(uuid.uuid4())}, h)
    assert status == 200, raw
    order = json.loads(raw)["order"]["id"]
    # A stream that fails before its first message is a plain error answer.
    status, body = agree(*both(malha, envoy, "GET",
                               "/v1/orders/00000000-0000-4000-8000-000000000000:watch", headers=h))
    assert status == 404 and body["code"] == 5, body
    # By default both frame the stream as one JSON array (Envoy's framing),
    # and the first message (the order as it stands) is the same.
    local = first_stream_message(malha["edge"], f"/v1/orders/{order}:watch", h)
    real = first_stream_message(envoy, f"/v1/orders/{order}:watch", h)
    assert local[0] == real[0] == 200
    assert local[1].split(";")[0] == real[1].split(";")[0] == "application/json", (local, real)
    assert local[2] == real[2] and local[2]["order"]["id"] == order, (local, real)
    # Server-Sent Events are the local edge's extra, on request.
    sse = first_stream_message(malha["edge"], f"/v1/orders/{order}:watch", {**h, "accept": "text/event-stream"})
    assert sse[1].startswith("text/event-stream") and sse[2] == local[2], sse


def test_http_body_is_the_raw_image_on_both(malha, envoy, token):
    """A google.api.HttpBody reply (pharmacy's QR code) is the image itself on
    both edges: its content type and the same bytes; errors stay JSON."""
    h = {"authorization": f"Bearer {token}"}
    status, _, raw = call(malha["edge"], "POST", "/v1/pharmacy/dispensers",
                          {"code": f"PYX-CONF-{uuid.uuid4().hex[:6]}", "name": "Conformance",
                           "location": {"building": "A", "floor": "1", "ward": "UTI"}}, h)
    assert status == 200, raw
    dispenser = json.loads(raw)["dispenser"]["id"]
    (ls, lh, lb), (rs, rh, rb) = both(malha, envoy, "GET",
                                      f"/v1/pharmacy/dispensers/{dispenser}/qr.png", headers=h)
    assert ls == rs == 200, (ls, rs, rb[:200])
    assert lh["content-type"] == rh["content-type"] == "image/png"
    assert lb[:8] == b"\x89PNG\r\n\x1a\n" and lb == rb
    status, body = agree(*both(malha, envoy, "GET",
                               "/v1/pharmacy/dispensers/00000000-0000-4000-8000-000000000000/qr.png",
                               headers=h))
    assert status == 404 and body["code"] == 5, body
