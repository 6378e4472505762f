"""A fake Cafdata portal on loopback: the Opendatasoft Explore API v2.1 endpoints `cafcarto sync`
uses, with the real shapes, and switchable faults.

Endpoints: `catalog/datasets?limit&offset` (paged, `total_count`), `catalog/datasets/{id}`,
`{id}/exports/parquet` (typed columns: dates, ints, floats, strings; `Range` answered 206) and
`{id}/exports/csv?delimiter=%3B` (BOM, `;`, CRLF, empty codes). Faults per dataset (`faults`):
"404", "500", "timeout" (sleeps past the client's timeout), "truncated" (a Content-Length larger
than the body sent), "refuse_parquet" (400 on Parquet), "not_parquet" (an HTML page instead),
"no_range" (a `Range` ignored: the whole body again, 200), "bad_parquet" (Parquet's magic
bytes around nothing readable).

The values are TEST DATA, generated deterministically (seeded) on real territory codes and
labelled as such in every dataset's description; their shapes follow the real samples of
`../shared/data/cafdata-samples/` and the naming scheme of CAFDATA-CATALOGUE.md.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

API = "/api/explore/v2.1/catalog/datasets"
TEST_LABEL = "Données de test générées (portail factice des tests), pas des chiffres de la Cnaf."
ODS_TYPES = {"date": "date", "int": "int", "double": "double", "text": "text"}


@dataclass
class FakeDataset:
    dataset_id: str
    title: str
    table: pa.Table
    labels: dict[str, str] = field(default_factory=dict)
    data_processed: str = "2026-01-16T08:00:00+00:00"
    modified: str = "2026-01-16T08:00:00+00:00"
    theme: tuple[str, ...] = ("Solidarité",)
    keywords: tuple[str, ...] = ("allocataires",)

    def api_item(self) -> dict:
        fields = [
            {
                "name": name,
                "label": self.labels.get(name, name),
                "type": _ods_type(self.table.schema.field(name).type),
                "description": None,
            }
            for name in self.table.column_names
        ]
        return {
            "dataset_id": self.dataset_id,
            "metas": {
                "default": {
                    "title": self.title,
                    "description": f"<p>{TEST_LABEL}</p>",
                    "modified": self.modified,
                    "data_processed": self.data_processed,
                    "records_count": self.table.num_rows,
                    "theme": list(self.theme),
                    "keyword": list(self.keywords),
                    "license": "Licence Ouverte v2.0 (Etalab)",
                }
            },
            "fields": fields,
        }


def _ods_type(kind: pa.DataType) -> str:
    if pa.types.is_date(kind):
        return "date"
    if pa.types.is_integer(kind):
        return "int"
    if pa.types.is_floating(kind):
        return "double"
    return "text"


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _csv_cell(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m")  # the CSV export writes month-precision dates so
    return str(value)


def csv_bytes(table: pa.Table) -> bytes:
    """The portal's `;` CSV export: UTF-8 with BOM, CRLF line ends, empty cells for nulls."""
    lines = [";".join(table.column_names)]
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    lines += [";".join(_csv_cell(v) for v in row) for row in zip(*columns, strict=True)]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


class FakePortal:
    """The server; `with FakePortal(datasets) as portal:` gives `portal.url`."""

    def __init__(self, datasets: list[FakeDataset], *, slow_seconds: float = 3.0) -> None:
        self.datasets = {d.dataset_id: d for d in datasets}
        self.faults: dict[str, str] = {}
        # (path, Range header); the path is a whole URL when the request came through a proxy
        self.requests: list[tuple[str, str | None]] = []
        self.user_agents: set[str] = set()
        self.slow_seconds = slow_seconds
        self._bodies: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def body(self, dataset_id: str, kind: str) -> bytes:
        with self._lock:
            key = (dataset_id, kind)
            if key not in self._bodies:
                table = self.datasets[dataset_id].table
                self._bodies[key] = parquet_bytes(table) if kind == "parquet" else csv_bytes(table)
            return self._bodies[key]

    def republish(self, dataset_id: str, table: pa.Table | None = None) -> None:
        """A new `data_processed` (and new data when `table` is given)."""
        ds = self.datasets[dataset_id]
        stamp = dt.datetime.fromisoformat(ds.data_processed) + dt.timedelta(days=31)
        ds.data_processed = stamp.isoformat()
        if table is not None:
            ds.table = table
            with self._lock:
                self._bodies = {k: v for k, v in self._bodies.items() if k[0] != dataset_id}

    def downloads(self) -> list[str]:
        """Dataset ids of the export requests received, in order."""
        return [p.split("/")[-3] for p, _ in self.requests if "/exports/" in p]

    def __enter__(self) -> FakePortal:
        portal = self

        class Handler(_Handler):
            fake = portal

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    fake: FakePortal
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, kind: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        body = json.dumps({"error_code": "Error", "message": message}).encode()
        self._send(status, body, "application/json")

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        self.fake.requests.append((self.path, self.headers.get("Range")))
        self.fake.user_agents.add(self.headers.get("User-Agent", ""))
        parts = url.path.removeprefix(API).strip("/").split("/")
        try:
            if url.path.rstrip("/") == API:
                self._catalogue(urllib.parse.parse_qs(url.query))
            elif len(parts) == 1 and parts[0] in self.fake.datasets:
                self._json(self.fake.datasets[parts[0]].api_item())
            elif len(parts) == 3 and parts[1] == "exports" and parts[0] in self.fake.datasets:
                self._export(parts[0], parts[2])
            else:
                self._error(404, "Unknown dataset or endpoint")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    def _json(self, payload: dict) -> None:
        self._send(200, json.dumps(payload).encode(), "application/json; charset=utf-8")

    def _catalogue(self, query: dict) -> None:
        limit = min(int(query.get("limit", ["10"])[0]), 100)
        offset = int(query.get("offset", ["0"])[0])
        items = list(self.fake.datasets.values())
        page = [d.api_item() for d in items[offset : offset + limit]]
        self._json({"total_count": len(items), "results": page})

    def _refused(self, fault: str | None, kind: str, dataset_id: str) -> bool:
        """Answer the faults that replace the export; False when the export is to be sent."""
        if fault == "404":
            self._error(404, f"Dataset {dataset_id} not found")
        elif fault == "500":
            self._error(500, "Internal server error")
        elif kind not in ("parquet", "csv"):
            self._error(400, f"Unknown export format {kind}")
        elif kind == "parquet" and fault == "refuse_parquet":
            self._error(400, "Export format not allowed")
        elif kind == "parquet" and fault == "not_parquet":
            self._send(200, b"<html>maintenance</html>", "text/html")
        elif kind == "parquet" and fault == "bad_parquet":  # the magic bytes, nothing readable
            self._send(200, b"PAR1" + b"\0" * 64 + b"PAR1", "application/octet-stream")
        else:
            return False
        return True

    def _export(self, dataset_id: str, kind: str) -> None:
        fault = self.fake.faults.get(dataset_id)
        if fault == "timeout":
            time.sleep(self.fake.slow_seconds)
        if self._refused(fault, kind, dataset_id):
            return None
        body = self.fake.body(dataset_id, kind)
        mime = "application/octet-stream" if kind == "parquet" else "text/csv; charset=utf-8"
        start = 0 if fault == "no_range" else _range_start(self.headers.get("Range"), len(body))
        if fault == "truncated":
            self.send_response(200)
            self.send_header("Content-Type", mime)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return None
        if start:
            rng = {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"}
            self.send_response(206)
            self.send_header("Content-Type", mime)
            self.send_header("Content-Length", str(len(body) - start))
            for name, value in rng.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body[start:])
            return None
        return self._send(200, body, mime, {"Accept-Ranges": "bytes"})


def _range_start(header: str | None, size: int) -> int:
    if not header or not header.startswith("bytes="):
        return 0
    first = header[6:].split("-", 1)[0]
    return int(first) if first.isdigit() and int(first) < size else 0
