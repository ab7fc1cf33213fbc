"""Mesh authorization allows exactly the calls of `malha targets --graph`.

Every target's gRPC port admits the edge and the targets that call it; no
other identity, and nothing unauthenticated except the gRPC health check
(kubelet probes) under Linkerd. Linkerd's CRD schemas are not obtainable
offline (not a Go module the proxy serves), so these checks are also the
structural check of the Linkerd objects.
"""

import pytest

import malha_api
from conftest import NAMESPACE, name

GRPC = 50051


def expected_edges(graph):
    edges = {(caller, callee) for caller, callees in graph.items() for callee in callees}
    return edges | {("edge", t) for t in graph}


def test_linkerd_allows_exactly_the_graph(rendered, graph):
    m = rendered["linkerd"]
    by_sa = {name(c): c for c in list(graph) + ["edge"]}
    allowed = set()
    for t in graph:
        server = m.get("Server", f"{name(t)}-grpc")
        assert server, f"{t}: no Linkerd Server"
        assert server["apiVersion"] == "policy.linkerd.io/v1beta3"
        assert server["spec"]["port"] == "grpc" and server["spec"]["proxyProtocol"] == "gRPC"
        assert server["spec"]["accessPolicy"] == "deny"
        dep = m.get("Deployment", name(t))
        assert server["spec"]["podSelector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
        assert dep["spec"]["template"]["metadata"]["annotations"]["linkerd.io/inject"] == "enabled"
        policies = [p for p in m.of("AuthorizationPolicy")
                    if p["spec"]["targetRef"] == {"group": "policy.linkerd.io", "kind": "Server", "name": f"{name(t)}-grpc"}]
        assert len(policies) == 1, f"{t}: expected one AuthorizationPolicy on the gRPC Server"
        refs = policies[0]["spec"]["requiredAuthenticationRefs"]
        assert [r["kind"] for r in refs] == ["MeshTLSAuthentication"]
        mtls = m.get("MeshTLSAuthentication", refs[0]["name"])
        suffix = f".{NAMESPACE}.serviceaccount.identity.linkerd.cluster.local"
        for ident in mtls["spec"]["identities"]:
            assert ident.endswith(suffix), ident
            allowed.add((by_sa[ident[: -len(suffix)]], t))
        # Routes on this Server: the catch-all, and the health check open to probes.
        routes = [r for r in m.of("HTTPRoute") if any(p["name"] == f"{name(t)}-grpc" for p in r["spec"]["parentRefs"])]
        assert {r["metadata"]["name"] for r in routes} == {f"{name(t)}-grpc", f"{name(t)}-grpc-health"}
        health = m.get("HTTPRoute", f"{name(t)}-grpc-health")
        assert health["spec"]["rules"][0]["matches"][0]["path"] == {"type": "Exact", "value": "/grpc.health.v1.Health/Check"}
        route_policies = [p for p in m.of("AuthorizationPolicy") if p["spec"]["targetRef"].get("kind") == "HTTPRoute"
                          and p["spec"]["targetRef"]["name"].startswith(name(t) + "-")]
        assert [p["spec"]["targetRef"]["name"] for p in route_policies] == [f"{name(t)}-grpc-health"], \
            "only the health route may be opened beyond the callers"
    assert allowed == expected_edges(graph)


def test_linkerd_objects_are_well_formed(rendered):
    m = rendered["linkerd"]
    for p in m.of("AuthorizationPolicy"):
        assert p["apiVersion"] == "policy.linkerd.io/v1alpha1"
        ref = p["spec"]["targetRef"]
        target_kind = {"Server": "Server", "HTTPRoute": "HTTPRoute"}[ref["kind"]]
        assert m.get(target_kind, ref["name"]), f"{p['metadata']['name']} targets a missing {ref}"
        for a in p["spec"]["requiredAuthenticationRefs"]:
            assert a["group"] == "policy.linkerd.io"
            assert m.get(a["kind"], a["name"]), f"missing {a}"
    for n in m.of("NetworkAuthentication"):
        assert n["spec"]["networks"] and all("cidr" in x for x in n["spec"]["networks"])
    for s in m.of("Server"):
        assert set(s["spec"]) <= {"podSelector", "port", "proxyProtocol", "accessPolicy"}
        assert s["spec"]["proxyProtocol"] in {"unknown", "HTTP/1", "HTTP/2", "gRPC", "opaque", "TLS"}


def test_istio_allows_exactly_the_graph(rendered, graph):
    m = rendered["istio"]
    prefix = f"cluster.local/ns/{NAMESPACE}/sa/"
    by_sa = {name(c): c for c in list(graph) + ["edge"]}
    allowed = set()
    for t in graph:
        pa = m.get("PeerAuthentication", name(t))
        assert pa["spec"]["mtls"]["mode"] == "STRICT"
        assert all(v["mode"] != "DISABLE" for v in pa["spec"].get("portLevelMtls", {}).values())
        assert str(GRPC) not in pa["spec"].get("portLevelMtls", {}), "gRPC port must stay STRICT"
        ap = m.get("AuthorizationPolicy", name(t))
        assert ap["spec"]["action"] == "ALLOW"
        assert ap["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == t
        for rule in ap["spec"]["rules"]:
            ports = {p for op in rule["to"] for p in op["operation"].get("ports", [])}
            assert ports, f"{t}: every rule names its ports"
            if str(GRPC) in ports:
                principals = [p for s in rule["from"] for p in s["source"]["principals"]]
                assert rule["from"] and all(p.startswith(prefix) for p in principals)
                allowed |= {(by_sa[p[len(prefix):]], t) for p in principals}
    assert allowed == expected_edges(graph)


def test_istio_edge_requires_a_token_except_public_routes(rendered, descriptor):
    m = rendered["istio"]
    edge = name("edge")
    ra = m.get("RequestAuthentication", edge)
    rule = ra["spec"]["jwtRules"][0]
    assert rule["issuer"] and rule["audiences"], "empty issuer/audiences check nothing"
    assert rule["jwksUri"].endswith("/.well-known/jwks.json")
    ap = m.get("AuthorizationPolicy", edge)
    rules = ap["spec"]["rules"]
    assert any(s["source"].get("requestPrincipals") == ["*"] for r in rules for s in r.get("from", []))
    public_http, public_grpc = set(), set()
    for r in rules:
        if r.get("from"):
            continue
        for op in (o["operation"] for o in r["to"]):
            for p in op.get("paths", []):
                for verb in op.get("methods", []):
                    (public_grpc if p.startswith("/malha.") else public_http).add((verb, p))
    want_http = {(v, malha_api.istio_path(p)) for s in descriptor for mt in s.methods if mt.public for v, p, _ in mt.http}
    want_grpc = {("POST", mt.path) for s in descriptor for mt in s.methods if mt.public}
    assert public_http - {("GET", "/healthz"), ("GET", "/readyz")} == want_http
    assert public_grpc == want_grpc


def test_istio_retries_only_idempotent_rpcs(rendered, descriptor, graph):
    import re
    m = rendered["istio"]
    for t in graph:
        vs = m.get("VirtualService", name(t))
        methods = [mt for s in descriptor if s.target == t for mt in s.methods]
        for route in vs["spec"]["http"]:
            retries = route.get("retries", {})
            matches = [mm["uri"]["regex"] for mm in route.get("match", [])]
            if route["name"] == "default":
                assert retries["retryOn"] == "connect-failure,refused-stream"
                continue
            covered = {mt.path for mt in methods if any(re.fullmatch(rx, mt.path) for rx in matches)}
            if retries.get("attempts", 0) > 0:
                assert covered == {mt.path for mt in methods if mt.idempotent and not mt.server_streaming}
        dr = m.get("DestinationRule", name(t))
        assert dr["spec"]["host"] == vs["spec"]["hosts"][0]


def test_no_mesh_objects_without_a_mesh(rendered):
    kinds = {o["kind"] for o in rendered["none"].objects}
    assert not kinds & {"Server", "AuthorizationPolicy", "PeerAuthentication", "HTTPRoute", "VirtualService"}


def istio_matches(pattern, path):
    """Istio's path match: exact, `prefix*`, `*suffix`, or a template with
    `{*}` (one segment) and `{**}` (the rest)."""
    import re
    if "{" in pattern:
        rx = "".join("[^/]+" if part == "{*}" else ".+" if part == "{**}" else re.escape(part)
                     for part in re.split(r"(\{\*\*?\})", pattern))
        return re.fullmatch(rx, path) is not None
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return path.endswith(pattern[1:])
    return path == pattern


def test_istio_edge_lets_unknown_paths_through_to_envoys_404(rendered, descriptor):
    """Without a token, Istio allows exactly the paths no route knows (Envoy
    answers them 404, as the local edge does); every route's path still
    needs a token unless its RPC is public."""
    m = rendered["istio"]
    rules = m.get("AuthorizationPolicy", name("edge"))["spec"]["rules"]
    unknown = [op["operation"] for r in rules if not r.get("from") for op in r["to"]
               if "notPaths" in op["operation"]]
    assert len(unknown) == 1, unknown
    not_paths = unknown[0]["notPaths"]
    for s in descriptor:
        assert f"/{s.name}/*" in not_paths
        for mt in s.methods:
            assert any(istio_matches(p, mt.path) for p in not_paths), mt.path
            for _, template, _ in mt.http:
                # A concrete path of the template: each variable one segment.
                import re
                concrete = re.sub(r"\{[^}]+\}", "x1", template).replace("**", "a/b").replace("*", "a")
                assert any(istio_matches(p, concrete) for p in not_paths), f"{template} ({concrete})"
    for path in ["/v1/nowhere", "/v1/identity/nowhere", "/nowhere.v1.NowhereService/Get", "/"]:
        assert not any(istio_matches(p, path) for p in not_paths), f"{path} would need a token"
