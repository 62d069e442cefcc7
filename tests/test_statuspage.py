"""The status page on the shared test site (:mod:`statuspage_env`: a real Prometheus
scraping the exporter and evaluating the generated rules, with known counts), and apart
from it where a test needs figures of its own.

The page is asked as of one moment, and the recorded series are queried separately at that
same moment, so that the two must agree figure for figure.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from click.testing import CliRunner
from harness import process, wait_http
from realprom import Prometheus, free_port, running_prometheus

from agent_slo.cli import main
from decisions import gate
from rulegen.resolve import load
from statuspage.app import StatusPage
from statuspage.overview import Catalog
from statuspage.server import make_server

if TYPE_CHECKING:  # imported by pytest as a plugin, before any import here
    from statuspage_env import Site

#: The site's fixture, registered once for every test file that names it here (a session
#: fixture in one module: one Prometheus for both files).
pytest_plugins = ["statuspage_env"]


def _get(page: StatusPage, target: str, auth: str | None = None) -> tuple[int, str]:
    response = page.respond(target, auth)
    return response.status, response.body.decode()


def _json(page: StatusPage, target: str) -> Any:
    status, body = _get(page, target)
    assert status == 200, body
    return json.loads(body)


def _recorded(prom: Prometheus, expr: str, at: float) -> float | None:
    """One recorded value, read apart from the page."""
    result = prom.query(expr, at)
    assert len(result) <= 1, result
    return float(result[0]["value"][1]) if result else None


def _alerts(prom: Prometheus, slo: str, at: float) -> set[tuple[str, str, str]]:
    """(alert name, state, long window or policy) of every alert of ``slo`` at ``at``."""
    return {
        (
            a["metric"]["alertname"],
            a["metric"]["alertstate"],
            a["metric"].get("long_window") or a["metric"].get("policy", ""),
        )
        for a in prom.query(f'ALERTS{{slo="{slo}"}}', at)
    }


def test_the_overview_figures_are_the_recorded_series(site: Site) -> None:
    """Every figure of triage-quality on /api/overview is the recorded series at the same
    moment, and the counts worked out by hand; the status and action are its policy's."""
    at = time.time()
    rows = {r["slo"]: r for r in _json(site.page(at), "/api/overview")["slos"]}
    row = rows["triage-quality"]
    prom = site.prom

    def recorded(name: str) -> float | None:
        return _recorded(prom, f'{name}{{slo="triage-quality"}}', at)

    assert (row["runs"], row["failures"]) == (43, 13)
    assert row["runs"] == recorded("slo:period_events:increase")
    assert row["failures"] == recorded("slo:period_bad_events:increase")
    assert row["recorded_objective"] == recorded("slo:objective:ratio") == pytest.approx(0.9)
    assert row["objective"] == pytest.approx(0.9)
    assert row["allowed_failures"] == recorded("slo:period_allowed_bad_events:count")
    assert row["allowed_failures"] == pytest.approx(4.3)
    assert row["budget_remaining"] == recorded("slo:period_error_budget_remaining:ratio")
    assert row["budget_remaining"] == pytest.approx(1 - 13 / 4.3)
    assert row["burn_rate"] == recorded("slo:current_burn_rate:ratio")
    assert row["runs_left"] == pytest.approx(4.3 - 13)
    assert row["sli"] == pytest.approx(30 / 43)
    assert (row["status"], row["action"]) == ("tighten", "Tighten the prompts.")
    assert row["past_threshold"] is True
    shown = {(a["name"], a["state"], a["detail"].partition("/")[0]) for a in row["alerts"]}
    assert shown == _alerts(prom, "triage-quality", at)
    assert row["firing"] == len(
        [a for a in _alerts(prom, "triage-quality", at) if a[1] == "firing"]
    )
    assert row["firing"] >= 1  # the spent budget at least
    assert (row["days_in_budget"], row["grants_earned"], row["grants"]) == (0, 0, 1)
    assert (row["team"], row["tier"], row["period"]) == ("support", "medium", "30d")
    assert row["runbook_url"] == "https://runbooks.example.com/triage"
    assert row["dashboard_url"] == "https://grafana.example.com/d/triage"


def test_the_overview_puts_the_worst_first_and_says_what_is_missing(site: Site) -> None:
    """A threshold passed first; the SLO without runs says "no data yet" and the one whose
    rules Prometheus lacks says "rules not loaded", with no figure shown as 0."""
    at = time.time()
    slos = _json(site.page(at), "/api/overview")["slos"]
    assert [(r["slo"], r["status"]) for r in slos] == [
        ("triage-quality", "tighten"),
        ("idle-success", "no_data"),
        ("unloaded-success", "rules_not_loaded"),
    ]
    idle, unloaded = slos[1], slos[2]
    assert idle["runs"] == 0 and idle["budget_remaining"] == 1
    assert idle["sli"] is None
    for field in ("runs", "failures", "sli", "budget_remaining", "runs_left", "burn_rate"):
        assert unloaded[field] is None, field
    assert unloaded["days_in_budget"] is None
    status, html = _get(site.page(at), "/")
    assert status == 200
    row = html.split('id="row-triage-quality"', 1)[1].split("</tr>", 1)[0]
    assert '<td class="num" data-field="sli"' in row and "69.77%" in row
    assert "-202.3%" in row  # budget left
    assert "-8.7 of 4.3" in row  # runs left of the allowed failures
    assert "TIGHTEN" in row and "Tighten the prompts." in row
    assert 'href="https://runbooks.example.com/triage"' in row
    idle_row = html.split('id="row-idle-success"', 1)[1].split("</tr>", 1)[0]
    assert "no data yet" in idle_row and "NO DATA" in idle_row
    unloaded_row = html.split('id="row-unloaded-success"', 1)[1].split("</tr>", 1)[0]
    assert "rules not loaded" in unloaded_row
    assert "0.0%" not in unloaded_row and "0.00%" not in unloaded_row


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("team=ops", ["idle-success", "unloaded-success"]),
        ("tier=medium", ["triage-quality"]),
        ("status=no_data", ["idle-success"]),
        ("q=RULES+ARE+NOT", ["unloaded-success"]),  # the description, any case
        ("q=triage&team=ops", []),
    ],
)
def test_filters_and_search(site: Site, query: str, expected: list[str]) -> None:
    """Team, tier, status and the search box, on the JSON and on the page without script:
    the rows not chosen are hidden, the count says how many are shown."""
    page = site.page(time.time())
    assert [r["slo"] for r in _json(page, f"/api/overview?{query}")["slos"]] == expected
    status, html = _get(page, f"/?{query}")
    assert status == 200
    for slo in ("triage-quality", "idle-success", "unloaded-success"):
        tag = html.split(f'id="row-{slo}"', 1)[1].split(">", 1)[0]
        assert ("hidden" not in tag) == (slo in expected), slo
    assert f"{len(expected)} shown" in html


def test_the_slo_page_figures_are_the_recorded_series(site: Site) -> None:
    """The SLO page: the report's figures, each window's error ratio as recorded, each tier's
    threshold in force (worked out by hand) and alert state as in ALERTS, the policy bands,
    the schedule, the autonomy ladder and the breakdown with its verdicts."""
    at = time.time()
    d = _json(site.page(at), "/api/slo/triage-quality")
    prom = site.prom
    report = d["report"]
    assert (report["runs"], report["failures"], report["status"]) == (43, 13, "tighten")
    assert report["budget_remaining"] == _recorded(
        prom, 'slo:period_error_budget_remaining:ratio{slo="triage-quality"}', at
    )
    for window in d["windows"]:
        expr = f'slo:sli_error:ratio_rate{window["window"]}{{slo="triage-quality"}}'
        assert window["error_ratio"] == _recorded(prom, expr, at), window["window"]
    assert [w["window"] for w in d["windows"]] == ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]
    assert d["windows"][-1]["error_ratio"] == pytest.approx(13 / 43)
    # 30d at 90%: factors 14.4, 6, 3, 1 times a 10% budget; 1.44 needs more than every run
    # to fail, so the fast page fires at the 90% cap, which is a 9x burn.
    tiers = {t["name"]: t for t in d["tiers"]}
    assert {n: (t["threshold"], t["factor"], t["adapted"]) for n, t in tiers.items()} == {
        "page_fast": (pytest.approx(0.9), 9, True),
        "page_slow": (pytest.approx(0.6), 6, False),
        "ticket_fast": (pytest.approx(0.3), 3, False),
        "ticket_slow": (pytest.approx(0.1), 1, False),
    }
    firing = {w for name, state, w in _alerts(prom, "triage-quality", at) if state == "firing"}
    pending = {w for name, state, w in _alerts(prom, "triage-quality", at) if state == "pending"}
    for tier in d["tiers"]:
        expected = (
            "firing"
            if tier["long_window"] in firing
            else "pending"
            if tier["long_window"] in pending
            else "inactive"
        )
        assert tier["state"] == expected, tier["name"]
    assert tiers["page_fast"]["state"] == "inactive"  # 30% errors stay under 90%
    assert [(p["name"], p["from"], p["until"], p["current"]) for p in d["policies"]] == [
        ("tighten", 0.2, 0.5, True),
        ("stop", 0.5, None, False),
    ]
    assert d["schedule"] == [
        {"objective": 0.9, "when": "until 2030-01-01", "current": True},
        {"objective": 0.95, "when": "from 2030-01-01", "current": False},
    ]
    assert report["autonomy"]["days_in_budget"] == 0
    assert report["autonomy"]["ended_by"]["kind"] == "budget_spent"
    rows = {
        b["value"]: (b["runs"], b["failures"], b["status"]) for b in report["breakdowns"]["task"]
    }
    assert rows == {
        "a": (20, 12, "stop"),
        "b": (20, 1, "within_budget"),
        "c": (3, 0, "not_enough_runs"),
    }
    assert d["budget_history"]["points"][-1][1] == pytest.approx(1 - 13 / 4.3)
    status, html = _get(site.page(at), "/slo/triage-quality")
    assert status == 200
    assert '<dd data-field="runs">43</dd>' in html
    assert '<dd data-field="budget_remaining">-202.3%</dd>' in html
    assert '<dd data-field="allowed">4.30</dd>' in html
    assert html.count('<svg class="chart"') == 1 + len(d["tiers"])
    assert 'data-value="a"' in html and "STOP" in html


def test_empty_slo_pages_say_why(site: Site) -> None:
    """An SLO without runs says "no data yet", one without rules "rules not loaded"; neither
    shows a 0 for a figure nobody recorded."""
    at = time.time()
    status, idle = _get(site.page(at), "/slo/idle-success")
    assert status == 200
    assert 'id="no-data"' in idle and 'id="rules-not-loaded"' not in idle
    assert '<dd data-field="runs">no data yet</dd>' in idle
    status, unloaded = _get(site.page(at), "/slo/unloaded-success")
    assert status == 200
    assert 'id="rules-not-loaded"' in unloaded
    assert "RULES NOT LOADED" in unloaded
    assert unloaded.count("rules not loaded</span>") == 8  # every window
    assert '<svg class="chart"' not in unloaded
    d = _json(site.page(at), "/api/slo/unloaded-success")
    assert d["rules_loaded"] is False
    assert [w["error_ratio"] for w in d["windows"]] == [None] * 8


def test_the_canary_form_runs_the_gates_test(site: Site) -> None:
    """Task a (12 of 20 bad) against the rest (1 of 23): the gate's one-sided Fisher test
    denies it, the page giving the gate's own verdict and figures (its counts are
    increase() over the window, extrapolated, as the gate says); a matcher that is not one
    is refused with the field named."""
    at = time.time()
    page = site.page(at)
    d = _json(page, "/api/slo/triage-quality?canary=task%3D%22a%22&window=1h&min_runs=10")
    verdict = d["canary_verdict"]
    assert verdict["verdict"] == "deny"
    assert any('the canary (task="a") is worse' in r for r in verdict["reasons"]), verdict
    spec = gate.CanarySpec('task="a"', "1h", 10)
    expected = gate.decide(
        site.prom, site.catalog.by_name["triage-quality"].slo, 0.0, None, spec, at=at
    )
    assert (verdict["reasons"], verdict["figures"]) == (expected.reasons, expected.figures)
    canary, baseline = verdict["figures"]["canary"], verdict["figures"]["baseline"]
    assert canary["bad"] / canary["runs"] > 0.5
    assert baseline["bad"] / baseline["runs"] < 0.1
    status, html = _get(page, "/slo/triage-quality?canary=task%3D%22a%22&min_runs=10")
    assert status == 200 and 'id="canary-verdict"' in html
    status, html = _get(page, "/slo/triage-quality?canary=task")
    assert status == 400
    assert 'id="canary-error"' in html and "is not one label matcher" in html


def test_prometheus_unreachable_is_said_not_drawn_as_zero(site: Site) -> None:
    """With Prometheus gone, the page answers 502 and says so; the JSON carries the error."""
    gone = StatusPage(Prometheus(f"http://127.0.0.1:{free_port()}", timeout=2), site.catalog)
    status, html = _get(gone, "/")
    assert status == 502 and "Prometheus could not be read" in html
    status, body = _get(gone, "/api/slo/triage-quality")
    assert status == 502 and "cannot query Prometheus" in json.loads(body)["error"]
    status, _ = _get(gone, "/api/slo/nowhere")
    assert status == 404


def _http(
    url: str, headers: dict[str, str] | None = None, data: bytes | None = None
) -> tuple[int, dict[str, str], str]:
    """Status, headers and body of a GET (a POST with ``data``), refusals included."""
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read().decode()


def test_the_ui_command_behind_a_path_prefix_with_credentials(site: Site, tmp_path: Path) -> None:
    """`agent-slo ui --base-path /slo` answers under /slo only, every link carries the
    prefix; without credentials 401; basic auth sees every SLO, a token limited to the idle
    workflow its SLO alone; /healthz needs none; writes are refused; the page allows no
    fetch from elsewhere."""
    tokens = tmp_path / "tokens"
    tokens.write_text("# readers\nidle-reader idle\n")
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "agent-slo"), "ui", "--specs", str(site.spec),
        "--prometheus", site.prom.url, "--port", str(port), "--base-path", "/slo",
        "--tokens-file", str(tokens), "--basic-auth", "lead:s3cret",
    ]  # fmt: skip
    root = f"http://127.0.0.1:{port}"
    basic = {"Authorization": "Basic " + base64.b64encode(b"lead:s3cret").decode()}
    with process(command, tmp_path / "ui.log"):
        wait_http(f"{root}/slo/healthz")
        status, headers, _ = _http(f"{root}/slo/")
        assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
        status, _, _ = _http(f"{root}/slo/", {"Authorization": "Basic bGVhZDp3cm9uZw=="})
        assert status == 401
        status, headers, html = _http(f"{root}/slo/", basic)
        assert status == 200
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        assert 'href="/slo/static/style.css"' in html
        assert 'href="/slo/slo/triage-quality"' in html
        assert "http://" not in html.split("<body>")[0]  # nothing fetched from elsewhere
        status, _, body = _http(f"{root}/slo/api/overview", {"Authorization": "Bearer idle-reader"})
        assert [r["slo"] for r in json.loads(body)["slos"]] == ["idle-success"]
        status, _, _ = _http(
            f"{root}/slo/slo/triage-quality", {"Authorization": "Bearer idle-reader"}
        )
        assert status == 404
        status, _, _ = _http(f"{root}/slo/slo/triage-quality", basic)
        assert status == 200
        status, headers, _ = _http(f"{root}/slo/static/style.css", basic)
        assert status == 200 and headers["Content-Type"].startswith("text/css")
        status, _, _ = _http(f"{root}/", basic)
        assert status == 404  # outside the prefix
        status, headers, _ = _http(f"{root}/slo", basic)
        assert status == 200  # redirected to /slo/
        status, headers, _ = _http(f"{root}/slo/", basic, data=b"x")
        assert (status, headers["Allow"]) == (405, "GET, HEAD")


def test_the_overview_is_computed_once_within_the_cache_time(site: Site) -> None:
    """With --cache-seconds, loads (filters included) within that time show the overview
    computed first, as of its own moment; without, every load is computed anew."""
    now = time.time()
    for seconds, expected in ((3600.0, [now, now]), (0.0, [now, now + 1])):
        moments = iter([now, now + 1])
        page = StatusPage(
            site.prom, site.catalog, clock=lambda m=moments: next(m), cache_seconds=seconds
        )
        first = _json(page, "/api/overview")
        second = _json(page, "/api/overview?team=ops")
        assert [first["at"], second["at"]] == expected, seconds
        assert [r["slo"] for r in second["slos"]] == ["idle-success", "unloaded-success"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--host", "0.0.0.0"], 2, "listens beyond this machine: add --listen-wide"),  # noqa: S104
        (["--basic-auth", "lead"], 2, "expected USER:PASSWORD"),
        (["--base-path", "slo"], 2, "expected a path starting with /"),
        (["--tokens-file", "{comments}"], 1, "holds no token"),
        (["--specs", "{invalid}"], 1, "the status page did not start"),
    ],
)
def test_the_ui_command_refuses_before_it_listens(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    """A wide address without --listen-wide, a malformed password pair or prefix (usage
    errors, 2), a tokens file without a token or invalid specs (1): refused, nothing served."""
    (tmp_path / "spec.yaml").write_text(NAN_SPEC)
    (tmp_path / "comments").write_text("# nobody yet\n\n")
    (tmp_path / "invalid.yaml").write_text("apiVersion: agent-slo/v1\nworkflow: x\n")
    paths = {"comments": tmp_path / "comments", "invalid": tmp_path / "invalid.yaml"}
    given = [a.format(**paths) for a in args]
    if "--specs" not in given:
        given += ["--specs", str(tmp_path / "spec.yaml")]
    result = CliRunner().invoke(
        main, ["ui", "--port", "0", *given], env={"AGENT_SLO_UI_AUTH": None}
    )
    assert result.exit_code == code, result.output
    assert message in result.output


NAN_SPEC = """\
apiVersion: agent-slo/v1
workflow: odd
slos:
  - {name: odd-success, objective: 99, sli: {outcomes: {}}}
  - {name: odder-success, objective: 99, sli: {outcomes: {}}}
"""


def _recorded_rules(slo: str, **exprs: str) -> list[dict[str, Any]]:
    """Recording rules writing ``expr`` as each recorded series of ``slo``."""
    labels = {"slo": slo, "workflow": "odd"}
    return [{"record": f"slo:{r}", "expr": e, "labels": labels} for r, e in exprs.items()]


#: 10 runs, none failed, for both; odd-success: half its budget left, NaN for the allowed
#: failures and the burn rate; odder-success: NaN for the budget left.
NAN_RULES = {
    "groups": [
        {
            "name": "odd",
            "interval": "1s",
            "rules": [
                *_recorded_rules(
                    "odd-success",
                    **{
                        "objective:ratio": "vector(0.99)",
                        "period_events:increase": "vector(10)",
                        "period_bad_events:increase": "vector(0)",
                        "period_allowed_bad_events:count": "vector(0) / 0",
                        "period_error_budget_remaining:ratio": "vector(0.5)",
                        "current_burn_rate:ratio": "vector(0) / 0",
                    },
                ),
                *_recorded_rules(
                    "odder-success",
                    **{
                        "objective:ratio": "vector(0.99)",
                        "period_events:increase": "vector(10)",
                        "period_bad_events:increase": "vector(0)",
                        "period_error_budget_remaining:ratio": "vector(0) / 0",
                    },
                ),
            ],
        }
    ]
}


def test_a_figure_recorded_as_nan_reads_as_none_on_the_page_and_in_json(tmp_path: Path) -> None:
    """NaN recorded for the allowed failures and the burn rate: the JSON gives null and the
    page "—" for each and for the runs left (never "nan"); NaN for the budget left: no
    budget figure, so "no data", not "within budget"."""
    (tmp_path / "spec.yaml").write_text(NAN_SPEC)
    (tmp_path / "odd.rules.yml").write_text(yaml.safe_dump(NAN_RULES))
    with running_prometheus(tmp_path, [], rule_files=[tmp_path / "odd.rules.yml"]) as prom:
        prom.wait_for('slo:current_burn_rate:ratio{slo="odd-success"}')
        prom.wait_for('slo:period_error_budget_remaining:ratio{slo="odder-success"}')
        page = StatusPage(prom, Catalog(load([tmp_path / "spec.yaml"])))
        rows = {r["slo"]: r for r in _json(page, "/api/overview")["slos"]}
        status, html = _get(page, "/")
    odd, odder = rows["odd-success"], rows["odder-success"]
    assert (odd["runs"], odd["failures"], odd["budget_remaining"]) == (10, 0, 0.5)
    assert [odd[k] for k in ("allowed_failures", "burn_rate", "runs_left")] == [None] * 3
    assert odd["status"] == "within_budget"
    assert (odder["budget_remaining"], odder["status"]) == (None, "no_data")
    assert status == 200
    assert "nan" not in html.lower()
    cells = html.split('id="row-odd-success"', 1)[1].split("</tr>", 1)[0]
    assert '<td class="num" data-field="burn_rate">—</td>' in cells
    assert ">— of —</td>" in cells  # runs left of the allowed failures
    assert "50.0%" in cells
    cells = html.split('id="row-odder-success"', 1)[1].split("</tr>", 1)[0]
    assert "no data yet" in cells


def test_a_pending_alert_is_listed_as_pending_and_not_counted_as_firing(site: Site) -> None:
    """idle-success's page tier alert, pending for the hour its ``for:`` asks: the overview
    lists it as pending and counts no alert firing; the SLO page gives its tier "pending"
    and the other tiers "inactive"."""
    at = time.time()
    rows = {r["slo"]: r for r in _json(site.page(at), "/api/overview")["slos"]}
    idle = rows["idle-success"]
    assert [(a["name"], a["state"], a["detail"], a["severity"]) for a in idle["alerts"]] == [
        ("ErrorBudgetBurn", "pending", "1h/5m", "page")
    ]
    assert idle["firing"] == 0
    status, html = _get(site.page(at), "/")
    assert status == 200
    row = html.split('id="row-idle-success"', 1)[1].split("</tr>", 1)[0]
    assert "ErrorBudgetBurn 1h/5m (page, pending)" in row
    assert "firing" not in row
    tiers = {t["name"]: t["state"] for t in _json(site.page(at), "/api/slo/idle-success")["tiers"]}
    assert tiers == {
        "page_fast": "pending",
        "page_slow": "inactive",
        "ticket_fast": "inactive",
        "ticket_slow": "inactive",
    }


def test_head_answers_as_get_without_a_body(site: Site) -> None:
    """HEAD gives GET's status and headers (type, length, security policy) and no body: the
    overview, its JSON, a static file and a page that is not there."""
    page = site.page(time.time(), cache_seconds=3600)  # one overview for both requests
    server = make_server(page, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    expected = {"/": 200, "/api/overview": 200, "/static/style.css": 200, "/nowhere": 404}
    try:
        for target, code in expected.items():
            got = {}
            for method in ("GET", "HEAD"):
                conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
                conn.request(method, target)
                answer = conn.getresponse()
                got[method] = (
                    answer.status,
                    answer.getheader("Content-Type"),
                    answer.getheader("Content-Length"),
                    answer.getheader("Content-Security-Policy"),
                    answer.read(),
                )
                conn.close()
            status, kind, length, policy, body = got["GET"]
            assert status == code, target
            assert int(length or 0) == len(body) > 0, target
            assert got["HEAD"] == (status, kind, length, policy, b""), target
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def test_the_overview_and_the_reports_review_put_the_slos_in_one_order(site: Site) -> None:
    """`agent-slo report prometheus --all` and the overview list the SLOs in the same order
    (one key, decisions.policy.review_order): the threshold passed first, the SLOs without
    a verdict last, by name."""
    result = CliRunner().invoke(
        main,
        ["report", "prometheus", "--specs", str(site.spec), "--prometheus", site.prom.url,
         "--all", "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    reviewed = [r["slo"] for r in json.loads(result.output)]
    shown = [r["slo"] for r in _json(site.page(time.time()), "/api/overview")["slos"]]
    assert reviewed == shown == ["triage-quality", "idle-success", "unloaded-success"]


def test_connections_past_the_cap_get_503_and_a_freed_slot_serves_again(site: Site) -> None:
    """With two connections held open (idle, a thread each), a third gets 503 with
    Retry-After and is closed; once one of the two leaves, a new connection is served."""
    server = make_server(site.page(time.time()), "127.0.0.1", 0, max_connections=2)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    address = ("127.0.0.1", server.server_address[1])
    idle = [socket.create_connection(address, timeout=10) for _ in range(2)]
    try:
        time.sleep(0.5)  # both accepted, each handler waiting for its request
        conn = http.client.HTTPConnection(*address, timeout=10)
        conn.request("GET", "/healthz")
        refused = conn.getresponse()
        assert (refused.status, refused.getheader("Retry-After")) == (503, "1")
        assert refused.read() == b"too many connections\r\n"
        conn.close()
        idle.pop().close()
        deadline = time.monotonic() + 10
        while True:  # the freed slot comes back once its handler has read the close
            conn = http.client.HTTPConnection(*address, timeout=10)
            conn.request("GET", "/healthz")
            answer = conn.getresponse()
            body = answer.read()
            conn.close()
            if answer.status != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert (answer.status, body) == (200, b"ok\n")
    finally:
        for sock in idle:
            sock.close()
        server.shutdown()
        thread.join()
        server.server_close()
