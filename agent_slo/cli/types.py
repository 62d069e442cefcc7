"""Option types: a bad value is a usage error (exit 2) that names the option, never a
traceback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from rulegen.durations import format_duration, parse_duration
from rulegen.selectors import parse_matcher

__all__ = ["DURATION", "LABEL_MATCHER", "Duration", "LabelMatcher"]

if TYPE_CHECKING:  # generic in recent click only
    _TextType = click.ParamType[str, Any]
else:
    _TextType = click.ParamType


class Duration(_TextType):
    """A Prometheus duration (``5m``, ``1h30m``, ``28d``), kept as its canonical text."""

    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        try:
            return format_duration(parse_duration(str(value)))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class LabelMatcher(_TextType):
    """One PromQL label matcher, ``label="value"`` (or ``!=``, ``=~``, ``!~``)."""

    name = "matcher"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        text = str(value).strip()
        try:
            return parse_matcher(text).render()
        except ValueError:
            self.fail(
                f'{text!r} is not one label matcher: expected label="value" '
                '(or !=, =~, !~), e.g. prompt_version="v42"',
                param,
                ctx,
            )


DURATION = Duration()
LABEL_MATCHER = LabelMatcher()
