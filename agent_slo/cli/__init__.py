"""The ``agent-slo`` command: one group, its commands in modules by area, each loaded only
when it runs (``agent-slo serve`` loads no rule generator).

- :mod:`agent_slo.cli.specs`: ``validate``, ``generate``, ``schema``;
- :mod:`agent_slo.cli.exporter`: ``serve``, ``record``, ``webhook``;
- :mod:`agent_slo.cli.decisions`: ``report``, ``gate``, ``import``;
- :mod:`agent_slo.cli.ui`: ``ui``.

Exit codes and the errors behind them: :mod:`agent_slo.cli.common`.
"""

from __future__ import annotations

import importlib

import click

from rulegen import __version__

__all__ = ["main"]

COMMANDS = {
    "validate": "specs",
    "generate": "specs",
    "schema": "specs",
    "serve": "exporter",
    "record": "exporter",
    "webhook": "exporter",
    "report": "decisions",
    "gate": "decisions",
    "import": "decisions",
    "ui": "ui",
}


class _LazyGroup(click.Group):
    """Commands imported from their module when first needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        area = COMMANDS.get(cmd_name)
        if area is None:
            return None
        module = importlib.import_module(f"agent_slo.cli.{area}")
        command = getattr(module, "import_group" if cmd_name == "import" else cmd_name)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="agent-slo")
def main() -> None:
    """Error budgets for AI-agent workflows, on Prometheus."""
