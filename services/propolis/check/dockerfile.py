"""Dockerfiles read into facts for the ``dockerfile`` decision point (``propolis check``).

A small parser of the Dockerfile syntax BuildKit reads: parser directives (``# escape=``, ``# syntax=``),
comments, line continuations (with the escape character), exec (JSON array) and shell forms, leading
``--flags``, heredocs (``RUN <<EOF`` ... ``EOF``: their bodies are kept, never parsed as instructions),
``ARG`` before the first ``FROM`` and multi-stage builds (``FROM ... AS name``, ``FROM name``).

It only gathers facts; whether they are acceptable is decided in Rego (policies/propolis/dockerfile).
Any text either parses or raises :class:`DockerfileError` naming the source and line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

#: Dockerfiles larger than this are refused (bytes, UTF-8).
MAX_DOCKERFILE_BYTES = 4 * 1024 * 1024

INSTRUCTIONS = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "MAINTAINER",
    "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
})
_HEREDOC_CMDS = frozenset({"RUN", "COPY", "ADD"})
_DIRECTIVE = re.compile(r"^#[ \t]*([A-Za-z][A-Za-z0-9_-]*)[ \t]*=[ \t]*(.*?)[ \t]*$")
_HEREDOC = re.compile(r"(?<!<)<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_.-]*)\2")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


class DockerfileError(ValueError):
    """A Dockerfile that cannot be read; the message names the source and the line (``Dockerfile:3: ...``)."""


@dataclass
class Instruction:
    cmd: str  # upper case
    args: str  # after the instruction name, continuations joined, flags included
    line: int  # 1-based line where the instruction starts
    stage: int  # index of its build stage; -1 for ARG before the first FROM
    flags: dict[str, str] = field(default_factory=dict)
    rest: str = ""  # args without the leading --flags
    exec_form: list[str] | None = None  # the JSON array form, when used
    heredocs: list[str] = field(default_factory=list)


@dataclass
class Dockerfile:
    source: str
    instructions: list[Instruction]
    escape: str = "\\"
    directives: dict[str, str] = field(default_factory=dict)


def looks_like_dockerfile(text: str) -> bool:
    """Whether the first instruction of ``text`` (past comments and blank lines) is FROM or ARG."""
    for raw in text.splitlines()[:200]:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word = line.split(None, 1)[0].upper()
        return word in ("FROM", "ARG")
    return False


def parse_dockerfile(text: str, source: str = "Dockerfile") -> Dockerfile:
    """The instructions of ``text``; raises :class:`DockerfileError` for text that is not a Dockerfile."""
    if not isinstance(text, str):
        raise DockerfileError(f"{source}:1: expected text, got {type(text).__name__}")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_DOCKERFILE_BYTES:
        raise DockerfileError(f"{source}:1: {size} bytes is over the {MAX_DOCKERFILE_BYTES}-byte limit")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    directives: dict[str, str] = {}
    i = 0
    while i < len(lines):  # parser directives: only at the very top, before any comment or blank line
        m = _DIRECTIVE.match(lines[i])
        if not m or m.group(1).lower() in directives:
            break
        directives[m.group(1).lower()] = m.group(2)
        i += 1
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileError(f"{source}:1: invalid escape directive {escape!r}: must be ` or \\")
    continuation = re.compile(re.escape(escape) + r"[ \t]*$")

    instructions: list[Instruction] = []
    stage = -1
    while i < len(lines):
        start = i
        first = lines[i]
        i += 1
        stripped = first.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = [first]
        while continuation.search(parts[-1]):
            parts[-1] = continuation.sub("", parts[-1])
            while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
                i += 1  # empty lines and comments inside a continuation are skipped
            if i >= len(lines):
                break
            parts.append(lines[i])
            i += 1
        joined = "".join(parts).strip()
        if not joined:
            continue
        words = joined.split(None, 1)
        cmd = words[0].upper()
        args = words[1].strip() if len(words) > 1 else ""
        if cmd not in INSTRUCTIONS:
            raise DockerfileError(f"{source}:{start + 1}: unknown instruction {words[0][:40]!r}")
        if cmd == "FROM":
            stage += 1
        elif stage < 0 and cmd != "ARG":
            raise DockerfileError(f"{source}:{start + 1}: {cmd} before the first FROM (only ARG may come first)")
        ins = Instruction(cmd=cmd, args=args, line=start + 1, stage=stage)
        ins.flags, ins.rest = _flags(args)
        if cmd in _HEREDOC_CMDS:
            for m in _HEREDOC.finditer(ins.rest):
                strip_tabs, delimiter = m.group(1) == "-", m.group(3)
                body: list[str] = []
                while i < len(lines):
                    line = lines[i]
                    i += 1
                    if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                        break
                    body.append(line.lstrip("\t") if strip_tabs else line)
                else:
                    raise DockerfileError(f"{source}:{start + 1}: heredoc <<{delimiter} is not terminated")
                ins.heredocs.append("\n".join(body))
        ins.exec_form = _exec_form(ins.rest)
        instructions.append(ins)
    if stage < 0:
        raise DockerfileError(f"{source}:1: no FROM instruction")
    return Dockerfile(source=source, instructions=instructions, escape=escape, directives=directives)


def _flags(args: str) -> tuple[dict[str, str], str]:
    """Leading ``--name[=value]`` flags of ``args`` and the rest."""
    flags: dict[str, str] = {}
    rest = args
    while rest.startswith("--"):
        word, _, tail = rest.partition(" ")
        name, _, value = word[2:].partition("=")
        if not name:
            break
        flags[name.lower()] = _unquote(value)
        rest = tail.lstrip()
    return flags, rest


def _exec_form(rest: str) -> list[str] | None:
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except (ValueError, RecursionError):
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _unquote(s: str) -> str:
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'":
        return s[1:-1]
    return s


def _words(s: str, escape: str) -> list[str]:
    """Shell-like words of ``s``: split on white space outside quotes, quotes removed, ``escape`` escaping."""
    words: list[str] = []
    cur: list[str] = []
    quote = ""
    has = False
    i = 0
    while i < len(s):
        c = s[i]
        if c == escape and quote != "'" and i + 1 < len(s):
            cur.append(s[i + 1])
            has = True
            i += 2
            continue
        if quote:
            if c == quote:
                quote = ""
            else:
                cur.append(c)
        elif c in "\"'":
            quote = c
            has = True
        elif c in " \t\n":
            if has or cur:
                words.append("".join(cur))
            cur, has = [], False
        else:
            cur.append(c)
            has = True
        i += 1
    if has or cur:
        words.append("".join(cur))
    return words


def _key_values(ins: Instruction, escape: str) -> list[tuple[str, str | None]]:
    """``KEY=value`` pairs of ENV/ARG/LABEL (value None: ARG without a default); ENV's legacy ``KEY value``."""
    words = _words(ins.rest, escape)
    if not words:
        return []
    if ins.cmd == "ENV" and "=" not in words[0]:
        legacy = ins.rest.split(None, 1)
        return [(legacy[0], " ".join(_words(legacy[1], escape)) if len(legacy) > 1 else "")]
    pairs: list[tuple[str, str | None]] = []
    for w in words:
        key, eq, value = w.partition("=")
        pairs.append((key, value if eq else None))
    return pairs


def _substitute(text: str, values: dict[str, str]) -> tuple[str, bool]:
    """``text`` with ``$VAR``/``${VAR}``/``${VAR:-default}`` replaced from ``values``; and whether it used any."""
    used = False

    def repl(m: re.Match[str]) -> str:
        nonlocal used
        used = True
        name = m.group(1) or m.group(4)
        value = values.get(name, "")
        op, word = m.group(2), m.group(3) or ""
        if op in (":-", "-"):
            return value if (value if op == ":-" else name in values) else word
        if op in (":+", "+"):
            return word if (value if op == ":+" else name in values) else ""
        return value

    return _VAR.sub(repl, text), used


def _image_parts(image: str) -> tuple[str, str, str]:
    """(repository, tag, digest) of an image reference as written."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    return name, tag, digest


def dockerfile_facts(df: Dockerfile) -> dict[str, Any]:
    """The input of ``data.propolis.dockerfile.decision``: ``{"dockerfile": {...}}``.

    ``stages``: per FROM its image as written and as resolved from ARG defaults, repository, tag, digest,
    alias, line, whether it is ``scratch``, an earlier stage, or uses build arguments (``variable``), and
    its USER (``user``: the last USER of the stage; ``effective_user``: that, else the effective user of
    the earlier stage it is built FROM, else "" for the base image's default). ``instructions``: every
    instruction (cmd, args, line, stage, flags, exec form, heredoc bodies). ``env``: ENV and ARG keys with
    their values as written (``value`` null for an ARG without default). ``adds``: ADD sources and
    destination. ``runs``: each RUN's script (shell form, exec form joined, heredoc bodies).
    """
    global_args: dict[str, str] = {}
    stages: list[dict[str, Any]] = []
    aliases: dict[str, int] = {}
    instructions: list[dict[str, Any]] = []
    env: list[dict[str, Any]] = []
    adds: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    for ins in df.instructions:
        instructions.append({"cmd": ins.cmd, "args": ins.args, "line": ins.line, "stage": ins.stage,
                             "flags": ins.flags, "exec": ins.exec_form, "heredocs": ins.heredocs})
        if ins.cmd == "ARG":
            for key, value in _key_values(ins, df.escape):
                if ins.stage < 0 and value is not None:
                    global_args[key] = _unquote(value)
                elif ins.stage < 0:
                    global_args.setdefault(key, "")
                env.append(_env_fact(ins, key, value))
        elif ins.cmd == "ENV":
            for key, value in _key_values(ins, df.escape):
                env.append(_env_fact(ins, key, value if value is not None else ""))
        elif ins.cmd == "FROM":
            words = _words(ins.rest, df.escape)
            written = words[0] if words else ""
            alias = words[2] if len(words) >= 3 and words[1].lower() == "as" else ""
            resolved, variable = _substitute(written, global_args)
            repo, tag, digest = _image_parts(resolved)
            base_stage = aliases.get(resolved.lower(), -1)
            stages.append({"index": ins.stage, "image": written, "resolved": resolved, "repository": repo,
                           "tag": tag, "digest": digest, "alias": alias, "line": ins.line,
                           "platform": ins.flags.get("platform", ""), "variable": variable,
                           "scratch": resolved.lower() == "scratch", "stage_ref": base_stage >= 0,
                           "base_stage": base_stage, "user": "", "user_line": 0, "effective_user": ""})
            if alias:
                aliases[alias.lower()] = ins.stage
        elif ins.cmd == "USER" and stages:
            words = _words(ins.rest, df.escape)
            stages[-1]["user"] = words[0] if words else ""
            stages[-1]["user_line"] = ins.line
        elif ins.cmd == "ADD":
            argv = ins.exec_form if ins.exec_form is not None else _words(ins.rest, df.escape)
            adds.append({"sources": argv[:-1], "dest": argv[-1] if argv else "", "line": ins.line,
                         "stage": ins.stage, "flags": ins.flags})
        elif ins.cmd == "RUN":
            script = " ".join(ins.exec_form) if ins.exec_form is not None else ins.rest
            runs.append({"script": "\n".join([script, *ins.heredocs]), "line": ins.line, "stage": ins.stage,
                         "exec_form": ins.exec_form is not None})
    for s in stages:
        s["effective_user"] = s["user"] or (stages[s["base_stage"]]["effective_user"] if s["stage_ref"] else "")
    return {"dockerfile": {"file": df.source, "directives": df.directives, "stages": stages,
                           "final_stage": len(stages) - 1, "instructions": instructions, "env": env, "adds": adds,
                           "runs": runs}}


def _env_fact(ins: Instruction, key: str, value: str | None) -> dict[str, Any]:
    return {"instruction": ins.cmd, "key": key, "value": value, "line": ins.line, "stage": ins.stage}
