"""The raw data into a fresh TSDB the way scrapes would have put it there, staleness included.

OpenMetrics text (``promtool tsdb create-blocks-from openmetrics``) cannot hold Prometheus's
staleness markers, so a series that disappears (a failed scrape, a series gone with its
replica's restart) would stay visible to instant selectors for the 5-minute lookback, which a
scraping Prometheus never shows. Here a fresh Prometheus receives every sample and marker by
remote write (``--web.enable-remote-write-receiver``), in time order, an hour at a time; its
TSDB, head included, is then taken as blocks with a snapshot
(``/api/v1/admin/tsdb/snapshot``).
"""

from __future__ import annotations

import http.client
import json
import queue
import shutil
import struct
import threading
from collections.abc import Sequence
from pathlib import Path

from .data import SAMPLE, Series
from .prom import Prometheus

__all__ = ["remote_write_tsdb", "snappy_block", "write_request"]

STALE_NAN = struct.pack("<Q", 0x7FF0000000000002)  # Prometheus's staleness marker
SLICE = 50  # scrapes a request: under an hour, the head's window for in-order appends


def varint(n: int) -> bytes:
    """A protobuf varint."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def labels_proto(labels: dict[str, str]) -> bytes:
    """``prometheus.Label`` fields of a ``TimeSeries``, sorted by name."""
    return b"".join(
        field(1, field(1, k.encode()) + field(2, v.encode())) for k, v in sorted(labels.items())
    )


class Values(dict[int, bytes]):
    """Sample values packed as little-endian doubles, cached."""

    def __missing__(self, key: int) -> bytes:
        packed = struct.pack("<d", float(key))
        self[key] = packed
        return packed


def write_request(
    series: Sequence[Series], labels: Sequence[bytes], tails: Sequence[bytes], lo: int, hi: int
) -> bytes:
    """A ``prometheus.WriteRequest`` of the scrapes in [lo, hi).

    ``tails`` holds, for every scrape, the ``timestamp`` field of a ``Sample``.
    """
    packed = Values()
    head = b"\x12\x10\x09"  # Sample (field 2, 16 bytes long): value (field 1, a double)
    parts = []
    for one, name in zip(series, labels, strict=True):
        values = one.values
        samples = [
            head + (packed[values[k]] if kind == SAMPLE else STALE_NAN) + tails[k]
            for k, kind in zip(range(lo, hi), one.kinds[lo:hi], strict=True)
            if kind
        ]
        if samples:
            body = name + b"".join(samples)
            parts.append(b"\x0a" + varint(len(body)) + body)
    return b"".join(parts)


def snappy_block(data: bytes) -> bytes:
    """``data`` in Snappy's block format, as one literal (valid, uncompressed)."""
    size = len(data)
    if size == 0:
        return b"\x00"
    return varint(size) + bytes([63 << 2]) + struct.pack("<I", size - 1) + data


def remote_write_tsdb(
    series: Sequence[Series], stamps: Sequence[int], work: Path, log_file: Path
) -> Path:
    """Every sample and staleness marker into a fresh TSDB; the folder of its blocks."""
    for stamp in stamps:
        if not 10**12 <= stamp < 2**41:
            raise ValueError("timestamps must take 6 bytes as varints")  # the Sample's size
    tails = [b"\x10" + varint(t) for t in stamps]
    labels = [labels_proto(s.labels) for s in series]
    data = work / "ingest"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    prom = Prometheus(
        data,
        {"global": {"evaluation_interval": "1m"}},
        log_file,
        extra=["--web.enable-remote-write-receiver", "--web.enable-admin-api"],
    )
    try:
        requests: queue.Queue[bytes | None] = queue.Queue(maxsize=2)
        failure: list[str] = []

        def send() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", prom.port, timeout=600)
            headers = {
                "Content-Encoding": "snappy",
                "Content-Type": "application/x-protobuf",
                "X-Prometheus-Remote-Write-Version": "0.1.0",
            }
            while (body := requests.get()) is not None:
                if failure:
                    continue
                conn.request("POST", "/api/v1/write", snappy_block(body), headers)
                response = conn.getresponse()
                text = response.read()
                if response.status // 100 != 2:
                    failure.append(f"{response.status} {text[:300]!r}")
            conn.close()

        sender = threading.Thread(target=send)
        sender.start()
        try:
            for lo in range(0, len(stamps), SLICE):
                requests.put(write_request(series, labels, tails, lo, min(len(stamps), lo + SLICE)))
                if failure:
                    break
        finally:
            requests.put(None)
            sender.join()
        if failure:
            raise RuntimeError(f"remote write refused: {failure[0]}")
        status, body = prom.post("/api/v1/admin/tsdb/snapshot")
        if status != 200:
            raise RuntimeError(f"snapshot failed: {status} {body[:300]!r}")
        name = json.loads(body)["data"]["name"]
    finally:
        prom.stop()
    blocks = work / "blocks" / "raw"
    shutil.rmtree(blocks, ignore_errors=True)
    blocks.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(data / "snapshots" / name), str(blocks))
    shutil.rmtree(data)
    return blocks
