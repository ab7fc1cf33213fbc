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


@pytest.mark.parametrize("query", ["page_size=abc", "nosuch=1"])
def test_a_bad_query_parameter_is_invalid_argument_on_both(malha, envoy, token, query):
    """The transcoder rejects these itself, in its own words (no field
    violations yet): the status and the google.rpc.Status code agree."""
    (ls, _, lb), (rs, rh, rb) = both(malha, envoy, "GET", f"/v1/identity/customers?{query}",
                                     headers={"authorization": f"Bearer {token}"})
    lj, rj = json.loads(lb), json.loads(rb)
    assert ls == rs == 400 and lj["code"] == rj["code"] == 3, (lj, rj)
    assert rh.get("content-type") == "application/json" and rj["message"], rj


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
    # The first message (the order as it stands) is the same on both edges;
    # the framing differs (SSE on the local edge, a JSON array on Envoy).
    local = first_stream_message(malha["edge"], f"/v1/orders/{order}:watch", h)
    real = first_stream_message(envoy, f"/v1/orders/{order}:watch", h)
    assert local[0] == real[0] == 200
    assert local[2] == real[2] and local[2]["order"]["id"] == order, (local, real)
