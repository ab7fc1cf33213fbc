"""The chart deploys every target of the binary, and nothing else, properly."""

from pathlib import Path

import pytest
import yaml

import malha_api
from conftest import CHART, MESHES, container, env, name, render

GRPC, ADMIN = 50051, 9090


def test_api_file_is_in_sync_with_binary():
    """files/api.yaml is what the binary says today."""
    current = (CHART / "files" / "api.yaml").read_text()
    assert current == malha_api.render_manifest(), (
        "charts/malha/files/api.yaml is stale: run scripts/check-deploy --sync"
    )


def test_descriptor_services_belong_to_targets(descriptor, targets):
    for svc in descriptor:
        assert svc.target in targets, f"{svc.name}: package names no target of `malha targets`"
        for m in svc.methods:
            assert m.rule[0] != "none", f"{m.path} has no (malha.auth.v1.rule)"
            assert m.http, f"{m.path} has no google.api.http route"


def test_graph_only_names_targets(graph):
    for caller, callees in graph.items():
        assert set(callees) <= set(graph), f"{caller} calls unknown targets {callees}"
        # Every service fetches identity's JWKS and its own token: the graph
        # must say so, or the mesh would deny those calls.
        if caller != "identity" and "identity" in graph:
            assert "identity" in callees, f"{caller} must list identity in `malha targets --graph`"


@pytest.mark.parametrize("mesh", MESHES)
def test_every_target_is_deployed_completely(rendered, targets, mesh):
    m = rendered[mesh]
    for t in targets:
        n = name(t)
        dep = m.get("Deployment", n)
        assert dep, f"{mesh}: no Deployment for target {t}"
        pod = dep["spec"]["template"]["spec"]
        assert m.get("ServiceAccount", pod["serviceAccountName"]), f"{t}: ServiceAccount missing"
        assert pod["serviceAccountName"] == n

        svc = m.get("Service", n)
        assert svc, f"{t}: Service missing"
        ports = {p["name"]: p for p in svc["spec"]["ports"]}
        assert ports["grpc"]["port"] == GRPC and ports["grpc"]["appProtocol"] == "kubernetes.io/h2c"
        assert ports["admin"]["port"] == ADMIN
        assert svc["spec"]["selector"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()

        hpa = m.get("HorizontalPodAutoscaler", n)
        assert hpa and hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": n}
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        pdb = m.get("PodDisruptionBudget", n)
        assert pdb and pdb["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]

        job = m.get("Job", name(f"migrate-{t}"))
        assert job, f"{t}: migration Job missing"
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        jc = job["spec"]["template"]["spec"]["containers"][0]
        assert jc["args"] == ["migrate", "--target", t]
        assert env(container(dep))["MALHA_MIGRATE_ON_START"] == "false"


@pytest.mark.parametrize("mesh", MESHES)
def test_deployments_run_real_targets_only(rendered, targets, mesh):
    for dep in rendered[mesh].of("Deployment"):
        comp = dep["metadata"]["labels"]["app.kubernetes.io/component"]
        if comp == "edge":
            continue
        c = container(dep)
        assert c["command"] == ["/usr/local/bin/malha"]
        args = c["args"]
        assert args[:2] == ["serve", "--target"], args
        assert set(args[2].split(",")) <= set(targets), f"{args[2]} is not a target"
        assert comp == args[2]


@pytest.mark.parametrize("mesh", MESHES)
def test_ports_probes_and_drain_match_the_binary(rendered, targets, mesh):
    for t in targets:
        dep = rendered[mesh].get("Deployment", name(t))
        pod = dep["spec"]["template"]["spec"]
        c = container(dep)
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert ports == {"grpc": GRPC, "admin": ADMIN}
        e = env(c)
        assert e["MALHA_GRPC_ADDR"].endswith(f":{GRPC}") and e["MALHA_ADMIN_ADDR"].endswith(f":{ADMIN}")
        for probe in ("startupProbe", "readinessProbe"):
            assert c[probe]["grpc"]["port"] == GRPC, f"{t}: {probe} must be a native gRPC probe"
        live = c["livenessProbe"]
        assert live.get("grpc", {}).get("port") == GRPC or (
            live["httpGet"]["path"] == "/healthz" and ports.get(live["httpGet"]["port"], live["httpGet"]["port"]) == ADMIN
        )
        drain = int(e["MALHA_SHUTDOWN_DELAY_SECONDS"]) + int(e["MALHA_SHUTDOWN_GRACE_SECONDS"])
        assert int(e["MALHA_SHUTDOWN_DELAY_SECONDS"]) > 0
        assert pod["terminationGracePeriodSeconds"] > drain


@pytest.mark.parametrize("mesh", MESHES + ("pgbouncer",))
def test_resources_and_hardening(rendered, pgbouncer, mesh):
    m = pgbouncer if mesh == "pgbouncer" else rendered[mesh]
    for kind in ("Deployment", "Job"):
        for obj in m.of(kind):
            pod = obj["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod.get("automountServiceAccountToken") is False
            for c in pod.get("initContainers", []) + pod["containers"]:
                where = f"{obj['metadata']['name']}/{c['name']}"
                r = c["resources"]
                assert r["requests"]["memory"] and r["limits"]["memory"], f"{where}: memory request/limit"
                assert r["requests"]["cpu"], f"{where}: cpu request"
                sc = c["securityContext"]
                assert sc["allowPrivilegeEscalation"] is False, where
                assert sc["readOnlyRootFilesystem"] is True, where
                assert sc["runAsNonRoot"] is True, where
                assert sc["capabilities"]["drop"] == ["ALL"], where
                assert sc["seccompProfile"]["type"] == "RuntimeDefault", where


@pytest.mark.parametrize("mesh", MESHES)
def test_service_discovery_and_callee_urls(rendered, graph, mesh):
    m = rendered[mesh]
    for t, callees in graph.items():
        e = env(container(m.get("Deployment", name(t))))
        expected = set(callees) | ({"identity"} - {t})
        url_of = {f"MALHA_{c.upper().replace('-', '_')}_URL" for c in graph}
        assert {k for k in e if k in url_of} == {
            f"MALHA_{c.upper().replace('-', '_')}_URL" for c in expected}
        for callee in expected:
            url = e[f"MALHA_{callee.upper()}_URL"]
            host = f"{name(callee)}-headless" if mesh == "none" else name(callee)
            assert url.startswith(f"http://{host}.") and url.endswith(f":{GRPC}"), url
        headless = m.get("Service", f"{name(t)}-headless")
        assert (headless is not None) == (mesh == "none")
        if headless:
            assert headless["spec"]["clusterIP"] == "None"


@pytest.mark.parametrize("mesh", MESHES)
def test_only_the_targets_calling_on_their_own_behalf_get_a_service_account(rendered, targets, mesh):
    secrets = yaml.safe_load((CHART / "values.yaml").read_text())["clientCredentials"]
    assert {"orders", "care"} <= secrets.keys(), secrets
    for t in targets:
        e = env(container(rendered[mesh].get("Deployment", name(t))))
        if t in secrets:
            for key in ("MALHA_CLIENT_ID", "MALHA_CLIENT_SECRET"):
                assert e[key] == {"secretKeyRef": {"name": secrets[t], "key": key}}, e[key]
        else:
            assert "MALHA_CLIENT_ID" not in e and "MALHA_CLIENT_SECRET" not in e, t


@pytest.mark.parametrize("mesh", MESHES)
def test_nothing_deployed_that_the_binary_does_not_know(rendered, targets, mesh):
    comps = {d["metadata"]["labels"]["app.kubernetes.io/component"] for d in rendered[mesh].of("Deployment")}
    assert comps == set(targets) | {"edge"}


def test_dev_values_bundle_databases_and_migrate_on_start(dev, targets):
    assert dev.get("StatefulSet", "malha-postgresql") and dev.get("StatefulSet", "malha-nats")
    assert not dev.of("Job"), "no pre-install hooks when the database is installed by the same release"
    for t in targets:
        dep = dev.get("Deployment", name(t))
        assert dep["spec"]["replicas"] == 1
        assert env(container(dep))["MALHA_MIGRATE_ON_START"] == "true"
    assert not dev.of("HorizontalPodAutoscaler")


@pytest.mark.parametrize("bad", [
    "defaults.replicaz=2",
    "services.no-such-target.replicas=2",
    "defaults.autoscaling.minReplicaz=2",
    "edge.rateLimit.perClient.maxTokenz=1",
    "mesh=consul",
])
def test_misspelt_values_fail(bad):
    r = render("-f", str(CHART / "ci" / "none-values.yaml"), "--set", bad, check=False)
    assert r.returncode != 0, f"--set {bad} rendered without error"


def test_missing_database_fails():
    r = render(check=False)
    assert r.returncode != 0 and "no database" in r.stderr


def test_missing_key_encryption_key_fails_outside_development():
    r = render("-f", str(CHART / "ci" / "none-values.yaml"),
               "--set", "keyEncryption.existingSecret=", check=False)
    assert r.returncode != 0 and "no key-encryption key" in r.stderr, r.stderr


@pytest.mark.parametrize("mesh", MESHES)
def test_identity_alone_gets_the_key_encryption_key(rendered, targets, mesh):
    for t in targets:
        e = env(container(rendered[mesh].get("Deployment", name(t))))
        if t == "identity":
            assert e["MALHA_KEY_ENCRYPTION_KEY"] == {
                "secretKeyRef": {"name": "malha-keys", "key": "MALHA_KEY_ENCRYPTION_KEY"}}
        else:
            assert "MALHA_KEY_ENCRYPTION_KEY" not in e, t


def _leaves(d, prefix=""):
    for k, v in d.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            yield from _leaves(v, path + ".")
        else:
            yield path


def test_readme_lists_every_value():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    readme = (CHART / "README.md").read_text()
    missing = [p for p in _leaves(values) if f"`{p}`" not in readme]
    assert not missing, f"charts/malha/README.md does not list: {missing}"


def test_grafana_gets_the_prometheus_and_jaeger_data_sources(rendered):
    """The data sources ConfigMap the Grafana sidecar loads: the dashboard's
    Prometheus and the Jaeger query API (test_traces.py reads the same API)."""
    cm = rendered["none"].get("ConfigMap", name("datasources"))
    assert cm and cm["metadata"]["labels"]["grafana_datasource"] == "1"
    sources = yaml.safe_load(cm["data"]["malha-datasources.yaml"])["datasources"]
    by_type = {s["type"]: s for s in sources}
    assert set(by_type) == {"prometheus", "jaeger"}
    assert by_type["jaeger"]["url"].startswith("http") and by_type["prometheus"]["url"].startswith("http")
    dashboard = rendered["none"].get("ConfigMap", name("dashboard"))
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
