"""agent-slo exporter: the runtime service that turns agents' outcome reports into counters."""

from __future__ import annotations

__all__: list[str] = []
