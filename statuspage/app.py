"""The status page as an application: a request in, a response out, with no server around it.

Routes, under the base path (``/slo`` serves ``/slo/``, ``/slo/api/overview``, ...):

- ``/``: the overview; ``/api/overview``: its JSON. Filters ``team``, ``tier``, ``status``
  and ``q`` (search) as query fields, applied on the server (the page's script filters as
  one types, the numbers need none).
- ``/slo/<name>``: the page of one SLO; ``/api/slo/<name>``: its JSON; with ``canary`` (a
  label matcher), ``window``, ``min_runs``, ``alpha`` and ``max_burn``, the gate's canary test.
- ``/static/<file>``: the stylesheet and the filter script, served from the package.
- ``/healthz``: ``ok``, without credentials, for probes.

Every page is read-only. With credentials configured, every route but ``/healthz`` needs
them; a token limited to some workflows sees their SLOs alone.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.resources
import json
import math
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import jinja2

from decisions.promapi import Prometheus, PrometheusError
from decisions.report.render import status_word
from statuspage import charts
from statuspage.detail import CanaryForm, Detail, detail
from statuspage.overview import Catalog, Entry, Overview, filter_rows, overview

__all__ = ["CSP", "Access", "Response", "StatusPage"]

#: Only the page's own stylesheet, script and forms; nothing fetched from elsewhere.
CSP: Final = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_STATIC_TYPES: Final = {
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "svg": "image/svg+xml",
}
_HTML: Final = "text/html; charset=utf-8"
_JSON: Final = "application/json"

#: What a request's Authorization header may see: every workflow (``None``), some, or
#: nothing (``False``).
Viewer = Callable[[str | None], frozenset[str] | Literal[False] | None]


@dataclass(frozen=True)
class Access:
    """Who may read the page: ``viewer`` judges the Authorization header; ``challenge`` is
    the WWW-Authenticate header of a refusal."""

    viewer: Viewer
    challenge: str


@dataclass
class Response:
    """Status, headers and body."""

    status: int
    body: bytes
    content_type: str = _HTML
    headers: dict[str, str] = field(default_factory=dict)


class StatusPage:
    """The status page of ``catalog``'s SLOs, read from ``prom`` at each request."""

    def __init__(
        self,
        prom: Prometheus,
        catalog: Catalog,
        *,
        base_path: str = "",
        access: Access | None = None,
        clock: Callable[[], float] = time.time,
        min_runs: int = 10,
        max_concurrent: int = 8,
        cache_seconds: float = 0.0,
    ) -> None:
        self.prom = prom
        self.catalog = catalog
        self.base = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self.access = access
        self.clock = clock
        self.min_runs = min_runs
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self.cache_seconds = cache_seconds
        self._overviews: dict[frozenset[str] | None, tuple[float, Overview]] = {}
        self._overview_lock = threading.Lock()

    def respond(  # noqa: PLR0911 - one return a kind of answer
        self, target: str, authorization: str | None = None
    ) -> Response:
        """The answer to ``GET target``."""
        parts = urllib.parse.urlsplit(target)
        path = urllib.parse.unquote(parts.path)
        if self.base and path == self.base:
            return Response(308, b"", "text/plain", {"Location": self.base + "/"})
        if self.base and not path.startswith(self.base + "/"):
            return self._text(404, f"not found: the status page is under {self.base}/")
        path = path[len(self.base) :]
        if path == "/healthz":
            return self._text(200, "ok")
        workflows = self._viewer(authorization)
        if workflows is False:
            assert self.access is not None
            return Response(
                401,
                b"credentials needed\n",
                "text/plain; charset=utf-8",
                {"WWW-Authenticate": self.access.challenge},
            )
        fields = {k: v[-1] for k, v in urllib.parse.parse_qs(parts.query).items()}
        if path.startswith("/static/"):
            return self._static(path.removeprefix("/static/"))
        if not self._slots.acquire(timeout=10):
            return self._text(503, "too many pages being read at once; try again")
        try:
            return self._route(path, fields, workflows)
        finally:
            self._slots.release()

    def _route(
        self, path: str, fields: dict[str, str], workflows: frozenset[str] | None
    ) -> Response:
        as_json = path.startswith("/api/")
        page = path.removeprefix("/api")
        try:
            if page in ("/", "/overview") and (page == "/" or as_json):
                return self._overview(fields, workflows, as_json)
            if page.startswith("/slo/"):
                entry = self.catalog.by_name.get(page.removeprefix("/slo/"))
                if entry is None or (
                    workflows is not None and entry.workflow.name not in workflows
                ):
                    return self._error(404, f"no SLO {page.removeprefix('/slo/')!r}", as_json)
                return self._slo(entry, fields, as_json)
        except PrometheusError as exc:
            return self._error(502, f"Prometheus could not be read: {exc}", as_json)
        return self._error(404, f"nothing at {path}", as_json)

    def _viewer(self, authorization: str | None) -> frozenset[str] | Literal[False] | None:
        return None if self.access is None else self.access.viewer(authorization)

    def _overview(
        self, fields: Mapping[str, str], workflows: frozenset[str] | None, as_json: bool
    ) -> Response:
        found = self._current_overview(workflows)
        chosen = {k: fields.get(k, "") for k in ("team", "tier", "status", "q")}
        rows = filter_rows(
            found.rows, chosen["team"], chosen["tier"], chosen["status"], chosen["q"]
        )
        if as_json:
            shown = Overview(found.at, rows, found.teams, found.tiers, found.statuses)
            return self._json(200, shown.to_dict())
        return self._page(
            "overview.html.j2",
            overview=found,
            rows=rows,
            shown={r.slo for r in rows},
            chosen=chosen,
            title="SLO status",
        )

    def _current_overview(self, workflows: frozenset[str] | None) -> Overview:
        """The overview of the SLOs ``workflows`` may see: computed anew, or the one
        computed less than ``cache_seconds`` ago. One is computed at a time, so that many
        readers arriving together send Prometheus one set of queries."""
        with self._overview_lock:
            cached = self._overviews.get(workflows)
            if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
                return cached[1]
            found = overview(self.prom, self.catalog.visible(workflows), self.clock())
            if self.cache_seconds > 0:
                self._overviews[workflows] = (time.monotonic(), found)
            return found

    def _slo(self, entry: Entry, fields: Mapping[str, str], as_json: bool) -> Response:
        form, problem = None, None
        if fields.get("canary", "").strip():
            try:
                form = CanaryForm.parse(dict(fields))
            except ValueError as exc:
                problem = str(exc)
        found = detail(self.prom, entry, self.clock(), form, self.min_runs)
        status = 400 if problem else 200
        if as_json:
            body = found.to_dict()
            if problem:
                body["canary_error"] = problem
            return self._json(status, body)
        response = self._page(
            "slo.html.j2",
            d=found,
            r=found.report,
            charts=_charts(found),
            fields=fields,
            problem=problem,
            title=f"{found.slo}: SLO status",
        )
        response.status = status
        return response

    def _page(self, template: str, **context: Any) -> Response:
        html = _templates().get_template(template).render(base=self.base, **context)
        return Response(200, html.encode())

    def _json(self, status: int, payload: Mapping[str, Any]) -> Response:
        body = json.dumps(_finite(payload), indent=2, sort_keys=True, allow_nan=False) + "\n"
        return Response(status, body.encode(), _JSON)

    def _error(self, status: int, message: str, as_json: bool) -> Response:
        if as_json:
            return self._json(status, {"error": message})
        response = self._page("error.html.j2", message=message, code=status, title="SLO status")
        response.status = status
        return response

    def _static(self, name: str) -> Response:
        found = _static_files().get(name)
        if found is None:
            return self._text(404, f"no static file {name!r}")
        return Response(200, found[1], found[0], {"Cache-Control": "max-age=3600"})

    @staticmethod
    def _text(status: int, text: str) -> Response:
        return Response(status, (text + "\n").encode(), "text/plain; charset=utf-8")


@functools.cache
def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("statuspage", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(word=status_word, tone=_tone, pct=_pct, num=_num, rate=_rate, moment=_moment)
    return env


@functools.cache
def _static_files() -> dict[str, tuple[str, bytes]]:
    """The package's static files by name: content type and bytes."""
    folder = importlib.resources.files("statuspage") / "static"
    return {
        item.name: (_STATIC_TYPES[item.name.rpartition(".")[2]], item.read_bytes())
        for item in folder.iterdir()
        if item.name.rpartition(".")[2] in _STATIC_TYPES
    }


def _tone(status: str, past_threshold: bool | None = None) -> str:
    """The colour class of a status."""
    if status == "within_budget":
        return "ok"
    if status in ("no_data", "rules_not_loaded", "not_enough_runs"):
        return "none"
    if status in ("exhausted", "over_budget"):
        return "spent"
    return "warn" if past_threshold is not False else "ok"


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinity as ``null``: JSON has neither."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _moment(at: float) -> str:
    """``2026-12-02 15:42:07 UTC``."""
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _missing(value: float | None) -> bool:
    """Whether ``value`` is no figure: not recorded, NaN or infinite (``null`` in JSON)."""
    return value is None or not math.isfinite(value)


def _pct(value: float | None, digits: int = 1) -> str:
    """``12.3%``; ``—`` for a figure Prometheus did not record or recorded as NaN."""
    return "—" if value is None or _missing(value) else f"{value * 100:.{digits}f}%"


def _num(value: float | None, digits: int = 1) -> str:
    """A count: whole numbers as such, others to ``digits``; ``—`` when there is none."""
    if value is None or _missing(value):
        return "—"
    return str(round(value)) if float(value).is_integer() else f"{value:.{digits}f}"


def _rate(value: float | None) -> str:
    """A burn rate: ``2.50x``; ``—`` when there is none."""
    return "—" if value is None or _missing(value) else f"{value:.2f}x"


def _charts(found: Detail) -> dict[str, Any]:
    """The SVG charts of one SLO's page (``None`` where there is nothing to draw)."""
    history = found.budget_history
    start = found.at - found.period_seconds
    budget = charts.line_chart(
        f"{found.slo}: error budget remaining over the {found.period} period",
        [charts.Line("budget remaining", history.points, "budget")],
        [charts.Rule("spent", 0.0, "spent")],
        start=start,
        end=found.at,
        ceiling=1.0,
    )
    tiers = {}
    for tier in found.tiers:
        tiers[tier.name] = charts.line_chart(
            f"{found.slo}: error ratio over {tier.long_window} and {tier.short_window} "
            f"against {tier.name}'s threshold",
            [
                charts.Line(f"{tier.long_window} error ratio", tier.long_series.points, "long"),
                charts.Line(f"{tier.short_window} error ratio", tier.short_series.points, "short"),
            ],
            [charts.Rule(f"{tier.name} threshold", tier.threshold, "threshold")],
            start=found.at - found.chart_seconds,
            end=found.at,
        )
    return {"budget": budget, "tiers": tiers}
