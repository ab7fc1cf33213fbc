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


@pytest.fixture(scope="session")
def malha(workdir):
    """A live `malha up` (its own PostgreSQL and nats-server on private ports):
    every service on one gRPC port, its local edge and admin on others."""
    grpc, admin, edge = free_port(), free_port(), free_port()
    env = dict(os.environ, MALHA_GRPC_ADDR=f"127.0.0.1:{grpc}", MALHA_ADMIN_ADDR=f"127.0.0.1:{admin}")
    log = workdir / "malha.log"
    cmd = [os.environ["MALHA_BIN"], "up", "--data-dir", str(workdir / "data"),
           "--pg-port", str(free_port()), "--nats-port", str(free_port()),
           "--edge-addr", f"127.0.0.1:{edge}"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for("malha up", lambda: any(l.startswith("Malha is up") for l in log.read_text().splitlines()),
                 proc, log)
        yield {"grpc": grpc, "admin": admin, "edge": f"http://127.0.0.1:{edge}"}
    finally:
        stop(proc)
