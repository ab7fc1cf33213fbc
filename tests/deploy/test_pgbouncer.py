"""PgBouncer (pgbouncer.enabled): how the chart wires the services through it.

The binary's contract (docs/scaling.md, "PgBouncer"): DATABASE_URL is the
target's own alias, named after its schema, whose server connections set
search_path and the timeouts (PostgreSQL 15 does not report search_path, so
PgBouncer cannot carry it from the client); DATABASE_DIRECT_URL is PostgreSQL
itself, for LISTEN and migrations; PgBouncer pools transactions and keeps
sqlx's prepared statements. The live test of the binary through PgBouncer is
flows::split::the_fleet_queries_through_a_transaction_mode_pgbouncer (`malha
up --split --pgbouncer`, the same aliases and settings); these check the
rendered manifests.
"""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import (CHART, MESHES, NAMESPACE, PGBOUNCER_VALUES, Manifests, connstring, container, env, name,
                      pgbouncer_ini, render)

PORT = 6432
SENTINEL = "Pw-sentinel-7"  # a database password that must stay in the chart's own Secret
DB_SECRET = {"secretKeyRef": {"name": name("config"), "key": "DATABASE_URL"}}


def values() -> dict:
    return yaml.safe_load(PGBOUNCER_VALUES.read_text())


def test_every_target_reaches_its_own_alias_and_postgres_directly(pgbouncer, targets):
    auth = values()["pgbouncer"]["auth"]
    for t in targets:
        e = env(container(pgbouncer.get("Deployment", name(t))))
        assert e["MALHA_PGBOUNCER_USER"] == {"secretKeyRef": {"name": auth["existingSecret"], "key": "user"}}
        assert e["MALHA_PGBOUNCER_PASSWORD"] == {"secretKeyRef": {"name": auth["existingSecret"], "key": "password"}}
        assert e["DATABASE_URL"] == (
            f"postgres://$(MALHA_PGBOUNCER_USER):$(MALHA_PGBOUNCER_PASSWORD)@{name('pgbouncer')}:{PORT}/{t}")
        assert e["DATABASE_DIRECT_URL"] == DB_SECRET
        names = [v["name"] for v in container(pgbouncer.get("Deployment", name(t)))["env"]]
        # $(VAR) expands only variables defined earlier in the list.
        assert names.index("MALHA_PGBOUNCER_PASSWORD") < names.index("DATABASE_URL")


def test_the_migration_jobs_keep_postgres(pgbouncer, targets):
    for t in targets:
        e = env(pgbouncer.get("Job", name(f"migrate-{t}"))["spec"]["template"]["spec"]["containers"][0])
        assert e["DATABASE_URL"] == DB_SECRET
        assert not {"DATABASE_DIRECT_URL", "MALHA_PGBOUNCER_USER", "MALHA_PGBOUNCER_PASSWORD"} & e.keys()


def test_one_alias_per_enabled_target_with_its_search_path(targets):
    m = Manifests(render("-f", str(PGBOUNCER_VALUES), "--set", "services.queue.enabled=false").stdout)
    pg = values()["pgbouncer"]["postgres"]
    dbs = pgbouncer_ini(m)["databases"]
    enabled = [t for t in targets if t != "queue"]
    assert sorted(dbs) == enabled
    for alias, value in dbs.items():
        c = connstring(value)
        assert (c["host"], c.get("port", "5432"), c["dbname"]) == (pg["host"], "5432", pg["dbname"])
        queries = [q.strip() for q in c["connect_query"].split(";")]
        assert queries == [f"SET search_path = {alias}", "SET statement_timeout = '10s'",
                           "SET idle_in_transaction_session_timeout = '30s'"], queries
        assert "password" not in c and "user" not in c


def test_pgbouncer_settings_the_binary_needs(pgbouncer):
    s = pgbouncer_ini(pgbouncer)["pgbouncer"]
    assert s["pool_mode"] == "transaction"
    assert int(s["max_prepared_statements"]) > 0
    assert {p.strip() for p in s["ignore_startup_parameters"].split(",")} >= {"extra_float_digits", "options"}
    assert s["listen_port"] == str(PORT)
    assert s["auth_type"] == "scram-sha-256"
    assert s["server_reset_query"] == ""
    dep = pgbouncer.get("Deployment", name("pgbouncer"))
    pod = dep["spec"]["template"]["spec"]
    mounts = {v["mountPath"]: v["name"] for v in container(dep, "pgbouncer")["volumeMounts"]}
    assert mounts[s["auth_file"].rsplit("/", 1)[0]] == "auth"
    assert "/etc/pgbouncer/config/pgbouncer.ini" in " ".join(container(dep, "pgbouncer")["args"])
    # PgBouncer >= 1.21 (max_prepared_statements), pinned.
    image = container(dep, "pgbouncer")["image"]
    version = re.search(r":(\d+)\.(\d+)\.(\d+)$", image)
    assert version and tuple(map(int, version.groups())) >= (1, 21, 0), image
    assert {c["image"] for c in pod["initContainers"]} == {image}


def test_no_password_is_rendered():
    """The PgBouncer login stays in its Secret: the init container writes the
    userlist in the pod, the services assemble their URL with $(VAR); the
    database URL's password stays in the chart's own Secret, as without PgBouncer."""
    url = f"postgres://malha:{SENTINEL}@db.example.internal:5432/malha"
    r = render("-f", str(PGBOUNCER_VALUES), "--set", f"database.url={url}")
    m = Manifests(r.stdout)
    holders = [o for o in m.objects if SENTINEL in yaml.safe_dump(o)]
    assert [(o["kind"], o["metadata"]["name"]) for o in holders] == [("Secret", name("config"))]
    assert holders[0]["stringData"] == {"DATABASE_URL": url, "MALHA_NATS_URL": "nats://nats.example.internal:4222"}
    for o in m.of("Deployment") + m.of("Job"):
        pod = o["spec"]["template"]["spec"]
        for c in pod.get("initContainers", []) + pod["containers"]:
            for v in c.get("env", []):
                if "value" in v:
                    assert not re.search(r"://[^/@]*:[^/@$]*@", v["value"]), (o["metadata"]["name"], v)
    ini = m.get("ConfigMap", name("pgbouncer"))["data"]["pgbouncer.ini"]
    assert "password" not in ini
    # With the database URL in an existing Secret too, the chart renders no Secret at all.
    m = Manifests(render("-f", str(PGBOUNCER_VALUES), "--set", "database.url=", "--set", "database.existingSecret=malha-db",
                         "--set", "eventBus.url=", "--set", "eventBus.existingSecret=malha-nats").stdout)
    assert not m.of("Secret")
    e = env(container(m.get("Deployment", name("orders"))))
    assert e["DATABASE_DIRECT_URL"] == {"secretKeyRef": {"name": "malha-db", "key": "DATABASE_URL"}}


def test_the_userlist_is_written_from_the_secret(pgbouncer):
    dep = pgbouncer.get("Deployment", name("pgbouncer"))
    (init,) = dep["spec"]["template"]["spec"]["initContainers"]
    auth = values()["pgbouncer"]["auth"]
    e = env(init)
    assert e["PGBOUNCER_USER"] == {"secretKeyRef": {"name": auth["existingSecret"], "key": "user"}}
    assert e["PGBOUNCER_PASSWORD"] == {"secretKeyRef": {"name": auth["existingSecret"], "key": "password"}}
    script = init["args"][0]
    assert "/etc/pgbouncer/auth/userlist.txt" in script and '"$PGBOUNCER_PASSWORD"' in script
    assert "$(" not in script, "Kubernetes would expand $(...) in args"
    mounts = {v["name"]: v["mountPath"] for v in init["volumeMounts"]}
    assert mounts == {"auth": "/etc/pgbouncer/auth"}
    vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    assert vols["auth"]["emptyDir"]["medium"] == "Memory"


def test_the_deployment_service_and_pdb(pgbouncer):
    dep = pgbouncer.get("Deployment", name("pgbouncer"))
    pod = dep["spec"]["template"]
    c = container(dep, "pgbouncer")
    assert dep["spec"]["replicas"] == 2
    assert c["ports"] == [{"name": "postgres", "containerPort": PORT, "protocol": "TCP"}]
    for probe in ("readinessProbe", "livenessProbe"):
        cmd = c[probe]["exec"]["command"]
        assert cmd[0] == "pg_isready" and cmd[cmd.index("-p") + 1] == str(PORT), cmd
    # A changed ini rolls the pods.
    assert re.fullmatch(r"[0-9a-f]{64}", pod["metadata"]["annotations"]["checksum/config"])
    changed = Manifests(render("-f", str(PGBOUNCER_VALUES), "--set", "pgbouncer.poolSize=6").stdout)
    assert (changed.get("Deployment", name("pgbouncer"))["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            != pod["metadata"]["annotations"]["checksum/config"])
    # PgBouncer itself gets SIGTERM (PID 1, by exec), after a preStop delay, within the grace.
    assert "exec /usr/bin/pgbouncer" in c["args"][0]
    sd = values()["pgbouncer"].get("shutdown") or yaml.safe_load((CHART / "values.yaml").read_text())["pgbouncer"]["shutdown"]
    assert c["lifecycle"]["preStop"]["sleep"]["seconds"] == sd["delaySeconds"]
    assert pod["spec"]["terminationGracePeriodSeconds"] == sd["delaySeconds"] + sd["graceSeconds"]
    svc = pgbouncer.get("Service", name("pgbouncer"))
    assert svc["spec"]["ports"] == [{"name": "postgres", "port": PORT, "targetPort": "postgres", "appProtocol": "postgresql"}]
    assert svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    pdb = pgbouncer.get("PodDisruptionBudget", name("pgbouncer"))
    assert pdb["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    assert pgbouncer.get("ServiceAccount", pod["spec"]["serviceAccountName"])


@pytest.mark.parametrize("mesh", ["linkerd", "istio"])
def test_the_mesh_admits_exactly_the_targets(targets, mesh):
    m = Manifests(render("-f", str(PGBOUNCER_VALUES), "--set", f"mesh={mesh}").stdout)
    pod = m.get("Deployment", name("pgbouncer"))["spec"]["template"]
    sas = {name(t) for t in targets}
    if mesh == "linkerd":
        assert pod["metadata"]["annotations"]["config.linkerd.io/default-inbound-policy"] == "deny"
        server = m.get("Server", name("pgbouncer"))
        assert server["spec"]["port"] == "postgres" and server["spec"]["proxyProtocol"] == "opaque"
        assert server["spec"]["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        (policy,) = [p for p in m.of("AuthorizationPolicy")
                     if p["spec"]["targetRef"] == {"group": "policy.linkerd.io", "kind": "Server", "name": name("pgbouncer")}]
        (ref,) = policy["spec"]["requiredAuthenticationRefs"]
        suffix = f".{NAMESPACE}.serviceaccount.identity.linkerd.cluster.local"
        idents = m.get(ref["kind"], ref["name"])["spec"]["identities"]
        assert {i.removesuffix(suffix) for i in idents} == sas and all(i.endswith(suffix) for i in idents)
    else:
        assert m.get("PeerAuthentication", name("pgbouncer"))["spec"]["mtls"] == {"mode": "STRICT"}
        ap = m.get("AuthorizationPolicy", name("pgbouncer"))
        (rule,) = ap["spec"]["rules"]
        (src,) = rule["from"]
        assert {p.rsplit("/", 1)[1] for p in src["source"]["principals"]} == sas
        assert rule["to"] == [{"operation": {"ports": [str(PORT)]}}]


@pytest.mark.parametrize("mesh", MESHES)
def test_without_pgbouncer_nothing_of_it_renders(rendered, targets, mesh):
    m = rendered[mesh]
    assert not [o["metadata"]["name"] for o in m.objects if "pgbouncer" in o["metadata"]["name"]]
    assert "pgbouncer" not in yaml.safe_dump_all(m.objects).lower()
    for t in targets:
        e = env(container(m.get("Deployment", name(t))))
        assert e["DATABASE_URL"] == DB_SECRET
        assert not {"DATABASE_DIRECT_URL", "MALHA_PGBOUNCER_USER", "MALHA_PGBOUNCER_PASSWORD"} & e.keys()


def test_the_bundled_postgres_defaults_pgbouncers_server_and_login():
    m = Manifests(render("-f", str(CHART / "ci" / "dev-values.yaml"), "--set", "pgbouncer.enabled=true",
                         "--set", "pgbouncer.replicas=1", "--set", "pgbouncer.poolSize=2").stdout)
    c = connstring(pgbouncer_ini(m)["databases"]["identity"])
    assert (c["host"], c["dbname"]) == ("malha-postgresql", "malha")
    e = env(container(m.get("Deployment", name("identity"))))
    assert e["MALHA_PGBOUNCER_PASSWORD"] == {"secretKeyRef": {"name": "malha-postgresql", "key": "POSTGRES_PASSWORD"}}


@pytest.mark.parametrize("unset,message", [
    ("pgbouncer.postgres.host", "pgbouncer.postgres.host: set it"),
    ("pgbouncer.postgres.dbname", "pgbouncer.postgres.dbname: set it"),
    ("pgbouncer.auth.existingSecret", "pgbouncer.auth.existingSecret: create a Secret"),
])
def test_pgbouncer_without_its_server_or_login_fails(unset, message):
    r = render("-f", str(PGBOUNCER_VALUES), "--set", f"{unset}=", check=False)
    assert r.returncode != 0 and message in r.stderr, r.stderr


@pytest.mark.parametrize("bad", [
    "pgbouncer.poolSizeByTarget.no-such-target=3",
    "pgbouncer.maxPreparedStatements=0",
    "pgbouncer.poolSizez=3",
    "pgbouncer.postgres.sslmode=verify-full",
])
def test_misspelt_or_unsafe_pgbouncer_values_fail(bad):
    r = render("-f", str(PGBOUNCER_VALUES), "--set", bad, check=False)
    assert r.returncode != 0, f"--set {bad} rendered without error"
