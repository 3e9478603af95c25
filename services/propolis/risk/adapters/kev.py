"""A CISA Known Exploited Vulnerabilities (KEV) catalogue, read from its JSON feed format.

Known exploitation is the strongest signal a score has, so a catalogue that cannot be read is an
error (never an empty set that would silently score every image as unexploited).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from propolis.kernel.errors import PropolisError


class KEVError(PropolisError):
    """A KEV catalogue that is missing or not in the CISA feed format; the message names the file."""


def parse_kev(raw: bytes | str, source: str = "<kev>") -> frozenset[str]:
    """The CVE ids of a catalogue ``{"catalogVersion", "vulnerabilities": [{"cveID", ...}]}``, upper-cased."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise KEVError(f"{source}: not a JSON KEV catalogue ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("vulnerabilities"), list):
        raise KEVError(f"{source}: not a KEV catalogue (expected an object with a 'vulnerabilities' list)")
    ids: set[str] = set()
    for i, entry in enumerate(doc["vulnerabilities"]):
        cve = entry.get("cveID") if isinstance(entry, dict) else None
        if not isinstance(cve, str) or not cve.upper().startswith("CVE-"):
            raise KEVError(f"{source}: vulnerabilities[{i}] has no cveID of the form CVE-YYYY-NNNN")
        ids.add(cve.strip().upper())
    return frozenset(ids)


def load_kev(path: str | Path) -> frozenset[str]:
    """The CVE ids of the KEV catalogue at ``path``."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise KEVError(f"cannot read KEV catalogue {path}: {exc.strerror}") from None
    return parse_kev(raw, str(path))


def is_known_exploited(ids: Iterable[str], kev: frozenset[str]) -> bool:
    """Whether any of a finding's ids (its id and its aliases: GHSA/PYSEC ids often alias a CVE) is in ``kev``."""
    return any(isinstance(i, str) and i.strip().upper() in kev for i in ids)
