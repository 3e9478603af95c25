"""The input of ``propolis.risk``: facts about an image (and optionally its deployment and runtime).

Only observations are gathered here, never judgements: which packages count as attacker tools,
how much a secret or an alert weighs, and what the score becomes are all decided in Rego
(``policies/propolis/risk``), so tuning them is a data change in the policy bundle.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from propolis.risk.adapters.kev import is_known_exploited
from propolis.scanner.catalogue import Catalogue
from propolis.scanner.domain.findings import Finding, FixState


def _parse_time(value: object) -> datetime | None:
    """An RFC 3339 timestamp as image configs write it (nanoseconds, ``Z``), or None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("z", "Z")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if "." in text:  # Python parses at most microseconds: trim the fraction to 6 digits
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits):]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def image_age_days(config: Mapping[str, Any], now: datetime | None = None) -> int | None:
    """Whole days since the config's ``created``; None when absent or unreadable (then age adds nothing)."""
    created = _parse_time(config.get("created"))
    if created is None:
        return None
    return max(((now or datetime.now(UTC)) - created).days, 0)


def finding_facts(f: Finding, kev: frozenset[str] | None = None) -> dict[str, Any]:
    """One finding as the policy reads it; ``known_exploited`` matches the id and every alias."""
    return {"id": f.id, "severity": f.severity, "cvss_score": f.cvss_score,
            "fix_available": f.state == FixState.FIXED and bool(f.fixed_version),
            "known_exploited": bool(kev) and is_known_exploited([f.id, *f.aliases], kev or frozenset())}


def image_facts(catalogue: Catalogue, findings: Iterable[Finding], kev: frozenset[str] | None = None,
                now: datetime | None = None, *, deployment: Mapping[str, Any] | None = None,
                runtime: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``propolis.risk`` input for ``catalogue`` and its ``findings``.

    Facts that are unknown are left out rather than guessed (an SBOM has no config facts, an image
    without ``created`` has no age), so they contribute nothing to the score. ``deployment`` and
    ``runtime`` are passed through as given (see the input described in ``risk.rego``).
    """
    facts: dict[str, Any] = {
        "findings": [finding_facts(f, kev) for f in findings],
        "secrets": dict(sorted(Counter(s.finding.severity.lower() for s in catalogue.secrets).items())),
        "packages": sorted({p.name for p in catalogue.packages}),
        "component_count": len(catalogue.packages),
    }
    cf = catalogue.facts
    if cf is not None:
        facts["config"] = {
            "runs_as_root": cf.runs_as_root,
            "setuid_files": sorted({p.path for p in (*cf.setuid_files, *cf.setgid_files)}),
            # A sticky world-writable directory (/tmp) is the norm; only the others are a risk.
            "world_writable": sorted(p.path for p in cf.world_writable if not (p.kind == "dir" and p.sticky)),
        }
    age = image_age_days(catalogue.config, now)
    if age is not None:
        facts["image_age_days"] = age
    if deployment is not None:
        facts["deployment"] = dict(deployment)
    if runtime is not None:
        facts["runtime"] = dict(runtime)
    return facts
