"""A real Prometheus scrapes a live Malha; every expression of the chart's
alert rules and of the Grafana dashboard is evaluated through its HTTP API and
must parse and return data (no panel or alert on a metric nobody exports).

Needs `prometheus` (Debian's package; ./dev deps installs it) and the live
`malha up` of conftest.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from conftest import CHART, free_port, wait_for

SCRAPE_S = 1


def get(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def prometheus(malha, workdir):
    exe = shutil.which("prometheus")
    if not exe:
        pytest.fail("prometheus not installed (Debian's prometheus package; ./dev deps installs it)")
    port = free_port()
    cfg = workdir / "prometheus.yml"
    cfg.write_text(json.dumps({  # JSON is YAML
        "global": {"scrape_interval": f"{SCRAPE_S}s", "evaluation_interval": f"{SCRAPE_S}s"},
        "scrape_configs": [{"job_name": "malha", "metrics_path": "/metrics",
                            "static_configs": [{"targets": [f"127.0.0.1:{malha['admin']}"]}]}],
    }))
    log = workdir / "prometheus.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([exe, f"--config.file={cfg}", f"--storage.tsdb.path={workdir / 'tsdb'}",
                                 f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def ready():
        try:
            return urllib.request.urlopen(base + "/-/ready", timeout=1).status == 200
        except OSError:
            return False
    try:
        wait_for("prometheus", ready, proc, log, timeout=30)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def traffic(edge: str):
    """Successful calls and refused ones (no token, a bad parameter), through
    the edge. No wrong passwords: they could lock the demo admin out."""
    def call(path, body=None, headers=None):
        req = urllib.request.Request(edge + path, method="POST" if body is not None else "GET",
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"content-type": "application/json", **(headers or {})})
        try:
            urllib.request.urlopen(req, timeout=10).read()
        except urllib.error.HTTPError:
            pass
    for _ in range(3):
        call("/.well-known/jwks.json")
        call("/v1/identity/login", {"username": "admin", "password": "malha-admin"})
        call("/v1/identity/customers?page_size=abc")
        call("/v1/identity/customers")


def query(base: str, expr: str):
    out = get(base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    assert out["status"] == "success", f"{expr}: {out}"
    return out["data"]["result"]


def rule_exprs(rendered) -> list[tuple[str, str]]:
    rules = rendered["none"].of("PrometheusRule")
    assert rules, "ci/none-values.yaml renders a PrometheusRule"
    return [(f"{g['name']}/{r['alert']}", r["expr"]) for pr in rules for g in pr["spec"]["groups"]
            for r in g["rules"]]


def dashboard_exprs() -> list[tuple[str, str]]:
    d = json.loads((CHART / "files" / "grafana-dashboard.json").read_text())
    out = []

    def walk(panels):
        for p in panels:
            out.extend((p.get("title", "?"), t["expr"]) for t in p.get("targets", []) if "expr" in t)
            walk(p.get("panels", []))
    walk(d["panels"])
    # What Grafana substitutes: every service, and a rate window over a few scrapes.
    return [(t, e.replace("$service", ".*").replace("$__rate_interval", "1m")) for t, e in out]


def without_threshold(expr: str) -> str:
    """The alert's expression with each `> N` made `>= 0`: what it compares,
    so that a healthy system still returns the series the alert watches."""
    return re.sub(r">\s*[0-9.]+", ">= 0", expr)


@pytest.fixture(scope="module")
def scraped(prometheus, malha):
    traffic(malha["edge"])
    # Two scrapes after the traffic give every rate() its two samples.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if query(prometheus, 'sum(rate(grpc_server_handled_total{grpc_service=~"malha\\\\.identity\\\\..+"}[1m])) > 0'):
            return prometheus
        traffic(malha["edge"])
        time.sleep(SCRAPE_S)
    pytest.fail("Prometheus saw no rate of grpc_server_handled_total within 30 s")


def test_every_alert_expression_returns_data(scraped, rendered):
    empty = []
    for name, expr in rule_exprs(rendered):
        if "identity" not in name:
            continue  # the traffic reaches identity; the others' rules are the same text
        if not query(scraped, without_threshold(expr)):
            empty.append(name)
    assert not empty, f"alert expressions with no data from a real scrape: {empty}"


def test_every_dashboard_expression_returns_data(scraped):
    empty = [title for title, expr in dashboard_exprs() if not query(scraped, expr)]
    assert not empty, f"dashboard panels with no data from a real scrape: {empty}"
