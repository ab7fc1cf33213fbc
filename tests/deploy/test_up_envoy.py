"""`malha up --edge envoy`: the real Envoy, with the chart's edge config the
binary embeds (services/malha/src/cli/envoy-local.json, kept current by
scripts/check-deploy), is the local edge: JSON routes, jwt_authn and its
google.rpc.Status answers, as in the cluster.

Needs Envoy (env ENVOY; scripts/check-deploy installs it) and the malha binary.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port, stop, wait_for
from test_edge_conformance import envoy_exe


@pytest.fixture(scope="module")
def up_with_envoy():
    workdir = Path(tempfile.mkdtemp(prefix="malha-up-envoy-"))
    workdir.chmod(0o755)  # as root, PostgreSQL runs as `postgres`
    edge = free_port()
    env = dict(os.environ, ENVOY=envoy_exe(), MALHA_GRPC_ADDR=f"127.0.0.1:{free_port()}",
               MALHA_ADMIN_ADDR=f"127.0.0.1:{free_port()}")
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    log = workdir / "malha.log"
    cmd = [os.environ["MALHA_BIN"], "up", "--edge", "envoy", "--data-dir", str(workdir / "data"),
           "--pg-port", str(free_port()), "--nats-port", str(free_port()), "--edge-addr", f"127.0.0.1:{edge}"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for("malha up --edge envoy",
                 lambda: any(l.startswith("Malha is up") for l in log.read_text().splitlines()), proc, log)
        yield f"http://127.0.0.1:{edge}", log
    finally:
        stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def get(url: str, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read())


def test_up_serves_the_json_api_through_the_real_envoy(up_with_envoy):
    base, log = up_with_envoy
    assert "JSON edge (Envoy 1." in log.read_text(), log.read_text()[-2000:]
    status, headers, menu = get(base + "/v1/menu")
    assert status == 200 and menu["sections"], menu
    assert headers.get("server") == "envoy", dict(headers)
    # Envoy's jwt_authn answers by itself, in the local edge's words.
    status, _, body = get(base + "/v1/identity/customers")
    assert status == 401 and body["message"] == "a bearer access token is required", body
