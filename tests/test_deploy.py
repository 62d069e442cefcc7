"""Deployment: the Kustomize base in deploy/kubernetes/ renders offline with `kubectl
kustomize`, every object passes its published schema, its generated objects are what
`agent-slo generate --format prometheus-operator` writes, and the container image's default
command never opens writes to anyone."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from kubeschemas import load_objects, validate

from agent_slo.cli import main
from rulegen import pipeline, writer
from rulegen.formats import Target

REPO = Path(__file__).resolve().parent.parent
BASE = REPO / "deploy" / "kubernetes"
DOCKERFILE = REPO / "Dockerfile"


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    """The base as `kubectl kustomize` renders it."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not on PATH: the deployment test renders the base with it")
    result = subprocess.run(
        [kubectl, "kustomize", str(BASE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return load_objects(result.stdout)


def _one(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    return found


def test_every_rendered_object_passes_its_schema(rendered: list[dict[str, Any]]) -> None:
    """StatefulSet, Services and ConfigMaps pass the Kubernetes schemas, the PodMonitor and
    the PrometheusRules the Prometheus Operator's (validated by Node with @kubernetes-models)."""
    kinds = {o["kind"] for o in rendered}
    assert kinds == {"ConfigMap", "PodMonitor", "PrometheusRule", "Service", "StatefulSet"}
    lines = validate(rendered)
    assert len(lines) == len(rendered)
    assert all(o["metadata"]["namespace"] == "agent-slo" for o in rendered)


def test_generated_objects_are_up_to_date() -> None:
    """deploy/kubernetes/generated/ is what `generate --format prometheus-operator` writes
    for the base's specs (run it after changing them)."""
    generated = pipeline.generate(pipeline.load([BASE / "specs"]), Target("prometheus-operator"))
    assert writer.check(BASE / "generated", generated.files) == []


def test_the_base_specs_are_the_example_specs() -> None:
    """The base ships slo-specs/ as they are (Kustomize reads files only inside the base)."""
    ours = {p.name: p.read_bytes() for p in sorted((BASE / "specs").glob("*.yaml"))}
    theirs = {p.name: p.read_bytes() for p in sorted((REPO / "slo-specs").glob("*.yaml"))}
    assert ours == theirs


def test_every_spec_and_generated_object_is_rendered(rendered: list[dict[str, Any]]) -> None:
    """The specs ConfigMap holds every spec file; every generated PrometheusRule and
    dashboard ConfigMap is in the rendered base."""
    specs = next(o for o in rendered if o["metadata"]["name"].startswith("agent-slo-specs-"))
    assert sorted(specs["data"]) == sorted(p.name for p in (BASE / "specs").glob("*.yaml"))
    rules = {o["metadata"]["name"] for o in rendered if o["kind"] == "PrometheusRule"}
    files = sorted((BASE / "generated" / "prometheusrules").glob("*.yaml"))
    assert len(rules) == len(files) > 0
    boards = [o for o in rendered if o["metadata"].get("labels", {}).get("grafana_dashboard")]
    assert len(boards) == len(list((BASE / "generated" / "dashboards").glob("*.yaml")))


def test_the_exporter_is_a_stateful_token_guarded_service(rendered: list[dict[str, Any]]) -> None:
    """One SQLite volume per replica, fsGroup, probes on /healthz and /readyz, resources,
    non-root, and writes only with a token from the Secret."""
    sts = _one(rendered, "StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["fsGroup"] == 10001
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    args = container["args"]
    assert "--tokens-file=/etc/agent-slo/secrets/tokens" in args
    assert "--insecure-open-writes" not in args
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == "/var/lib/agent-slo"
    assert "--state=/var/lib/agent-slo/state.db" in args
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["tokens"]["secret"]["secretName"] == "agent-slo-tokens"
    assert mounts["tokens"] == "/etc/agent-slo/secrets"
    assert volumes["specs"]["configMap"]["name"].startswith("agent-slo-specs-")
    assert pod["terminationGracePeriodSeconds"] > 15  # the exporter's --drain-timeout


def test_every_replica_is_scraped_under_its_pod_name(rendered: list[dict[str, Any]]) -> None:
    """The PodMonitor selects the exporter's pods on the named port and sets `instance` to
    the pod's name, which a StatefulSet keeps across restarts with its state."""
    monitor = _one(rendered, "PodMonitor")
    sts = _one(rendered, "StatefulSet")
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    assert endpoint["port"] in {p["name"] for p in container["ports"]}
    assert {"sourceLabels": ["__meta_kubernetes_pod_name"], "targetLabel": "instance"} in (
        endpoint["relabelings"]
    )
    service = _one(rendered, "Service", "agent-slo")
    assert service["spec"]["selector"].items() <= labels.items()
    assert sts["spec"]["serviceName"] == "agent-slo-headless"


def test_specs_mounted_from_a_configmap_load_once(tmp_path: Path) -> None:
    """A ConfigMap mounted as a folder holds each file twice (the visible link and the
    hidden `..data` folder it points into); the specs load once each."""
    stamp = tmp_path / "specs" / "..2026_12_01_00_00_00.1"
    stamp.mkdir(parents=True)
    for spec in sorted((BASE / "specs").glob("*.yaml")):
        shutil.copy(spec, stamp / spec.name)
    (tmp_path / "specs" / "..data").symlink_to(stamp.name)
    for spec in sorted(stamp.glob("*.yaml")):
        (tmp_path / "specs" / spec.name).symlink_to(Path("..data") / spec.name)
    workflows = pipeline.load([tmp_path / "specs"])
    assert len(workflows) == len(list(stamp.glob("*.yaml")))


# -- the container image ----------------------------------------------------------------


def _dockerfile_command() -> list[str]:
    """The image's ENTRYPOINT and CMD, as the exec form gives them."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    entrypoint = re.search(r"^ENTRYPOINT (\[.*\])$", text, re.M)
    cmd = re.search(r"^CMD (\[.*\])$", text, re.M)
    assert entrypoint and cmd
    return [*json.loads(entrypoint.group(1)), *json.loads(cmd.group(1))]


def test_the_image_requires_a_tokens_file() -> None:
    """The default command listens wide only with a tokens file, never with open writes."""
    command = _dockerfile_command()
    assert command[:2] == ["agent-slo", "serve"]
    assert "--listen-wide" in command
    assert command[command.index("--tokens-file") + 1] == "/etc/agent-slo/secrets/tokens"
    assert "--insecure-open-writes" not in command


def _run_image_command(tmp_path: Path, tokens: str | None) -> Any:
    """The image's command, its paths moved under ``tmp_path``, on the example specs."""
    args = _dockerfile_command()[1:]
    moved = {
        "/etc/agent-slo/specs": str(REPO / "slo-specs"),
        "/var/lib/agent-slo/state.db": str(tmp_path / "state.db"),
        "/etc/agent-slo/secrets/tokens": str(tmp_path / "tokens"),
    }
    if tokens is not None:
        (tmp_path / "tokens").write_text(tokens)
    return CliRunner().invoke(main, [moved.get(a, a) for a in args])


def test_the_image_command_refuses_to_start_without_a_tokens_file(tmp_path: Path) -> None:
    """Without the mounted tokens file the command is a usage error (exit 2), before
    anything listens; with a file holding no token it fails too (exit 1)."""
    missing = _run_image_command(tmp_path, None)
    assert missing.exit_code == 2
    assert "tokens" in missing.output and "does not exist" in missing.output
    empty = _run_image_command(tmp_path, "# no token yet\n")
    assert empty.exit_code == 1
    assert "holds no token" in empty.output
    assert not (tmp_path / "state.db").exists()


def test_the_image_base_is_pinned_by_digest() -> None:
    """Both stages build FROM one python:3.11-slim image pinned by its index digest."""
    text = DOCKERFILE.read_text()
    (image,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", image)
    assert re.findall(r"^FROM (\S+)", text, re.M) == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]


def test_kustomization_names_every_base_file() -> None:
    """Every manifest beside kustomization.yaml is one of its resources, and every spec is
    in its configMapGenerator."""
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    manifests = sorted(p.name for p in BASE.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(r for r in kustomization["resources"] if r.endswith(".yaml")) == manifests
    (specs,) = kustomization["configMapGenerator"]
    assert specs["files"] == sorted(f"specs/{p.name}" for p in (BASE / "specs").glob("*.yaml"))
