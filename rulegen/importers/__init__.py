"""Other tools' SLO specs into agent-slo specs, with everything they cannot carry reported.

:func:`import_sloth` reads Sloth's formats, :func:`import_openslo` OpenSLO's. Both return an
:class:`ImportResult`: the specs (validated as ``agent-slo validate`` does) and every
finding, located by file, line and field: what is not carried over (:attr:`Kind.LOST`) and
what is carried over in agent-slo's own terms (:attr:`Kind.NOTE`).
"""

from __future__ import annotations

from rulegen.importers.drafts import write_specs
from rulegen.importers.findings import Finding, ImportedSpec, ImportResult, Kind
from rulegen.importers.openslo import import_openslo
from rulegen.importers.sloth import import_sloth

__all__ = [
    "Finding",
    "ImportResult",
    "ImportedSpec",
    "Kind",
    "import_openslo",
    "import_sloth",
    "write_specs",
]
