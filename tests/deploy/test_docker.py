"""The Dockerfile, read with Docker's own parser (PyPI `dockerfile`)."""

import dockerfile

from conftest import ROOT

DESCRIPTOR = "/usr/share/malha/malha.pb"


def stages():
    out, cur = [], None
    for c in dockerfile.parse_file(str(ROOT / "Dockerfile")):
        if c.cmd == "FROM":
            v = c.value
            cur = {"from": v[0], "name": v[2] if len(v) > 2 else None, "flags": c.flags, "cmds": []}
            out.append(cur)
        elif cur:
            cur["cmds"].append(c)
    return out


def test_stages_reference_earlier_stages():
    seen = set()
    for st in stages():
        for c in st["cmds"]:
            for f in c.flags:
                if f.startswith("--from="):
                    assert f[7:] in seen, f"{c.original}: unknown stage"
        if st["from"] in {s["name"] for s in stages()}:
            assert st["from"] in seen
        seen.add(st["name"])


def test_compiles_on_build_platform_with_cargo_chef():
    st = {s["name"]: s for s in stages()}
    assert "--platform=$BUILDPLATFORM" in st["chef"]["flags"]
    runs = " ".join(v for s in stages() for c in s["cmds"] if c.cmd == "RUN" for v in c.value)
    assert "cargo chef prepare" in runs and "cargo chef cook" in runs
    assert "aarch64-unknown-linux-gnu" in runs and "x86_64-unknown-linux-gnu" in runs
    args = [c.value[0] for c in st["builder"]["cmds"] if c.cmd == "ARG"]
    assert any(a.startswith("VERSION") for a in args)


def test_runtime_is_small_nonroot_and_ships_descriptor():
    final = stages()[-1]
    assert "distroless" in final["from"] or final["from"].endswith("-slim")
    (user,) = [c.value[0] for c in final["cmds"] if c.cmd == "USER"]
    assert user.split(":")[0] not in ("0", "root") and user.split(":")[0].isdigit()
    copies = {c.value[-1]: c for c in final["cmds"] if c.cmd == "COPY"}
    assert "/usr/local/bin/malha" in copies
    assert copies[DESCRIPTOR].flags == ("--from=descriptor",)
    desc = next(s for s in stages() if s["name"] == "descriptor")
    run = " ".join(v for c in desc["cmds"] if c.cmd == "RUN" for v in c.value)
    assert "malha descriptor --out /out/malha.pb" in run
    entry = [c.value for c in final["cmds"] if c.cmd == "ENTRYPOINT"]
    assert entry == [("/usr/local/bin/malha",)]


def test_dockerignore_keeps_the_context_small():
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert {"target", ".git", "charts", "node_modules"} <= set(ignore)
    assert "proto" not in ignore and "services" not in ignore
