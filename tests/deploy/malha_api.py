"""What the deploy checks know about Malha, read from the binary itself.

`malha targets --graph` gives the deployable targets and who calls whom;
`malha descriptor --out` gives the FileDescriptorSet the image ships and Envoy
loads. Everything here is derived from those two; nothing is listed by hand.

Run as a script to (re)generate charts/malha/files/api.yaml:
    python3 tests/deploy/malha_api.py --write charts/malha/files/api.yaml
(`scripts/check-deploy --sync` does exactly that).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[2]
# Targets `malha targets` may print that are not Kubernetes Deployments of the
# binary: in the cluster the edge is Envoy, and `all` is the one-process mode.
NOT_DEPLOYED = {"edge", "all"}

HTTP_RULE_EXT = 72295728  # google.api.http on MethodOptions
ACCESS_RULE_EXT = 51001  # malha.auth.v1.rule on MethodOptions
HTTP_VERBS = {2: "GET", 3: "PUT", 4: "POST", 5: "DELETE", 6: "PATCH"}


def malha_bin() -> str:
    if os.environ.get("MALHA_BIN"):
        return os.environ["MALHA_BIN"]
    # As scripts/check-deploy: the workspace's own target/ unless Cargo's is moved.
    target_dir = os.environ.get("CARGO_TARGET_DIR") or str(ROOT / "target")
    return str(Path(target_dir) / "debug" / "malha")


def run_malha(*args: str) -> str:
    exe = malha_bin()
    if not os.access(exe, os.X_OK):
        raise SystemExit(
            f"malha binary not found at {exe}: build it (cargo build -p malha) "
            "or point MALHA_BIN at it"
        )
    return subprocess.run([exe, *args], check=True, capture_output=True, text=True).stdout


def target_graph() -> dict[str, list[str]]:
    """`malha targets --graph`: target -> sorted targets it calls."""
    graph: dict[str, list[str]] = {}
    for line in run_malha("targets", "--graph").splitlines():
        if not line.strip():
            continue
        name, _, calls = line.strip().partition(" ")
        calls = calls.strip()
        graph[name] = [] if calls in ("", "-") else sorted(c for c in calls.split(",") if c)
    listed = [t for t in run_malha("targets").split() if t]
    if sorted(listed) != sorted(graph):
        raise SystemExit(f"`malha targets` {listed} disagrees with `--graph` {sorted(graph)}")
    return {t: [c for c in cs if c not in NOT_DEPLOYED] for t, cs in graph.items() if t not in NOT_DEPLOYED}


def descriptor_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "malha.pb"
        run_malha("descriptor", "--out", str(out))
        return out.read_bytes()


# --- a minimal protobuf wire reader for the two custom method options -------
def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def _fields(buf: bytes):
    """Yield (field number, wire type, value) for each field of a message."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, i = _varint(buf, i)
        elif wt == 2:
            n, i = _varint(buf, i)
            val, i = buf[i : i + n], i + n
        elif wt == 1:
            val, i = buf[i : i + 8], i + 8
        elif wt == 5:
            val, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wt}")
        yield num, wt, val


def _http_bindings(rule: bytes) -> list[tuple[str, str, str]]:
    """(verb, path template, body) for an HttpRule and its additional_bindings."""
    out, verb, path, body = [], None, None, ""
    for num, _, val in _fields(rule):
        if num in HTTP_VERBS:
            verb, path = HTTP_VERBS[num], val.decode()
        elif num == 8:  # custom
            kv = {n: v.decode() for n, _, v in _fields(val)}
            verb, path = kv.get(1, "").upper(), kv.get(2, "")
        elif num == 7:
            body = val.decode()
        elif num == 11:
            out.extend(_http_bindings(val))
    return [(verb, path, body)] + out if verb else out


def _access_rule(rule: bytes) -> tuple[str, object]:
    for num, _, val in _fields(rule):
        if num == 1:
            return "permission", val.decode()
        if num == 2:
            return "public", bool(val)
        if num == 3:
            return "authenticated", bool(val)
    return "none", None


@dataclass
class Method:
    service: str
    name: str
    http: list[tuple[str, str, str]]
    rule: tuple[str, object]
    client_streaming: bool
    server_streaming: bool
    idempotency: int  # MethodOptions.IdempotencyLevel

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.name}"

    @property
    def public(self) -> bool:
        return self.rule == ("public", True)

    @property
    def idempotent(self) -> bool:
        # Safe to retry: declared so, or mapped to an HTTP GET (a read).
        return self.idempotency in (1, 2) or any(v == "GET" for v, _, _ in self.http)


@dataclass
class Service:
    name: str
    package: str
    methods: list[Method] = field(default_factory=list)

    @property
    def target(self) -> str:
        # malha.<target>.v1.FooService
        parts = self.package.split(".")
        return parts[1] if len(parts) >= 3 and parts[0] == "malha" else ""


def parse_descriptor(data: bytes) -> list[Service]:
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(data)
    services = []
    for f in fds.file:
        if not f.package.startswith("malha."):
            continue
        for s in f.service:
            svc = Service(f"{f.package}.{s.name}", f.package)
            for m in s.method:
                raw = m.options.SerializeToString()
                http, rule = [], ("none", None)
                for num, _, val in _fields(raw):
                    if num == HTTP_RULE_EXT:
                        http = _http_bindings(val)
                    elif num == ACCESS_RULE_EXT:
                        rule = _access_rule(val)
                svc.methods.append(
                    Method(svc.name, m.name, http, rule, m.client_streaming,
                           m.server_streaming, m.options.idempotency_level)
                )
            services.append(svc)
    return services


def istio_path(template: str) -> str:
    """google.api.http template -> Istio AuthorizationPolicy path.

    Istio (>= 1.22) understands `{*}` (one segment) and `{**}` (the rest).
    A segment that mixes a variable with a literal (`{id}:cancel`) cannot be
    expressed; it becomes a prefix match on what precedes it.
    """
    template = re.sub(r"\{[^}=]+=([^}]*)\}", r"\1", template)  # {name=a/*} -> a/*
    segs = []
    for seg in template.split("/"):
        if re.fullmatch(r"\{[^}]+\}|\*", seg):
            segs.append("{*}")
        elif seg == "**":
            segs.append("{**}")
        elif "{" in seg or "*" in seg:
            return "/".join(segs) + "/*"
        else:
            segs.append(seg)
    return "/".join(segs)


def api_manifest(graph: dict[str, list[str]], services: list[Service]) -> dict:
    """The data the chart renders from (charts/malha/files/api.yaml)."""
    public_http = sorted(
        {(v, istio_path(p)) for s in services for m in s.methods if m.public for v, p, _ in m.http}
    )
    return {
        "targets": {t: graph[t] for t in sorted(graph)},
        "grpcServices": [
            {
                "name": s.name,
                "target": s.target,
                "public": sorted(m.name for m in s.methods if m.public),
                "idempotent": sorted(m.name for m in s.methods if m.idempotent and not m.server_streaming),
                "streaming": sorted(m.name for m in s.methods if m.server_streaming or m.client_streaming),
                # Every HTTP path it is reachable on, as Istio matches paths.
                "http": sorted({istio_path(p) for m in s.methods for _, p, _ in m.http}),
            }
            for s in sorted(services, key=lambda s: s.name)
        ],
        "publicHttp": [{"method": v, "path": p} for v, p in public_http],
    }


HEADER = (
    "# GENERATED from `malha targets --graph` and `malha descriptor` by\n"
    "# `scripts/check-deploy --sync`. Do not edit: check-deploy fails when it drifts.\n"
)


def render_manifest() -> str:
    manifest = api_manifest(target_graph(), parse_descriptor(descriptor_bytes()))
    return HEADER + yaml.safe_dump(manifest, sort_keys=False, default_flow_style=None, width=100)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        Path(sys.argv[2]).write_text(render_manifest())
    elif len(sys.argv) == 1:
        sys.stdout.write(render_manifest())
    else:
        raise SystemExit(__doc__)
