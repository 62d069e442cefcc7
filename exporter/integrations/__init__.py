"""Hooks that record outcomes where agents already run: OpenTelemetry spans and agent
frameworks. Each module imports its optional library; nothing else in the exporter imports them."""
