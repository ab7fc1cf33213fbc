"""The database connection budget (docs/scaling.md), checked on rendered manifests.

The chart refuses to install when what PostgreSQL may see at the peak does
not fit its max_connections. These tests recompute the budget from the
rendered Deployments, HPAs and pgbouncer.ini, independently of the chart's
template arithmetic, and check the chart agrees at the boundary, without and
with PgBouncer:

- without: every target's peak pods x (its pool + the binary's direct pool);
- with: PgBouncer's peak pods x the sum of its aliases' server pools, plus
  every target's peak pods x the direct pool; and each PgBouncer pod's
  max_client_conn at least every target's peak pods x its pool.
"""

from __future__ import annotations

import math
import re

import pytest
import yaml

from conftest import (CHART, MESHES, PGBOUNCER_VALUES, ROOT, Manifests, connstring, container, env, name,
                      pgbouncer_ini, render)

SURGE = 0.25  # the services' Deployments' rollingUpdate.maxSurge
# The binary's second pool per pod, straight to PostgreSQL (DATABASE_DIRECT_URL):
# LISTEN and migrations. Read from its source below, so a change there shows.
DIRECT = 3
POOL_RS = ROOT / "services" / "kit" / "src" / "db" / "pool.rs"


def peak_pods(m: Manifests, t: str) -> int:
    """A target's pods at its peak: HPA max, or replicas, plus the rolling update's surge."""
    dep = m.get("Deployment", name(t))
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == f"{int(SURGE * 100)}%"
    hpa = m.get("HorizontalPodAutoscaler", name(t))
    peak = hpa["spec"]["maxReplicas"] if hpa else dep["spec"]["replicas"]
    return peak + math.ceil(peak * SURGE)


def pool(m: Manifests, t: str) -> int:
    return int(env(container(m.get("Deployment", name(t))))["MALHA_DB_MAX_CONNECTIONS"])


def through_pgbouncer(m: Manifests) -> bool:
    return m.get("Deployment", name("pgbouncer")) is not None


def peak_connections(m: Manifests, targets: list[str]) -> dict[str, int]:
    """What PostgreSQL may see at the peak, by share: each target's pods, and PgBouncer's."""
    if not through_pgbouncer(m):
        return {t: peak_pods(m, t) * (pool(m, t) + DIRECT) for t in targets}
    out = {t: peak_pods(m, t) * DIRECT for t in targets}
    out["pgbouncer"] = pgbouncer_pods(m) * sum(server_pools(m).values())
    return out


def pgbouncer_pods(m: Manifests) -> int:
    """PgBouncer pods holding server connections at once: replicas plus the one draining.

    The rollout replaces one pod at a time without surge, and a new pod counts
    as available only after the old one's whole drain, so no second one drains
    meanwhile."""
    dep = m.get("Deployment", name("pgbouncer"))
    spec = dep["spec"]
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    assert spec["minReadySeconds"] >= spec["template"]["spec"]["terminationGracePeriodSeconds"]
    pdb = m.get("PodDisruptionBudget", name("pgbouncer"))
    assert pdb is None or pdb["spec"]["maxUnavailable"] == 1
    return spec["replicas"] + 1


def server_pools(m: Manifests) -> dict[str, int]:
    """Server connections per PgBouncer pod, by alias: pool_size (or the default) plus the reserve."""
    ini = pgbouncer_ini(m)
    settings = ini["pgbouncer"]
    reserve = int(settings.get("reserve_pool_size", 0))
    out = {}
    for alias, value in ini["databases"].items():
        size = int(connstring(value).get("pool_size", settings.get("default_pool_size", 20)))
        out[alias] = size + reserve
    return out


def client_connections(m: Manifests, targets: list[str]) -> int:
    return sum(peak_pods(m, t) * pool(m, t) for t in targets)


def values(path) -> dict:
    return yaml.safe_load(path.read_text())


CASES = [CHART / "ci" / f"{mesh}-values.yaml" for mesh in MESHES] + [PGBOUNCER_VALUES]


def test_the_direct_pool_is_the_binarys():
    """database.directConnectionsPerPod is the size of the binary's second pool."""
    src = POOL_RS.read_text()
    found = re.search(r"let admin = PgPoolOptions::new\(\)\s*\.max_connections\((\d+)\)", src)
    assert found, f"{POOL_RS}: the direct pool's size is no longer where this test reads it: update DIRECT"
    assert int(found.group(1)) == DIRECT
    assert values(CHART / "values.yaml")["database"]["directConnectionsPerPod"] == DIRECT


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name.removesuffix("-values.yaml"))
def test_every_pool_fits_postgres_at_the_maximum_replicas(rendered, pgbouncer, targets, case):
    m = pgbouncer if case == PGBOUNCER_VALUES else rendered[case.name.removesuffix("-values.yaml")]
    db = values(case)["database"]
    reserved = db.get("reservedConnections", values(CHART / "values.yaml")["database"]["reservedConnections"])
    total = sum(peak_connections(m, targets).values())
    assert total <= db["maxConnections"] - reserved, (total, db)
    if through_pgbouncer(m):
        assert client_connections(m, targets) <= int(pgbouncer_ini(m)["pgbouncer"]["max_client_conn"])


def boundary(base: tuple[str, ...], targets: list[str]) -> tuple[int, Manifests]:
    """The chart's render at exactly the budget, checked, and one connection under it, refused."""
    m = Manifests(render(*base).stdout)
    total = sum(peak_connections(m, targets).values())
    reserved = 10
    exact = render(*base, "--set", f"database.maxConnections={total + reserved}",
                   "--set", f"database.reservedConnections={reserved}", check=False)
    assert exact.returncode == 0, exact.stderr
    over = render(*base, "--set", f"database.maxConnections={total + reserved - 1}",
                  "--set", f"database.reservedConnections={reserved}", check=False)
    assert over.returncode != 0
    assert "database connection budget exceeded" in over.stderr
    assert f"may open {total} connections" in over.stderr, over.stderr
    for t in targets:
        assert f"{t} " in over.stderr, f"the refusal does not name {t}'s share: {over.stderr}"
    return total, m


def test_the_chart_refuses_one_connection_over_the_budget(targets):
    base = ("-f", str(CHART / "ci" / "none-values.yaml"))
    total, m = boundary(base, targets)
    assert not through_pgbouncer(m)
    over = render(*base, "--set", f"database.maxConnections={total + 9}", check=False)
    for t in targets:
        share = f"{t} {peak_pods(m, t)} pods x ({pool(m, t)} + {DIRECT} direct) = {peak_pods(m, t) * (pool(m, t) + DIRECT)}"
        assert share in over.stderr, over.stderr


def test_the_chart_refuses_one_connection_over_the_budget_through_pgbouncer(targets):
    base = ("-f", str(PGBOUNCER_VALUES))
    total, m = boundary(base, targets)
    shares = peak_connections(m, targets)
    over = render(*base, "--set", f"database.maxConnections={total + 9}", check=False)
    assert f"pgbouncer {pgbouncer_pods(m)} pods x (" in over.stderr and f") = {shares['pgbouncer']}" in over.stderr
    for t in targets:
        assert f"{t} {peak_pods(m, t)} pods x {DIRECT} direct = {shares[t]}" in over.stderr, over.stderr
    # PgBouncer spares what it pools: the services' own pools are not counted.
    assert total < sum(peak_pods(m, t) * (pool(m, t) + DIRECT) for t in targets)


def test_each_pgbouncer_pod_must_accept_every_client(targets):
    base = ("-f", str(PGBOUNCER_VALUES))
    clients = client_connections(Manifests(render(*base).stdout), targets)
    exact = render(*base, "--set", f"pgbouncer.maxClientConn={clients}", check=False)
    assert exact.returncode == 0, exact.stderr
    assert f"max_client_conn = {clients}" in exact.stdout
    over = render(*base, "--set", f"pgbouncer.maxClientConn={clients - 1}", check=False)
    assert over.returncode != 0
    assert f"the services may open {clients} client connections to PgBouncer" in over.stderr, over.stderr
    for t in targets:
        assert f"{t} " in over.stderr, f"the refusal does not name {t}'s clients: {over.stderr}"


def test_pgbouncer_pool_sizes_replicas_and_reserve_count(targets):
    base = ("-f", str(PGBOUNCER_VALUES))
    m = Manifests(render(*base, "--set", "pgbouncer.poolSizeByTarget.orders=12", "--set", "pgbouncer.poolSize=3",
                         "--set", "pgbouncer.reservePoolSize=2", "--set", "pgbouncer.replicas=4").stdout)
    pools = server_pools(m)
    assert pools == {t: (12 if t == "orders" else 3) + 2 for t in targets}
    assert pgbouncer_pods(m) == 5
    assert peak_connections(m, targets)["pgbouncer"] == 5 * (14 + 5 * (len(targets) - 1))


def test_a_per_service_pool_and_replica_override_counts(targets):
    base = ("-f", str(CHART / "ci" / "none-values.yaml"))
    m = Manifests(render(*base, "--set", "services.identity.dbPoolSize=9",
                         "--set", "services.identity.autoscaling.maxReplicas=3").stdout)
    ident = m.get("Deployment", name("identity"))
    assert env(container(ident))["MALHA_DB_MAX_CONNECTIONS"] == "9"
    assert peak_connections(m, ["identity"])["identity"] == (3 + 1) * (9 + DIRECT)


def test_an_external_database_must_state_its_max_connections():
    r = render("-f", str(CHART / "ci" / "none-values.yaml"), "--set", "database.maxConnections=0", check=False)
    assert r.returncode != 0 and "database.maxConnections: set it" in r.stderr, r.stderr


def test_the_bundled_postgres_is_started_with_the_limit_the_budget_uses(dev, targets):
    pg = dev.get("StatefulSet", "malha-postgresql")
    args = container(pg, "postgres")["args"]
    limit = int(args[args.index("-c") + 1].split("=", 1)[1])
    assert limit == values(CHART / "ci" / "dev-values.yaml")["postgresql"]["maxConnections"]
    assert sum(peak_connections(dev, targets).values()) <= limit - 10
    raised = Manifests(render("-f", str(CHART / "ci" / "dev-values.yaml"),
                              "--set", "postgresql.maxConnections=300").stdout)
    pg = raised.get("StatefulSet", "malha-postgresql")
    assert "max_connections=300" in container(pg, "postgres")["args"]
