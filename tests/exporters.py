"""What the exporter's tests share: a catalog from spec text, and an exporter serving a store
on a free loopback port in a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from exporter.catalog import Catalog
from exporter.server import make_server
from exporter.store import Store
from rulegen.loader import load_text
from rulegen.resolve import build

#: One workflow with one dimension: the smallest spec most exporter tests need.
TRIAGE = """\
apiVersion: agent-slo/v1
workflow: triage
dimensions:
  model: {max_values: 5}
slos:
  - name: triage-success
    sli: {outcomes: {}}
"""


def catalog_of(text: str) -> Catalog:
    """The exporter's catalog of a valid spec text."""
    docs, errors = load_text(text, "spec.yaml")
    assert errors == []
    return Catalog.from_model(build(docs))


@contextmanager
def serving(store: Store, **kwargs: Any) -> Iterator[str]:
    """The exporter on a free loopback port, serving ``store``: its base URL. Stopped (the
    store left open) on exit."""
    server = make_server(store, "127.0.0.1", 0, **kwargs)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
