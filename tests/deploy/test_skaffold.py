"""skaffold.yaml parses and points at the real image, chart and profiles.

No skaffold binary can be installed here (its Go module is not served), so
this is the parse-and-reference check instead of `skaffold diagnose`.
"""

import re

import yaml

from conftest import CHART, ROOT, name


def configs():
    return {d["metadata"]["name"]: d for d in yaml.safe_load_all((ROOT / "skaffold.yaml").read_text())}


def test_api_version_and_image():
    cfgs = configs()
    assert set(cfgs) == {"malha-cluster", "malha"}
    for c in cfgs.values():
        assert re.fullmatch(r"skaffold/v4beta\d+", c["apiVersion"]) and c["kind"] == "Config"
    main = cfgs["malha"]
    (art,) = main["build"]["artifacts"]
    assert (ROOT / art.get("context", ".") / art["docker"]["dockerfile"]).is_file()
    image = art["image"]
    (rel,) = main["manifests"]["helm"]["releases"]
    assert (ROOT / rel["chartPath"]).resolve() == CHART
    tpl = rel["setValueTemplates"]
    assert tpl["defaults.image.repository"] == f"{{{{.IMAGE_REPO_{image}}}}}"
    assert f".IMAGE_TAG_{image}" in tpl["defaults.image.tag"]
    assert main["requires"] == [{"configs": ["malha-cluster"]}]


def test_profiles():
    cfgs = configs()
    main = {p["name"]: p for p in cfgs["malha"]["profiles"]}
    assert set(main) == {"dev", "linkerd", "istio"}
    for mesh in ("linkerd", "istio"):
        assert main[mesh]["patches"] == [
            {"op": "replace", "path": "/manifests/helm/releases/0/setValues/mesh", "value": mesh}]
        cluster = {p["name"]: p for p in cfgs["malha-cluster"]["profiles"]}
        (path,) = cluster[mesh]["manifests"]["kustomize"]["paths"]
        assert (ROOT / path / "kustomization.yaml").is_file()
    dev = main["dev"]
    (values,) = dev["patches"][0]["value"]
    dev_values = yaml.safe_load((ROOT / values).read_text())
    assert dev_values["postgresql"]["enabled"] and dev_values["defaults"]["replicas"] == 1
    (pf,) = dev["portForward"]
    release = cfgs["malha"]["manifests"]["helm"]["releases"][0]["name"]
    assert release == "malha" and pf["resourceName"] == name("edge")
    assert pf["port"] == yaml.safe_load((CHART / "values.yaml").read_text())["edge"]["service"]["port"]
