"""Output formats (``agent-slo generate --format``): each format's files for one spec equal
their reviewed copies under tests/golden/formats/, hold exactly the Prometheus format's rules,
and its Kubernetes objects pass the published schemas.

Set AGENT_SLO_UPDATE_GOLDEN=1 to rewrite the expected files; review the diff before committing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from kubeschemas import validate

from agent_slo.cli import main
from rulegen import pipeline, writer
from rulegen.artifacts import Artifacts, RuleFile
from rulegen.errors import GenerateError
from rulegen.formats import Target, kubernetes, render

TESTS = Path(__file__).parent
SPEC = TESTS / "golden" / "cases" / "outcomes-30d" / "spec.yaml"
PROMETHEUS_GOLDEN = SPEC.parent / "expected"
GOLDEN = TESTS / "golden" / "formats"
UPDATE = os.environ.get("AGENT_SLO_UPDATE_GOLDEN") == "1"

TARGETS = {
    "prometheus-operator": Target(
        "prometheus-operator", "monitoring", (("release", "kube-prometheus-stack"),)
    ),
    "mimir": Target("mimir"),
    "cortex": Target("cortex"),
    "thanos": Target("thanos"),
    "vmalert": Target("vmalert"),
}


def _files(target: Target) -> dict[str, str]:
    generated = pipeline.generate(pipeline.load([SPEC]), target)
    return {f.path: f.content for f in generated.files}


def _prometheus_rules() -> dict[str, dict[str, Any]]:
    """The Prometheus format's rule files, parsed, by stem."""
    return {
        path.name.removesuffix(".rules.yml"): yaml.safe_load(path.read_text())
        for path in sorted((PROMETHEUS_GOLDEN / "rules").glob("*.rules.yml"))
    }


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_format_golden(name: str) -> None:
    """Every file of the format matches its reviewed copy byte for byte (JSON dashboards,
    the same in every format, are compared with the Prometheus format's golden files)."""
    files = _files(TARGETS[name])
    dashboards = {
        p: c for p, c in files.items() if p.startswith("dashboards/") and p.endswith(".json")
    }
    others = [writer.OutputFile(p, c) for p, c in files.items() if p not in dashboards]
    if UPDATE:
        writer.write(GOLDEN / name, others)
    assert writer.check(GOLDEN / name, others) == []
    for path, content in dashboards.items():
        assert content == (PROMETHEUS_GOLDEN / path).read_text(), path


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_format_output_is_byte_stable(name: str) -> None:
    """Generating a format twice gives identical bytes."""
    assert _files(TARGETS[name]) == _files(TARGETS[name])


def test_the_default_format_is_todays_output() -> None:
    """The default target writes the Prometheus files it always wrote, byte for byte."""
    files = _files(Target())
    assert files == _files(Target("prometheus"))
    assert (
        writer.check(PROMETHEUS_GOLDEN, [writer.OutputFile(p, c) for p, c in files.items()]) == []
    )


def _rule_groups(name: str, files: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The rule file content of each stem, read back from a format's files."""
    out = {}
    for path, content in files.items():
        if name == "prometheus-operator" and path.startswith("prometheusrules/"):
            out[path.removeprefix("prometheusrules/").removesuffix(".yaml")] = yaml.safe_load(
                content
            )["spec"]
        elif path.startswith("rules/"):
            out[path.removeprefix("rules/").removesuffix(".rules.yml")] = yaml.safe_load(content)
    return out


@pytest.mark.parametrize("name", sorted(set(TARGETS) - {"vmalert"}))
def test_every_format_holds_the_prometheus_rules(name: str) -> None:
    """Each format carries every Prometheus rule file, its groups and rules unchanged; only
    what the ruler needs around them is added (Mimir's namespace, Thanos' partial response).
    vmalert's rises and short windows differ
    (test_vmalert_counts_from_tallies_not_from_this_evaluation)."""
    rules = _rule_groups(name, _files(TARGETS[name]))
    expected = _prometheus_rules()
    assert sorted(rules) == sorted(expected)
    for stem, content in rules.items():
        if name in ("mimir", "cortex"):
            assert content.pop("namespace") == stem
        if name == "thanos":
            for group in content["groups"]:
                assert group.pop("partial_response_strategy") == "abort"
        assert content == expected[stem], stem


def test_mimir_namespaces_are_unique_and_come_first() -> None:
    """Each Mimir/Cortex file names its own ruler namespace before its groups (mimirtool
    refuses a namespace loaded twice)."""
    files = _files(Target("mimir"))
    namespaces = [
        yaml.safe_load(c)["namespace"] for p, c in files.items() if p.startswith("rules/")
    ]
    assert len(namespaces) == len(set(namespaces)) == 3
    first = next(c for p, c in files.items() if p.startswith("rules/"))
    assert first.splitlines()[2].startswith("namespace: ")


def test_mimir_notes_the_ruler_limits_the_rules_need() -> None:
    """The mimir format says when a group holds more rules than Mimir's default limit."""
    generated = pipeline.generate(pipeline.load([SPEC]), Target("mimir"))
    (note,) = [n for n in generated.notes if n.startswith("mimir:")]
    biggest = max(
        len(g["rules"]) for content in _prometheus_rules().values() for g in content["groups"]
    )
    assert f"ruler_max_rules_per_rule_group of at least {biggest}" in note
    assert not [
        n
        for n in pipeline.generate(pipeline.load([SPEC]), Target("cortex")).notes
        if n.startswith("mimir:")
    ]


def test_vmalert_notes_what_its_tallies_need() -> None:
    """vmalert's windows count from tallies it records and reads back
    (tests/test_victoriametrics.py sees them count every run once): the format says once what
    the datasource must do for that, and no other format does."""
    generated = pipeline.generate(pipeline.load([SPEC]), Target("vmalert"))
    notes = [n for n in generated.notes if n.startswith("vmalert:")]
    assert len(notes) == 1
    assert "-search.latencyOffset=0s" in notes[0]
    others = pipeline.generate(pipeline.load([SPEC]), Target("thanos")).notes
    assert not [n for n in others if n.startswith("vmalert:")]


def _reads(series: str, expr: str) -> list[str]:
    """How ``expr`` reads ``series``: the function each selector is the argument of, and
    the range and offset after it."""
    return re.findall(rf"(\S*){re.escape(series)}\{{[^}}]*\}}(\[[^\]]*\](?: offset \w+)?)?", expr)


def test_vmalert_counts_from_tallies_not_from_this_evaluation() -> None:
    """In the vmalert format no rule reads a series its group records in the same
    evaluation: each rise becomes a tally (per target, a running count, the sums it counted
    up to and since when) computed from the raw counters (the counter rule's expression) and
    the tallies recorded before now; each window up to an hour computes this evaluation's
    tallies the same way, and reads recorded tallies only as they were before now or over
    the window. Every other rule is Prometheus' own."""
    prometheus = _prometheus_rules()
    vmalert = {
        path.removeprefix("rules/").removesuffix(".rules.yml"): yaml.safe_load(content)
        for path, content in _files(TARGETS["vmalert"]).items()
        if path.startswith("rules/")
    }
    assert vmalert.keys() == prometheus.keys()
    tallies = windows = 0
    for stem, content in vmalert.items():
        for group, prom_group in zip(content["groups"], prometheus[stem]["groups"], strict=True):
            exprs = {r["record"]: r["expr"] for r in prom_group["rules"] if "record" in r}
            assert {k: v for k, v in group.items() if k != "rules"} == {
                k: v for k, v in prom_group.items() if k != "rules"
            }
            for rule, prom_rule in zip(group["rules"], prom_group["rules"], strict=True):
                record = rule.get("record", "")
                uses_rises = ":rise{" in prom_rule["expr"]
                if record.endswith(":tally"):
                    kind = record.removeprefix("slo:").removesuffix(":tally")
                    assert prom_rule["record"] == f"slo:{kind}:rise"
                    assert rule["labels"] == prom_rule["labels"]
                    tallies += 1
                elif uses_rises:
                    assert {k: v for k, v in rule.items() if k != "expr"} == {
                        k: v for k, v in prom_rule.items() if k != "expr"
                    }
                    windows += 1
                else:
                    assert rule == prom_rule
                    continue
                assert rule["expr"].startswith("WITH (\n")
                assert ":rise{" not in rule["expr"]
                for kind in ("events", "bad_events", "good_events"):
                    counter = f"slo:{kind}:counter"
                    if f"\n  {kind}_sums = " in rule["expr"]:
                        assert f"\n  {kind}_sums = label_set({exprs[counter]}, " in rule["expr"]
                    for series in (counter, f"slo:{kind}:tally"):
                        for function, window in _reads(series, rule["expr"]):
                            assert function.endswith("last_over_time("), (record, series)
                            if window.endswith(" offset 1ms"):
                                continue  # the latest before this evaluation
                            # a window's tallies: over it, or at its start
                            assert record.startswith("slo:") and ":increase" in record, record
                            assert window in ("[5m]", "[30m]", "[1h]") or window.startswith(
                                "[1h] offset "
                            ), (record, series, window)
    assert tallies > 0
    assert windows > 0


def test_headers_name_the_command_that_regenerates() -> None:
    """Every YAML file says how to regenerate it, format and Kubernetes options included."""
    for name, target in TARGETS.items():
        command = f"agent-slo generate --format {name}"
        if name == "prometheus-operator":
            command += " --namespace monitoring --label release=kube-prometheus-stack"
        for path, content in _files(target).items():
            if path.endswith((".yml", ".yaml")):
                assert f"`{command}`" in content.splitlines()[1], path


def _kubernetes_objects(files: dict[str, str]) -> list[dict[str, Any]]:
    return [
        yaml.safe_load(content)
        for path, content in sorted(files.items())
        if path.endswith(".yaml") and path != "kustomization.yaml"
    ]


def test_operator_objects_pass_the_published_schemas() -> None:
    """Every PrometheusRule passes the Prometheus Operator's CRD schema and every dashboard
    ConfigMap the core v1 schema (validated by Node with @kubernetes-models)."""
    objects = _kubernetes_objects(_files(TARGETS["prometheus-operator"]))
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == ["ConfigMap"] * 2 + ["PrometheusRule"] * 3
    lines = validate(objects)
    assert all(line.startswith("ok ") for line in lines)


def test_an_invalid_object_fails_validation() -> None:
    """The schema check is real: a rule group with a malformed interval is refused."""
    (rule, *_) = [
        o
        for o in _kubernetes_objects(_files(TARGETS["prometheus-operator"]))
        if o["kind"] == "PrometheusRule"
    ]
    rule["spec"]["groups"][0]["interval"] = "five minutes"
    with pytest.raises(AssertionError, match="interval must match pattern"):
        validate([rule])


def test_operator_objects_carry_namespace_and_labels() -> None:
    """Names, namespace and labels of the PrometheusRules and dashboard ConfigMaps."""
    objects = _kubernetes_objects(_files(TARGETS["prometheus-operator"]))
    by_name = {o["metadata"]["name"]: o for o in objects}
    assert sorted(by_name) == [
        "agent-slo-dashboard-overview",
        "agent-slo-dashboard-support-triage",
        "agent-slo-support-triage-zero-tolerance",
        "agent-slo-triage-escalation-miss",
        "agent-slo-triage-success",
    ]
    for obj in objects:
        meta = obj["metadata"]
        assert meta["namespace"] == "monitoring"
        assert meta["labels"]["release"] == "kube-prometheus-stack"
        assert meta["labels"]["app.kubernetes.io/part-of"] == "agent-slo"
        assert ("grafana_dashboard" in meta["labels"]) == (obj["kind"] == "ConfigMap")
    board = by_name["agent-slo-dashboard-support-triage"]
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    (key,) = board["data"]
    assert key == "agent-slo-support-triage.json"
    assert board["data"][key] == (PROMETHEUS_GOLDEN / "dashboards" / key).read_text()
    json.loads(board["data"][key])


def test_kustomization_lists_every_object() -> None:
    """kustomization.yaml lists each object file of the output, and nothing else."""
    files = _files(TARGETS["prometheus-operator"])
    kustomization = yaml.safe_load(files["kustomization.yaml"])
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["resources"] == sorted(
        p for p in files if p.endswith(".yaml") and p != "kustomization.yaml"
    )


def test_dashboards_as_configmaps_in_another_format() -> None:
    """--dashboards-configmaps works beside any format's rules; the operator format can
    write JSON dashboards instead."""
    files = _files(Target("thanos", dashboards_configmaps=True))
    assert sorted(p for p in files if p.startswith("dashboards/")) == [
        "dashboards/agent-slo-overview.yaml",
        "dashboards/agent-slo-support-triage.yaml",
    ]
    assert yaml.safe_load(files["kustomization.yaml"])["resources"] == [
        "dashboards/agent-slo-overview.yaml",
        "dashboards/agent-slo-support-triage.yaml",
    ]
    operator_json = _files(Target("prometheus-operator", dashboards_configmaps=False))
    assert "dashboards/agent-slo-overview.json" in operator_json
    assert "--dashboards-json" in operator_json["prometheusrules/triage-success.yaml"]


def test_object_names_that_collide_are_an_error() -> None:
    """Two stems that become one Kubernetes name are refused, naming both."""
    content: dict[str, Any] = {"groups": []}
    artifacts = Artifacts(
        [(RuleFile("a_b", "x", content), None), (RuleFile("a-b", "x", content), None)], [], []
    )
    with pytest.raises(GenerateError, match="'a_b' and 'a-b' both become 'agent-slo-a-b'"):
        render(artifacts, Target("prometheus-operator"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"format": "nagios"}, "unknown format"),
        ({"format": "mimir", "namespace": "monitoring"}, "Kubernetes objects"),
        ({"format": "prometheus", "labels": (("a", "b"),)}, "Kubernetes objects"),
        ({"format": "prometheus-operator", "namespace": "Monitoring"}, "namespace name"),
        ({"format": "prometheus-operator", "labels": (("bad key", "x"),)}, "the name must"),
        ({"format": "prometheus-operator", "labels": (("a", "b c"),)}, "the value must"),
        ({"format": "prometheus-operator", "labels": (("a", "1"), ("a", "2"))}, "more than once"),
        ({"format": "prometheus-operator", "labels": (("grafana_dashboard", "0"),)}, "set by"),
    ],
)
def test_bad_targets_are_refused(kwargs: dict[str, Any], message: str) -> None:
    """Unknown formats, bad Kubernetes names and labels, and Kubernetes options without
    Kubernetes objects raise ValueError with the reason."""
    with pytest.raises(ValueError, match=message):
        Target(**kwargs)


def test_cli_writes_and_checks_a_format(tmp_path: Path) -> None:
    """`generate --format ... --namespace --label` writes the golden files; --check agrees;
    a stale file names the command to run."""
    out = tmp_path / "out"
    args = ["generate", str(SPEC), "-o", str(out), "--format", "prometheus-operator"]
    args += ["--namespace", "monitoring", "--label", "release=kube-prometheus-stack"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    for path in sorted((GOLDEN / "prometheus-operator").rglob("*.yaml")):
        rel = path.relative_to(GOLDEN / "prometheus-operator")
        assert (out / rel).read_text() == path.read_text(), rel
    assert CliRunner().invoke(main, [*args, "--check"]).exit_code == 0
    (out / "kustomization.yaml").write_text("# " + writer.HEADER_MARK + "\n")
    stale = CliRunner().invoke(main, [*args, "--check"])
    assert stale.exit_code == 1
    assert (
        "run `agent-slo generate --format prometheus-operator --namespace monitoring "
        "--label release=kube-prometheus-stack`" in stale.output
    )


def test_cli_default_output_folder_is_per_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without -o a format other than prometheus writes to generated-<format>/, so it never
    replaces the Prometheus output in generated/."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["generate", str(SPEC), "--format", "thanos"])
    assert result.exit_code == 0, result.output
    assert "generated-thanos" in result.output
    assert (tmp_path / "generated-thanos/rules/triage-success.rules.yml").is_file()
    assert not (tmp_path / "generated").exists()


@pytest.mark.parametrize(
    "extra",
    [
        ["--format", "mimir", "--namespace", "monitoring"],
        ["--format", "prometheus-operator", "--label", "novalue"],
        ["--format", "prometheus-operator", "--namespace", "Not_A_Name"],
        ["--format", "graphite"],
    ],
)
def test_cli_usage_errors(extra: list[str], tmp_path: Path) -> None:
    """Bad format options are usage errors (exit 2) and nothing is written."""
    result = CliRunner().invoke(main, ["generate", str(SPEC), "-o", str(tmp_path / "o"), *extra])
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "o").exists()


def test_kubernetes_object_names() -> None:
    """File stems become Kubernetes names: lower case, '_' as '-'."""
    assert kubernetes.object_name("Support_Triage.v2") == "support-triage.v2"


def test_operator_rule_specs_pass_promtool(tmp_path: Path, promtool: str) -> None:
    """The groups inside every PrometheusRule are a rule file promtool accepts."""
    objects = _kubernetes_objects(_files(TARGETS["prometheus-operator"]))
    paths = []
    for obj in objects:
        if obj["kind"] == "PrometheusRule":
            path = tmp_path / f"{obj['metadata']['name']}.rules.yml"
            path.write_text(yaml.safe_dump(obj["spec"]))
            paths.append(str(path))
    assert len(paths) == 3
    result = subprocess.run(
        [promtool, "check", "rules", *paths], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_vmalert_refuses_a_rule_left_reading_a_rise() -> None:
    """A rule that reads a rise in a form the vmalert format does not rewrite would read
    nothing there (no tally records a rise): the format refuses to write it."""
    from rulegen.formats import vmalert  # noqa: PLC0415 - its private group rewrite

    group = {
        "name": "agent-slo-x",
        "rules": [{"record": "slo:x", "expr": 'rate(slo:events:rise{slo="x"}[5m])'}],
    }
    with pytest.raises(ValueError, match="rule slo:x of group agent-slo-x reads a rise"):
        vmalert._group(group)


def test_vmalert_refuses_a_window_of_another_slos_rises() -> None:
    """A window reads the rises of its own SLO (the SLO of its labels): one that reads
    another's is refused rather than counted from the wrong tally."""
    from rulegen.formats import vmalert  # noqa: PLC0415 - its private group rewrite

    window = {
        "record": "slo:events:increase5m",
        "expr": 'sum_over_time(slo:events:rise{slo="y"}[4m59s999ms])',
        "labels": {"slo": "x", "workflow": "w"},
    }
    with pytest.raises(ValueError, match="slo:events:increase5m of SLO x reads y's rise"):
        vmalert._group({"name": "agent-slo-x", "rules": [window]})
