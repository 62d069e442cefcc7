"""agent-slo: error budgets for AI-agent workflows, on Prometheus. The command lives in
:mod:`agent_slo.cli`; the rule generator in ``rulegen``, the exporter in ``exporter``."""
