"""Fixtures for the deploy checks: the binary's facts and rendered manifests.

Needs `helm` (env HELM, else PATH) and the malha binary (env MALHA_BIN).
scripts/check-deploy installs both prerequisites and runs this suite.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
import malha_api  # noqa: E402

ROOT = malha_api.ROOT
CHART = ROOT / "charts" / "malha"
MESHES = ("none", "linkerd", "istio")
RELEASE = "malha"
NAMESPACE = "malha"
KUBE_VERSION = "1.34.0"


def helm() -> str:
    exe = os.environ.get("HELM") or shutil.which("helm")
    if not exe:
        pytest.fail("helm not found: run scripts/check-deploy (it installs helm) or set HELM")
    return exe


def render(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [helm(), "template", RELEASE, str(CHART), "--namespace", NAMESPACE,
           "--kube-version", KUBE_VERSION, *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=check)


class Manifests:
    """Rendered objects, looked up by kind and name."""

    def __init__(self, text: str):
        self.objects = [d for d in yaml.safe_load_all(text) if d]

    def of(self, kind: str) -> list[dict]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> dict | None:
        return next((o for o in self.of(kind) if o["metadata"]["name"] == name), None)

    def envoy(self) -> dict:
        cm = self.get("ConfigMap", f"{RELEASE}-edge")
        assert cm, "no edge ConfigMap"
        return yaml.safe_load(cm["data"]["envoy.yaml"])


@pytest.fixture(scope="session")
def graph() -> dict[str, list[str]]:
    return malha_api.target_graph()


@pytest.fixture(scope="session")
def targets(graph) -> list[str]:
    return sorted(graph)


@pytest.fixture(scope="session")
def descriptor() -> list[malha_api.Service]:
    return malha_api.parse_descriptor(malha_api.descriptor_bytes())


@pytest.fixture(scope="session")
def rendered() -> dict[str, Manifests]:
    out = {}
    for mesh in MESHES:
        out[mesh] = Manifests(render("-f", str(CHART / "ci" / f"{mesh}-values.yaml")).stdout)
    return out


@pytest.fixture(scope="session")
def dev() -> Manifests:
    return Manifests(render("-f", str(CHART / "ci" / "dev-values.yaml")).stdout)


PGBOUNCER_VALUES = CHART / "ci" / "pgbouncer-values.yaml"


@pytest.fixture(scope="session")
def pgbouncer() -> Manifests:
    """ci/pgbouncer-values.yaml: PgBouncer on (mesh: istio)."""
    return Manifests(render("-f", str(PGBOUNCER_VALUES)).stdout)


def pgbouncer_ini(m: Manifests) -> dict[str, dict[str, str]]:
    """The rendered pgbouncer.ini: section -> key -> value (';' comments dropped)."""
    cm = m.get("ConfigMap", f"{RELEASE}-pgbouncer")
    assert cm, "no PgBouncer ConfigMap"
    ini: dict[str, dict[str, str]] = {}
    section = None
    for line in cm["data"]["pgbouncer.ini"].splitlines():
        line = line.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith("["):
            section = ini.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        assert section is not None and key.strip() not in section, f"stray or repeated line: {line}"
        section[key.strip()] = value.strip()
    return ini


def connstring(s: str) -> dict[str, str]:
    """A PgBouncer [databases] value: key=value pairs, values bare or 'quoted' ('' is a quote)."""
    out, i = {}, 0
    while i < len(s):
        while i < len(s) and s[i] == " ":
            i += 1
        if i == len(s):
            break
        eq = s.index("=", i)
        key, i = s[i:eq].strip(), eq + 1
        if s[i:i + 1] == "'":
            i, value = i + 1, ""
            while True:
                q = s.index("'", i)
                value += s[i:q]
                if s[q + 1:q + 2] == "'":
                    value, i = value + "'", q + 2
                else:
                    i = q + 1
                    break
        else:
            end = s.find(" ", i)
            end = len(s) if end < 0 else end
            value, i = s[i:end], end
        out[key] = value
    return out


def name(component: str) -> str:
    """Object name the chart gives a component for release `malha`."""
    return f"{RELEASE}-{component}"


def container(deploy: dict, cname: str = "malha") -> dict:
    return next(c for c in deploy["spec"]["template"]["spec"]["containers"] if c["name"] == cname)


def env(c: dict) -> dict[str, object]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


# --- one live `malha up` for the suites that need a running Malha -------------
UP_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, ready, proc: subprocess.Popen, log: Path, timeout: float = UP_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited ({proc.returncode}) before it was ready:\n{log.read_text()[-4000:]}")
        if ready():
            return
        time.sleep(0.5)
    pytest.fail(f"{what} was not ready within {timeout:.0f} s:\n{log.read_text()[-4000:]}")


def stop(proc: subprocess.Popen):
    # Ctrl-C is how `malha up` stops its PostgreSQL and nats-server cleanly.
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def workdir():
    d = Path(tempfile.mkdtemp(prefix="malha-edge-"))
    # As root, PostgreSQL runs as `postgres`, which must reach its data directory.
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


JAEGER_CONFIG = """
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces: {receivers: [otlp], processors: [batch], exporters: [jaeger_storage_exporter]}
  telemetry:
    metrics: {level: none}
    logs: {level: warn}
extensions:
  jaeger_storage:
    backends: {memstore: {memory: {max_traces: 10000}}}
  jaeger_query:
    storage: {traces: memstore}
    http: {endpoint: "127.0.0.1:%(query)d"}
    grpc: {endpoint: "127.0.0.1:%(query_grpc)d"}
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:%(otlp)d"}
processors:
  batch: {timeout: 100ms}
exporters:
  jaeger_storage_exporter: {trace_storage: memstore}
"""


@pytest.fixture(scope="session")
def jaeger(workdir):
    """Jaeger v2 (in memory): OTLP/gRPC in, its query API (what Grafana's
    Jaeger data source reads) out. scripts/check-deploy builds it (env JAEGER)."""
    exe = os.environ.get("JAEGER") or shutil.which("jaeger")
    if not exe or not os.access(exe, os.X_OK):
        pytest.fail("jaeger not built: run scripts/check-deploy --deps (it builds tests/deploy/jaeger) or set JAEGER")
    ports = {"otlp": free_port(), "query": free_port(), "query_grpc": free_port()}
    cfg = workdir / "jaeger.yaml"
    cfg.write_text(JAEGER_CONFIG % ports)
    log = workdir / "jaeger.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([exe, f"--config=file:{cfg}"], stdout=out, stderr=subprocess.STDOUT)
    query = f"http://127.0.0.1:{ports['query']}"

    def ready():
        try:
            return urllib.request.urlopen(query + "/api/services", timeout=1).status == 200
        except OSError:
            return False
    try:
        wait_for("jaeger", ready, proc, log, timeout=30)
        yield {"otlp": f"http://127.0.0.1:{ports['otlp']}", "query": query}
    finally:
        proc.kill()  # in-memory storage: nothing to keep
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def malha(workdir, jaeger):
    """A live `malha up` (its own PostgreSQL and nats-server on private ports):
    every service on one gRPC port, its local edge and admin on others. It
    exports its traces to `jaeger` and logs JSON lines (with the kit's and
    the edge's per-call debug lines, which carry trace ids) to malha.log."""
    grpc, admin, edge = free_port(), free_port(), free_port()
    env = dict(os.environ, MALHA_GRPC_ADDR=f"127.0.0.1:{grpc}", MALHA_ADMIN_ADDR=f"127.0.0.1:{admin}",
               OTEL_EXPORTER_OTLP_ENDPOINT=jaeger["otlp"], OTEL_BSP_SCHEDULE_DELAY="200",
               RUST_LOG="info,malha_kit=debug,malha_edge=debug,h2=warn,hyper=warn,tower=warn,sqlx=warn")
    env.pop("OTEL_SERVICE_NAME", None)  # one process, each span under its target's name
    log = workdir / "malha.log"
    cmd = [os.environ["MALHA_BIN"], "--log-format", "json", "up", "--data-dir", str(workdir / "data"),
           "--pg-port", str(free_port()), "--nats-port", str(free_port()),
           "--edge-addr", f"127.0.0.1:{edge}"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for("malha up", lambda: any(l.startswith("Malha is up") for l in log.read_text().splitlines()),
                 proc, log)
        yield {"grpc": grpc, "admin": admin, "edge": f"http://127.0.0.1:{edge}", "log": log}
    finally:
        stop(proc)
