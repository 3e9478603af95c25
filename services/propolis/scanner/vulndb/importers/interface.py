"""The importer interface: one module per advisory-source format.

An importer says whether it understands a path (:meth:`Importer.detect`) and streams the
advisories it finds into a sink (:meth:`Importer.import_`). It never raises on malformed input:
a record it cannot use is skipped, logged, and counted under its reason in :class:`ImportStats`,
and the import carries on with the next record.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import yaml

from propolis.scanner.vulndb.model import Advisory

log = logging.getLogger("propolis.scanner.vulndb")

#: Largest single record file read (an OSV record, a secdb release file). Bigger files are skipped.
MAX_RECORD_BYTES = 32 * 1024 * 1024
#: Reason counted when a record hit an error no validation step anticipated (kept at zero by tests).
UNEXPECTED = "unexpected error"


class Sink(Protocol):
    def add(self, advisory: Advisory) -> None:
        """Take one advisory; a repeated (id, source) is merged into the first by the sink."""
        ...


@dataclass
class ImportStats:
    """What one source gave: counts of imported records and of skipped ones by reason."""

    source: str
    kind: str
    imported: int = 0  # records turned into advisories (an OSV file, a DSA entry, a secfix)
    affected: int = 0  # affected entries emitted
    skipped: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)  # record kept, one field dropped
    ecosystems: Counter[str] = field(default_factory=Counter)  # affected entries per purl type
    newest: str = ""  # newest modified/published date seen: how fresh the source is

    def skip(self, where: str, reason: str, detail: str = "", level: int = logging.WARNING) -> None:
        """Count a skipped record; ``level`` INFO for records that are expected to carry nothing (announcements)."""
        self.skipped[reason] += 1
        log.log(level, "vulndb %s: skipped %s: %s%s", self.kind, where, reason, f" ({detail})" if detail else "")

    def warn(self, where: str, reason: str, detail: str = "") -> None:
        self.warnings[reason] += 1
        log.info("vulndb %s: %s: %s%s", self.kind, where, reason, f" ({detail})" if detail else "")

    def emitted(self, sink: Sink, advisory: Advisory, date: str | None = None) -> None:
        sink.add(advisory)
        self.imported += 1
        self.affected += len(advisory.affected)
        self.ecosystems.update(a.ecosystem for a in advisory.affected)
        if date and date > self.newest:
            self.newest = date

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind, "imported": self.imported, "affected": self.affected,
                "skipped": dict(self.skipped), "warnings": dict(self.warnings),
                "ecosystems": dict(self.ecosystems), "newest": self.newest}


class Importer(Protocol):
    #: Short unique name of the format, e.g. "osv".
    kind: ClassVar[str]

    def detect(self, path: Path) -> bool:
        """True when ``path`` (a file or directory) is in this importer's format. Cheap: reads a little."""
        ...

    def import_(self, path: Path, sink: Sink) -> ImportStats:
        """Stream every usable advisory under ``path`` into ``sink``. Never raises on bad content."""
        ...


class RecordError(Exception):
    """A record is unusable; ``reason`` is the short, countable cause."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def read_limited(path: Path, limit: int = MAX_RECORD_BYTES) -> bytes:
    """The file's bytes, or RecordError when it is larger than ``limit`` or unreadable."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise RecordError("file too large", f"{size} bytes > {limit}")
        return path.read_bytes()
    except OSError as exc:
        raise RecordError("unreadable file", str(exc)) from exc


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RecordError("not UTF-8", str(exc)) from exc


def load_json(data: bytes) -> Any:
    text = decode(data)
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise RecordError("invalid JSON", str(exc)[:200]) from exc


_Loader: Any = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


def load_yaml(data: bytes) -> Any:
    """One YAML document, every scalar a string (so ``fixed: 1.10`` stays "1.10", dates stay text).

    Anchors/aliases are refused: an alias-laden document ("billion laughs") is a small graph
    that becomes exponentially large the moment anything walks it.
    """
    text = decode(data)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise RecordError("empty document")
        _refuse_aliases(node)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise RecordError("invalid YAML", str(exc).splitlines()[0][:200] if str(exc) else "") from exc
    except RecursionError as exc:
        raise RecordError("invalid YAML", "nested too deeply") from exc
    finally:
        loader.dispose()


def _refuse_aliases(root: yaml.Node) -> None:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            raise RecordError("YAML aliases not allowed")
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                stack.append(k)
                stack.append(v)


def text_or_none(value: Any, name: str) -> str | None:
    """A string field: None/"" when absent, RecordError when it has the wrong type."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RecordError(f"wrong type: {name}", type(value).__name__)
    return value


def list_of_str(value: Any, name: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecordError(f"wrong type: {name}", "expected a list of strings")
    return tuple(value)
