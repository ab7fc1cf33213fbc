"""The Envoy edge config agrees with the descriptor set the image ships."""

import re
from pathlib import Path

import pytest

from conftest import MESHES, ROOT, Manifests, name, render

HCM = "envoy.filters.network.http_connection_manager"


def listener(cfg, lname="edge"):
    return next(l for l in cfg["static_resources"]["listeners"] if l["name"] == lname)


def hcm(cfg):
    return next(f for f in listener(cfg)["filter_chains"][0]["filters"] if f["name"] == HCM)["typed_config"]


def http_filter(cfg, fname):
    return next((f["typed_config"] for f in hcm(cfg)["http_filters"] if f["name"] == fname), None)


def routes(cfg):
    return hcm(cfg)["route_config"]["virtual_hosts"][0]["routes"]


def clusters(cfg):
    return {c["name"]: c for c in cfg["static_resources"]["clusters"]}


def cluster_host(c):
    return c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]


@pytest.fixture(params=MESHES)
def envoy(request, rendered):
    return request.param, rendered[request.param].envoy()


def test_transcoder_lists_every_descriptor_service(envoy, descriptor):
    _, cfg = envoy
    t = http_filter(cfg, "envoy.filters.http.grpc_json_transcoder")
    assert sorted(t["services"]) == sorted(s.name for s in descriptor)
    assert t["print_options"] == {
        "add_whitespace": False, "always_print_primitive_fields": False,
        "always_print_enums_as_ints": False, "preserve_proto_field_names": False,
    }
    assert t["convert_grpc_status"] is True
    assert t["max_request_body_size"] > 0


def test_every_http_route_reaches_its_service(envoy, descriptor):
    """Transcoded calls become POST /<Service>/<Method>; that path must route
    to a cluster whose endpoint is the owning target's Service."""
    mesh, cfg = envoy
    cl = clusters(cfg)
    for s in descriptor:
        for m in s.methods:
            route = next((r for r in routes(cfg) if r["match"].get("path") == m.path
                          or m.path.startswith(r["match"].get("prefix", "\0"))), None)
            assert route and "route" in route, f"{m.path} ({m.http}) is not routed"
            cluster = cl[route["route"]["cluster"]]
            host = cluster_host(cluster)
            svc = f"{name(s.target)}-headless" if mesh == "none" else name(s.target)
            assert host["address"].startswith(svc + "."), f"{m.path} goes to {host['address']}"
            assert host["port_value"] == 50051
            if m.server_streaming or m.client_streaming:
                assert route["route"]["timeout"] == "0s", f"{m.path}: a stream must not time out"


def test_every_routed_cluster_exists(envoy):
    _, cfg = envoy
    cl = clusters(cfg)
    for r in routes(cfg):
        if "route" in r:
            assert r["route"]["cluster"] in cl
    assert routes(cfg)[-1] == {"match": {"prefix": "/"}, "direct_response": routes(cfg)[-1]["direct_response"]}


def test_jwt_exemptions_are_exactly_the_public_rpcs(envoy, descriptor, rendered):
    mesh, cfg = envoy
    j = http_filter(cfg, "envoy.filters.http.jwt_authn")
    (pname, provider), = j["providers"].items()
    assert provider["issuer"] and provider["audiences"], "empty issuer/audiences check nothing"
    assert provider["forward"] is True
    jwks = provider["remote_jwks"]
    assert jwks["async_fetch"] and jwks["cache_duration"]
    assert jwks["http_uri"]["cluster"] in clusters(cfg)
    # The JWKS URI is served by a public route (GetJwks) of this same listener.
    path = re.sub(r"^https?://[^/]+", "", jwks["http_uri"]["uri"])
    assert any(m.public and ("GET", path, "") in m.http for s in descriptor for m in s.methods), path
    exempt = [r["match"]["path"] for r in j["rules"] if "requires" not in r]
    public = [m.path for s in descriptor for m in s.methods if m.public]
    assert sorted(exempt) == sorted(public)
    # Every other RPC needs a token from this provider.
    for s in descriptor:
        for m in s.methods:
            rule = first_jwt_rule(j, m.path)
            if m.public:
                assert rule is not None and "requires" not in rule, m.path
            else:
                assert rule == {"match": {"prefix": f"/{s.name}/"},
                                "requires": {"provider_name": pname}}, f"{m.path}: {rule}"


def matches(match, path):
    if "path" in match:
        return match["path"] == path
    return path.startswith(match["prefix"])


def first_jwt_rule(jwt, path):
    """The rule jwt_authn applies to `path`: the first that matches."""
    return next((r for r in jwt["rules"] if matches(r["match"], path)), None)


# Paths no route knows: an HTTP path the transcoder leaves as it is, a gRPC
# service that is not deployed, a typo in a package.
UNKNOWN_PATHS = ["/v1/nowhere", "/v1/identity/nowhere", "/nowhere.v1.NowhereService/Get",
                 "/malha.identity.v2.IdentityService/Login", "/"]


def test_an_unknown_route_is_a_404_without_a_token(envoy):
    """Envoy asks for no token on a path it cannot route (a 401 would send
    the caller looking for a token): jwt_authn has no rule for it and the
    router's catch-all answers 404, as the local edge does."""
    _, cfg = envoy
    j = http_filter(cfg, "envoy.filters.http.jwt_authn")
    for path in UNKNOWN_PATHS:
        assert first_jwt_rule(j, path) is None, f"{path} would need a token"
        route = next(r for r in routes(cfg) if matches(r["match"], path))
        assert route.get("direct_response", {}).get("status") == 404, f"{path} -> {route}"


def test_filter_order_and_edge_policies(envoy):
    _, cfg = envoy
    order = [f["name"].rsplit(".", 1)[-1] for f in hcm(cfg)["http_filters"]]
    # The transcoder rewrites JSON calls to gRPC paths before jwt_authn sees them.
    assert order.index("grpc_json_transcoder") < order.index("jwt_authn") < order.index("router")
    assert order[-1] == "router" and "cors" in order and "local_ratelimit" in order
    rl = http_filter(cfg, "envoy.filters.http.local_ratelimit")
    assert rl["rate_limits"] == [{"actions": [{"remote_address": {}}]}]
    assert rl["descriptors"][0]["entries"] == [{"key": "remote_address"}], "one bucket per client"
    assert rl["filter_enforced"]["default_value"]["numerator"] == 100
    assert hcm(cfg)["access_log"], "access logs"
    cors = hcm(cfg)["route_config"]["virtual_hosts"][0]["typed_per_filter_config"]["envoy.filters.http.cors"]
    assert cors["allow_origin_string_match"]


def test_descriptor_path_is_the_one_the_image_ships(rendered):
    """Envoy loads /usr/share/malha/malha.pb; the Dockerfile puts the
    descriptor there; the edge pod's init container writes the same file
    (malha descriptor) into the volume mounted at that directory."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    shipped = re.search(r"COPY --from=descriptor \S+ (\S+)", dockerfile).group(1)
    for mesh, m in rendered.items():
        cfg = m.envoy()
        loaded = http_filter(cfg, "envoy.filters.http.grpc_json_transcoder")["proto_descriptor"]
        assert loaded == shipped
        dep = m.get("Deployment", name("edge"))
        pod = dep["spec"]["template"]["spec"]
        init = pod["initContainers"][0]
        assert init["args"][:2] == ["descriptor", "--out"]
        out = Path(init["args"][2])
        init_vol = next(v["name"] for v in init["volumeMounts"] if Path(v["mountPath"]) == out.parent)
        envoy_c = next(c for c in pod["containers"] if c["name"] == "envoy")
        mounted = next(v for v in envoy_c["volumeMounts"] if v["name"] == init_vol)
        assert str(Path(mounted["mountPath"]) / out.name) == loaded


def test_edge_service_ports_match_listeners(rendered):
    for mesh, m in rendered.items():
        cfg = m.envoy()
        svc = m.get("Service", name("edge"))
        ports = {p["name"]: p["port"] for p in svc["spec"]["ports"]}
        assert listener(cfg)["address"]["socket_address"]["port_value"] == ports["http"]
        assert listener(cfg, "metrics")["address"]["socket_address"]["port_value"] == ports["admin"]
        assert cfg["admin"]["address"]["socket_address"]["address"] == "127.0.0.1", "admin stays private"


def test_envoys_own_answers_are_status_json(envoy):
    """Every status Envoy answers by itself (jwt_authn, the catch-all route,
    the rate limiter, the transcoder) has a google.rpc.Status JSON body;
    test_edge_conformance.py checks they equal the local edge's."""
    _, cfg = envoy
    mapped = {}
    for m in hcm(cfg)["local_reply_config"]["mappers"]:
        f = m["filter"]
        status_filter = f.get("status_code_filter") or next(
            x["status_code_filter"] for x in f["and_filter"]["filters"] if "status_code_filter" in x)
        body = m["body_format_override"]["json_format"]
        mapped.setdefault(status_filter["comparison"]["value"]["default_value"], body)
    codes = {400: 3, 401: 16, 404: 5, 413: 8, 429: 8, 503: 14, 504: 4}
    assert {s: b["code"] for s, b in mapped.items()} == codes
    assert all(b["message"] for b in mapped.values())


def shipped(*sets: str) -> dict:
    """The edge config with the chart's defaults (plus what the chart requires)."""
    args = ["--set", "database.url=postgres://malha@db:5432/malha", "--set", "database.maxConnections=1000",
            "--set", "eventBus.url=nats://nats:4222", "--set", "keyEncryption.existingSecret=malha-keys"]
    for s in sets:
        args += ["--set", s]
    return Manifests(render(*args).stdout).envoy()


def test_envoy_traces_only_when_a_collector_is_configured():
    """As shipped, Envoy exports no spans (a collector that does not exist
    would cost CPU per request); with config.otlpEndpoint it joins the
    services' traces through that collector."""
    default = shipped()
    assert "tracing" not in hcm(default), "no collector configured: no tracing"
    assert "otel_collector" not in clusters(default)
    cfg = shipped("config.otlpEndpoint=http://otel-collector.observability:4317")
    tracing = hcm(cfg)["tracing"]["provider"]
    assert tracing["name"] == "envoy.tracers.opentelemetry"
    assert tracing["typed_config"]["grpc_service"]["envoy_grpc"]["cluster_name"] == "otel_collector"
    assert tracing["typed_config"]["service_name"] == "edge"
    host = cluster_host(clusters(cfg)["otel_collector"])
    assert (host["address"], host["port_value"]) == ("otel-collector.observability", 4317)


def test_envoy_access_log_is_configurable():
    assert hcm(shipped())["access_log"], "on by default"
    assert "access_log" not in hcm(shipped("edge.accessLog=false"))
