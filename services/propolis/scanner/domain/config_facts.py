"""Facts about an image's configuration, for later policy decisions.

These are observations, not verdicts: who the container runs as, what it exposes, which
environment variables it sets (names only), how it starts, whether it has a health check, and
build steps recorded in its history that are commonly considered risky. The image config is
untrusted input, so any field may be missing or of any type; :func:`config_facts` never raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec


class HistoryFinding(msgspec.Struct, frozen=True):
    rule: str
    title: str
    #: Index of the layer the step produced (0-based), or None for steps that made no layer.
    layer_index: int | None
    created_by: str
    #: Index of the step in the config's ``history`` list.
    history_index: int = 0


class PathFact(msgspec.Struct, frozen=True):
    """A path of the final filesystem with a notable mode, and the layer that put it there."""

    path: str
    #: Permission bits in octal, with setuid/setgid/sticky (``"4755"``, ``"1777"``).
    mode: str
    #: "file" or "dir".
    kind: str
    layer_index: int
    diff_id: str = ""
    #: Directories only: the sticky bit (a world-writable /tmp with it is normal, without it a risk).
    sticky: bool = False


class ConfigFacts(msgspec.Struct, frozen=True):
    user: str = ""
    runs_as_root: bool = True
    exposed_ports: list[str] = []
    env_names: list[str] = []
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    has_healthcheck: bool = False
    history_findings: list[HistoryFinding] = []
    #: From the layers, not the config (see :func:`filesystem_facts`): regular files with setuid or
    #: setgid bits, and world-writable regular files and directories, in the final filesystem.
    setuid_files: list[PathFact] = []
    setgid_files: list[PathFact] = []
    world_writable: list[PathFact] = []


_SHELL = r"(?:/usr)?(?:/bin/)?(?:ba|z|da|k|a)?sh\b"
_FETCH = r"\b(?:curl|wget)\b"

#: (rule, title, pattern) checked against each history step's ``created_by``.
HISTORY_RULES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("pipe-to-shell", "Downloaded script piped into a shell",
     re.compile(
         _FETCH + r"[^|;&\n]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:env\s+)?" + _SHELL
         + r"|" + _SHELL + r"\s+-c\s+[\"']?\$\(\s*" + _FETCH
         + r"|" + _SHELL + r"\s+<\(\s*" + _FETCH)),
    ("add-from-url", "ADD instruction fetching a remote URL",
     re.compile(r"\bADD\s+(?:--\S+\s+)*[\"']?https?://")),
    ("chmod-777", "World-writable permissions set with chmod 777",
     re.compile(r"\bchmod\s+(?:-\S+\s+)*0?777\b")),
    ("sudo", "sudo used in a build step",
     re.compile(r"(?:^|[;&|(]|\s-c\s+[\"']?|\bRUN\s+|\bexec\s+)\s*sudo\s+\S")),
)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _is_root(user: str) -> bool:
    name = user.strip().split(":", 1)[0].strip()
    if name in ("", "root"):
        return True
    return re.fullmatch(r"0+", name) is not None


def _port_key(port: str) -> tuple[int, int, str]:
    m = re.fullmatch(r"([0-9]{1,5})/(.*)", port)
    return (0, int(m.group(1)), m.group(2)) if m else (1, 0, port)


def _ports(value: Any) -> list[str]:
    if isinstance(value, dict):
        raw = list(value)
    elif isinstance(value, list):
        raw = value
    else:
        return []
    ports: set[str] = set()
    for item in raw:
        if isinstance(item, int) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str) or not item.strip():
            continue
        p = item.strip()
        m = re.fullmatch(r"([0-9]{1,5})(?:/([A-Za-z]+))?", p)
        if m:
            p = f"{int(m.group(1))}/{(m.group(2) or 'tcp').lower()}"
        ports.add(p)
    return sorted(ports, key=_port_key)


def _env_names(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    names: dict[str, None] = {}
    for item in value:
        if isinstance(item, str):
            name = item.split("=", 1)[0].strip()
            if name:
                names[name] = None
    return list(names)


def _argv(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [x for x in value if isinstance(x, str)]
    return None


def _has_healthcheck(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    test = value.get("Test")
    if isinstance(test, str):
        return bool(test.strip()) and test.strip().upper() != "NONE"
    if not isinstance(test, list) or not test:
        return False
    first = test[0]
    if first == "NONE":
        return False
    if first in ("CMD", "CMD-SHELL"):
        return any(isinstance(x, str) and x.strip() for x in test[1:])
    return True


def history_findings(history: Any) -> list[HistoryFinding]:
    if not isinstance(history, list):
        return []
    found: list[HistoryFinding] = []
    layer = 0
    for i, step in enumerate(history):
        if not isinstance(step, dict):
            continue
        empty = step.get("empty_layer") is True
        created_by = _str(step.get("created_by"))
        layer_index = None if empty else layer
        if not empty:
            layer += 1
        if not created_by:
            continue
        for rule, title, pattern in HISTORY_RULES:
            if pattern.search(created_by):
                found.append(HistoryFinding(rule=rule, title=title, layer_index=layer_index,
                                            created_by=created_by, history_index=i))
    return found


def config_facts(config: Any) -> ConfigFacts:
    """Facts from an image config JSON document (the whole document, with ``config`` and ``history``)."""
    if not isinstance(config, dict):
        return ConfigFacts()
    inner = config.get("config")
    if not isinstance(inner, dict):
        inner = {}
    user = _str(inner.get("User"))
    return ConfigFacts(
        user=user,
        runs_as_root=_is_root(user),
        exposed_ports=_ports(inner.get("ExposedPorts")),
        env_names=_env_names(inner.get("Env")),
        entrypoint=_argv(inner.get("Entrypoint")),
        cmd=_argv(inner.get("Cmd")),
        has_healthcheck=_has_healthcheck(inner.get("Healthcheck")),
        history_findings=history_findings(config.get("history")),
    )


def filesystem_facts(entries: Iterable[tuple[str, int, str, int]],
                     diff_ids: Sequence[str]) -> dict[str, list[PathFact]]:
    """``setuid_files``/``setgid_files``/``world_writable`` from (path, mode, kind, layer index) of the final view."""
    out: dict[str, list[PathFact]] = {"setuid_files": [], "setgid_files": [], "world_writable": []}
    for path, mode, kind, layer in sorted(entries):
        fact = PathFact(path=path, mode=f"{mode & 0o7777:04o}", kind=kind, layer_index=layer,
                        diff_id=diff_ids[layer] if 0 <= layer < len(diff_ids) else "",
                        sticky=kind == "dir" and bool(mode & 0o1000))
        if kind == "file" and mode & 0o4000:
            out["setuid_files"].append(fact)
        if kind == "file" and mode & 0o2000:
            out["setgid_files"].append(fact)
        if mode & 0o002:
            out["world_writable"].append(fact)
    return out
