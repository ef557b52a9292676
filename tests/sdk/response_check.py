"""Checks every response the suite receives from mneme against mneme's own /openapi.json.

``install()`` wraps ``httpx.Client.send`` so that each response to a ``/v1/`` route is kept
(streamed bodies are copied as the client reads them); ``mismatches()`` then validates each
JSON body, and each ``data:`` payload of an event stream, against the schema the document
gives for that route, method, status and media type (JSON Schema draft 2020-12).
Origins that do not serve ``/openapi.json`` (the fake LLM) are ignored.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field

import httpx
import jsonschema

_lock = threading.Lock()
_records: list[Record] = []
_documents: dict[str, dict | None] = {}
_local = threading.local()


class _Tee(httpx.SyncByteStream):
    """A response stream that keeps a copy of what the client reads."""

    def __init__(self, inner, sink: list[bytes]):
        self._inner = inner
        self._sink = sink

    def __iter__(self):
        for chunk in self._inner:
            self._sink.append(chunk)
            yield chunk

    def close(self):
        self._inner.close()


@dataclass
class Record:
    origin: str
    method: str
    path: str
    response: httpx.Response
    chunks: list[bytes] = field(default_factory=list)

    def body(self) -> bytes | None:
        if getattr(self.response, "_content", None) is not None:
            return self.response.content
        return b"".join(self.chunks) if self.chunks else None


def _document(origin: str) -> dict | None:
    """The server's document, fetched once per origin while the server runs."""
    if origin not in _documents:
        _local.busy = True
        try:
            r = httpx.get(f"{origin}/openapi.json", timeout=10.0)
            _documents[origin] = r.json() if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            _documents[origin] = None
        finally:
            _local.busy = False
    return _documents[origin]


def install() -> None:
    original = httpx.Client.send

    def send(self, request: httpx.Request, **kwargs):
        response = original(self, request, **kwargs)
        if getattr(_local, "busy", False) or not request.url.path.startswith("/v1/"):
            return response
        origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
        if _document(origin) is None:
            return response
        record = Record(origin, request.method.lower(), request.url.path, response)
        if getattr(response, "_content", None) is None:
            response.stream = _Tee(response.stream, record.chunks)
        with _lock:
            _records.append(record)
        return response

    httpx.Client.send = send


def _template_regex(template: str) -> re.Pattern:
    parts = re.split(r"(\{[^}]+\})", template.rstrip("/"))
    body = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{body}/?$")


class _Checker:
    def __init__(self, doc: dict):
        self.doc = doc
        # Literal segments first, so `/v1/agents/count` is not read as `/v1/agents/{agent_id}`.
        self.routes = sorted(
            ((_template_regex(t), t) for t in doc["paths"]),
            key=lambda rt: (rt[1].count("{"), -len(rt[1])),
        )
        self.validators: dict[tuple, jsonschema.Draft202012Validator] = {}

    def operation(self, method: str, path: str) -> tuple[str, dict] | None:
        for regex, template in self.routes:
            if regex.match(path) and method in self.doc["paths"][template]:
                return template, self.doc["paths"][template][method]
        return None

    def validator(self, key: tuple, schema: dict) -> jsonschema.Draft202012Validator:
        if key not in self.validators:
            root = {"allOf": [schema], "components": self.doc["components"]}
            self.validators[key] = jsonschema.Draft202012Validator(root)
        return self.validators[key]

    def check(self, rec: Record) -> list[str]:
        where = f"{rec.method.upper()} {rec.path} -> {rec.response.status_code}"
        found = self.operation(rec.method, rec.path)
        if found is None:
            # The fallback's answer to a route no one serves (tests ask for one on purpose).
            if rec.response.status_code == 404 and rec.response.json().get("detail") == "Not Found":
                return []
            return [f"{where}: no such operation in /openapi.json"]
        template, op = found
        status = rec.response.status_code
        documented = op["responses"].get(str(status)) or op["responses"].get("default")
        if documented is None:
            return [f"{where}: status not documented"]
        body = rec.body()
        if status == 204 or not body:
            return []
        kind = rec.response.headers.get("content-type", "").split(";")[0].strip()
        content = (documented.get("content") or {}).get(kind)
        if content is None:
            return [f"{where}: media type {kind!r} not documented"]
        key = (template, rec.method, status, kind)
        validator = self.validator(key, content.get("schema", {}))
        if kind == "text/event-stream":
            payloads = _sse_payloads(body)
        elif kind == "application/json":
            try:
                payloads = [json.loads(body)]
            except ValueError:
                return [f"{where}: body is not JSON"]
        else:
            return []
        out = []
        for payload in payloads:
            for error in list(validator.iter_errors(payload))[:3]:
                path = "/".join(str(p) for p in error.absolute_path)
                out.append(f"{where} ({op['operationId']}): at '{path}': {error.message[:300]}")
        return out


def _sse_payloads(body: bytes) -> list:
    out = []
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith("data:"):
            data = line[5:].strip()
            if data and data != "[DONE]":
                out.append(json.loads(data))
    return out


def mismatches() -> tuple[int, list[str]]:
    """How many responses were checked, and every mismatch found (each once)."""
    with _lock:
        records = list(_records)
    checkers: dict[str, _Checker] = {}
    seen: dict[str, None] = {}
    for rec in records:
        doc = _documents.get(rec.origin)
        if doc is None:
            continue
        if rec.origin not in checkers:
            # Every server runs the same binary: one checker serves them all.
            same = next((c for c in checkers.values() if c.doc == doc), None)
            checkers[rec.origin] = same or _Checker(doc)
        checker = checkers[rec.origin]
        for problem in checker.check(rec):
            seen.setdefault(problem, None)
    return len(records), list(seen)
