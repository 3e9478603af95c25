"""Finding secrets in image files and in the image config's environment.

Rules are data (``rules.json``): each has an id, a title, a severity, a regular expression and
cheap keywords checked first (case-insensitively) so most files never reach the expressions. A
rule whose expression has capture groups reports the first group that matched as the secret,
otherwise the whole match. A finding never holds the secret: only its first few characters
(at most 4, fewer for short values) followed by ``****``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import msgspec

SEVERITIES = ("critical", "high", "medium", "low")
TARGETS = ("files", "env")

#: Largest file read for scanning.
MAX_SCAN_BYTES = 1024 * 1024
#: Findings kept per rule in one file (a generated file can repeat a match many times).
MAX_FINDINGS_PER_RULE = 20

ENV_PATH = "config:Env"


class SecretFinding(msgspec.Struct, frozen=True):
    rule_id: str
    title: str
    severity: str
    path: str
    line: int
    redacted: str


@dataclass(frozen=True)
class SecretRule:
    id: str
    title: str
    severity: str
    pattern: re.Pattern[str]
    keywords: tuple[str, ...]
    #: Matches containing one of these strings are ignored (documented example values).
    allow: tuple[str, ...] = ()
    #: When set, the rule only applies to files whose path matches.
    paths: re.Pattern[str] | None = None
    targets: tuple[str, ...] = TARGETS
    #: When set, the rule only applies to text where this expression also matches somewhere.
    context: re.Pattern[str] | None = None


class RuleError(ValueError):
    pass


def _rule(raw: Any) -> SecretRule:
    if not isinstance(raw, dict):
        raise RuleError(f"rule must be an object, not {type(raw).__name__}")
    try:
        rid, title, severity = str(raw["id"]), str(raw["title"]), str(raw["severity"])
        regex = raw["regex"]
        keywords = tuple(str(k).lower() for k in raw.get("keywords", []))
    except KeyError as exc:
        raise RuleError(f"rule {raw.get('id')!r} lacks {exc}") from None
    if severity not in SEVERITIES:
        raise RuleError(f"rule {rid!r}: severity {severity!r} is not one of {SEVERITIES}")
    targets = tuple(raw.get("targets", TARGETS))
    if not set(targets) <= set(TARGETS):
        raise RuleError(f"rule {rid!r}: targets {targets!r} not within {TARGETS}")
    try:
        pattern = re.compile(regex)
        paths = re.compile(raw["paths"]) if raw.get("paths") else None
        context = re.compile(raw["context"]) if raw.get("context") else None
    except (re.error, TypeError) as exc:
        raise RuleError(f"rule {rid!r}: bad expression: {exc}") from None
    return SecretRule(id=rid, title=title, severity=severity, pattern=pattern, keywords=keywords,
                      allow=tuple(str(a) for a in raw.get("allow", [])), paths=paths, targets=targets,
                      context=context)


def parse_rules(document: Any) -> tuple[SecretRule, ...]:
    rules = document.get("rules") if isinstance(document, dict) else None
    if not isinstance(rules, list):
        raise RuleError("rules document must be an object with a 'rules' list")
    parsed = tuple(_rule(r) for r in rules)
    ids = [r.id for r in parsed]
    if len(set(ids)) != len(ids):
        raise RuleError("rule ids must be unique")
    return parsed


@functools.cache
def load_rules() -> tuple[SecretRule, ...]:
    """The packaged rules (``rules.json`` next to this module)."""
    text = resources.files(__package__).joinpath("rules.json").read_text(encoding="utf-8")
    return parse_rules(json.loads(text))


def redact(secret: str) -> str:
    """At most the first 4 characters, and never more than a third of a short value."""
    keep = min(4, len(secret) // 3)
    return secret[:keep] + "****"


# --- which files to scan -----------------------------------------------------------------------

_EXCLUDED = re.compile(
    r"^(?:usr/share/(?:doc|man|info|locale|i18n|licenses|common-licenses|zoneinfo)/"
    r"|usr/include/"
    r"|usr/(?:local/)?lib/python[^/]*/test/"
    r"|(?:.*/)?node_modules/(?:[^/]+/)*(?:test|__tests__|fixture)[^/]*(?:/|$)"
    r"|(?:.*/)?(?:site|dist)-packages/(?:[^/]+/)*tests?/)"
)
_SECRET_PATHS = re.compile(
    r"^(?:root|home/[^/]+)/\.ssh/id_[^/]*$"
    r"|(?:^|/)\.aws/(?:credentials|config)$"
    r"|(?:^|/)\.docker/config\.json$"
    r"|(?:^|/)\.env(?:\.[^/]*)?$"
    r"|(?:^|/)\.(?:netrc|npmrc|pypirc|pgpass|git-credentials|htpasswd|my\.cnf)$"
    r"|\.(?:pem|key)$"
)
_TEXT_EXTENSIONS = re.compile(
    r"\.(?:env|conf|cfg|cnf|ini|properties|ya?ml|toml|json|xml|txt|sh|bash|zsh|ps1"
    r"|py|rb|js|mjs|cjs|ts|php|pl|go|java|kt|scala|cs|tf|tfvars|sql)$",
    re.IGNORECASE,
)


def wants(path: str) -> int:
    """Bytes to read of ``path`` for secret scanning (0: not scanned); paths are image-relative."""
    if _EXCLUDED.match(path) or path.endswith(".pub"):
        return 0
    if _SECRET_PATHS.search(path) or _TEXT_EXTENSIONS.search(path) or path.startswith("etc/"):
        return MAX_SCAN_BYTES
    return 0


# --- scanning ----------------------------------------------------------------------------------

def _secret(match: re.Match[str]) -> str:
    for group in match.groups():
        if group:
            return group
    return match.group(0)


def _scan(path: str, text: str, rules: Iterable[SecretRule], target: str,
          line_of: Callable[[int], int]) -> list[SecretFinding]:
    lowered = text.lower()
    found: list[SecretFinding] = []
    for rule in rules:
        if target not in rule.targets:
            continue
        if target == "files" and rule.paths is not None and not rule.paths.search(path):
            continue
        if rule.keywords and not any(k in lowered for k in rule.keywords):
            continue
        if rule.context is not None and not rule.context.search(text):
            continue
        count = 0
        for match in rule.pattern.finditer(text):
            secret = _secret(match)
            if any(a in match.group(0) for a in rule.allow):
                continue
            found.append(SecretFinding(rule_id=rule.id, title=rule.title, severity=rule.severity, path=path,
                                       line=line_of(match.start()), redacted=redact(secret)))
            count += 1
            if count >= MAX_FINDINGS_PER_RULE:
                break
    return found


def is_binary(data: bytes) -> bool:
    return b"\x00" in data


def scan_text(path: str, data: bytes, rules: Sequence[SecretRule] | None = None) -> list[SecretFinding]:
    """Secrets in one file's content; binary-looking content (NUL bytes) is skipped."""
    if not isinstance(data, bytes | bytearray) or is_binary(data):
        return []
    text = bytes(data[:MAX_SCAN_BYTES]).decode("utf-8", errors="replace")

    def line_of(offset: int) -> int:
        return text.count("\n", 0, offset) + 1

    return _scan(path, text, load_rules() if rules is None else rules, "files", line_of)


def scan_env(env: Any, rules: Sequence[SecretRule] | None = None) -> list[SecretFinding]:
    """Secrets in the image config's ``Env`` entries (``NAME=value``); line = entry index + 1."""
    if not isinstance(env, list):
        return []
    active = load_rules() if rules is None else rules
    found: list[SecretFinding] = []
    for i, entry in enumerate(env):
        if isinstance(entry, str) and "=" in entry:
            found.extend(_scan(ENV_PATH, entry, active, "env", lambda _offset, n=i + 1: n))
    return found
