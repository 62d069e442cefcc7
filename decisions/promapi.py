"""Instant and range queries against Prometheus's HTTP API, for the report and the gate."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

__all__ = ["Prometheus", "PrometheusError"]


class PrometheusError(Exception):
    """Prometheus could not be asked, or refused the query."""


class Prometheus:
    """Instant and range queries against Prometheus's HTTP API."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """The result vector of ``expr`` (at Unix time ``at``, default now)."""
        params = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
        return self._get("query", expr, params)

    def query_range(self, expr: str, start: float, end: float, step: int) -> list[dict[str, Any]]:
        """The result matrix of ``expr`` evaluated every ``step`` seconds from ``start`` to
        ``end`` (Unix times): one entry per series, its ``values`` the ``[time, "value"]``
        pairs of the evaluations that gave it a value."""
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": str(step)}
        return self._get("query_range", expr, params)

    def _get(self, endpoint: str, expr: str, params: dict[str, str]) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(  # noqa: S310 - the user's Prometheus URL
                f"{self.url}/api/v1/{endpoint}?{query}", timeout=self.timeout
            ) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                detail = exc.read().decode(errors="replace")
            raise PrometheusError(f"Prometheus refused {expr!r}: HTTP {exc.code} {detail}") from exc
        except (OSError, ValueError) as exc:
            raise PrometheusError(f"cannot query Prometheus at {self.url}: {exc}") from exc
        if body.get("status") != "success":
            raise PrometheusError(f"Prometheus refused {expr!r}: {body.get('error')}")
        return list(body["data"]["result"])

    def scalar(self, expr: str, at: float | None = None) -> float | None:
        """The value of the first series of ``expr``, or ``None`` if there is none."""
        result = self.query(expr, at)
        return float(result[0]["value"][1]) if result else None
