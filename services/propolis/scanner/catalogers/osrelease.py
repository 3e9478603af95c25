"""The image's operating system: ``os-release`` and the older release files it replaced.

Not a package cataloger: :func:`parse_os_release` is called once per image with the files at
:data:`OS_RELEASE_PATHS` (those present), and its result feeds every cataloger's purl
``distro`` qualifier. ``etc/os-release`` wins over ``usr/lib/os-release`` (os-release(5));
the distribution-specific files are used only when neither yields an ``ID``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from propolis.scanner.catalogers.interface import Cataloger
from propolis.scanner.domain.model import OSRelease

OS_RELEASE_PATHS: tuple[str, ...] = (
    "etc/os-release",
    "usr/lib/os-release",
    "etc/alpine-release",
    "etc/debian_version",
    "etc/redhat-release",
    "etc/lsb-release",
)

#: Not a package cataloger: the image's OS is read by the catalogue itself.
CATALOGERS: list[Cataloger] = []

#: Release files are a few hundred bytes; anything far larger is not one.
MAX_RELEASE_BYTES = 64 * 1024

_DQ_ESCAPABLE = frozenset('$`"\\\n')


def parse_env_file(text: str) -> dict[str, str]:
    """``KEY=value`` assignments in the shell-compatible subset os-release(5) allows.

    Values may be unquoted (a backslash escapes the next character), in double quotes (a
    backslash escapes ``$`` ````` ``"`` ``\\`` and newline, and is literal before anything
    else) or in single quotes (no escapes); quoted and unquoted parts concatenate as in the
    shell. ``#`` starts a comment at the beginning of a line. Lines that are not assignments
    are ignored; later assignments override earlier ones.
    """
    out: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        # Start of a line: skip leading blanks, comments and empty lines.
        while i < n and text[i] in " \t\r":
            i += 1
        if i >= n:
            break
        if text[i] == "\n":
            i += 1
            continue
        if text[i] in "#;":
            i = _line_end(text, i)
            continue
        m = _KEY.match(text, i)
        if not m:
            i = _line_end(text, i)
            continue
        key = m.group(1)
        i = m.end()
        value, i = _read_value(text, i)
        out[key] = value
    return out


_KEY = re.compile(r"(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*")


def _line_end(text: str, i: int) -> int:
    j = text.find("\n", i)
    return len(text) if j < 0 else j + 1


def _read_value(text: str, i: int) -> tuple[str, int]:
    """One value from ``i`` up to the end of its line (quoted parts may span lines)."""
    parts: list[str] = []
    n = len(text)
    trailing = 0  # unquoted whitespace at the end, dropped
    while i < n:
        c = text[i]
        if c == "\n":
            i += 1
            break
        if c == "'":
            j = text.find("'", i + 1)
            if j < 0:  # unterminated: the rest of the line, literally
                j = text.find("\n", i + 1)
                j = n if j < 0 else j
                parts.append(text[i + 1:j].rstrip("\r"))
                i = j
                trailing = 0
                continue
            parts.append(text[i + 1:j])
            i = j + 1
            trailing = 0
            continue
        if c == '"':
            i += 1
            buf: list[str] = []
            while i < n and text[i] != '"':
                ch = text[i]
                if ch == "\\" and i + 1 < n:
                    nxt = text[i + 1]
                    if nxt == "\n":
                        i += 2
                        continue
                    if nxt in _DQ_ESCAPABLE:
                        buf.append(nxt)
                        i += 2
                        continue
                buf.append(ch)
                i += 1
            parts.append("".join(buf))
            i += 1  # the closing quote (or past the end when unterminated)
            trailing = 0
            continue
        if c == "\\":
            if i + 1 < n:
                nxt = text[i + 1]
                if nxt != "\n":
                    parts.append(nxt)
                i += 2
                trailing = 0
                continue
            i += 1
            continue
        if c == "\r" and (i + 1 >= n or text[i + 1] == "\n"):
            i += 1
            continue
        parts.append(c)
        trailing = trailing + 1 if c in " \t" else 0
        i += 1
    value = "".join(parts)
    if trailing:
        value = value[:-trailing]
    return value, i


def _decode(data: bytes) -> str:
    return data[:MAX_RELEASE_BYTES].decode("utf-8", errors="replace")


def _from_os_release(data: bytes) -> OSRelease | None:
    kv = parse_env_file(_decode(data))
    if not kv:
        return None
    os_id = kv.get("ID", "").strip().lower() or _DEFAULT_ID
    return OSRelease(
        id=os_id,
        version_id=kv.get("VERSION_ID", "").strip(),
        version_codename=(kv.get("VERSION_CODENAME") or kv.get("UBUNTU_CODENAME") or "").strip(),
        name=kv.get("NAME", "").strip(),
        pretty_name=kv.get("PRETTY_NAME", "").strip(),
        id_like=[w.lower() for w in kv.get("ID_LIKE", "").split()],
    )


_DEFAULT_ID = "linux"


def _has_id(data: bytes) -> bool:
    return bool(parse_env_file(_decode(data)).get("ID", "").strip())


def _first_line(data: bytes) -> str:
    for line in _decode(data).splitlines():
        if line.strip():
            return line.strip()
    return ""


def _from_alpine_release(data: bytes) -> OSRelease | None:
    version = _first_line(data)
    if not version:
        return None
    return OSRelease(id="alpine", version_id=version, name="Alpine Linux",
                     pretty_name=f"Alpine Linux v{version}")


def _from_debian_version(data: bytes) -> OSRelease | None:
    version = _first_line(data)
    if not version:
        return None
    if re.fullmatch(r"[0-9][0-9.]*", version):
        return OSRelease(id="debian", version_id=version.split(".")[0], name="Debian GNU/Linux",
                         pretty_name=f"Debian GNU/Linux {version}")
    # testing/unstable: "bookworm/sid"
    codename = version.split("/")[0]
    return OSRelease(id="debian", version_codename=codename, name="Debian GNU/Linux",
                     pretty_name=f"Debian GNU/Linux {version}")


#: ``redhat-release`` lines: "CentOS Linux release 7.9.2009 (Core)", "Red Hat Enterprise Linux
#: Server release 7.9 (Maipo)", "Fedora release 30 (Thirty)", "Rocky Linux release 8.8 (Green Obsidian)".
_REDHAT = re.compile(r"^(?P<name>.+?)\s+release\s+(?P<version>[0-9][^\s(]*)\s*(?:\((?P<codename>[^)]*)\))?")
_REDHAT_IDS = (
    ("red hat enterprise linux", "rhel"),
    ("centos stream", "centos"),
    ("centos", "centos"),
    ("fedora", "fedora"),
    ("rocky", "rocky"),
    ("almalinux", "almalinux"),
    ("oracle linux", "ol"),
    ("amazon linux", "amzn"),
    ("scientific linux", "scientific"),
)


def _from_redhat_release(data: bytes) -> OSRelease | None:
    line = _first_line(data)
    m = _REDHAT.match(line)
    if not m:
        return None
    name = m.group("name").strip()
    lowered = name.lower()
    os_id = next((i for prefix, i in _REDHAT_IDS if lowered.startswith(prefix)), "")
    if not os_id:
        os_id = re.sub(r"[^a-z0-9._-]+", "", lowered.split()[0]) if lowered.split() else ""
    if not os_id:
        return None
    return OSRelease(id=os_id, version_id=m.group("version"), version_codename=(m.group("codename") or "").strip(),
                     name=name, pretty_name=line, id_like=[x for x in ("rhel", "fedora") if x != os_id])


def _from_lsb_release(data: bytes) -> OSRelease | None:
    kv = parse_env_file(_decode(data))
    os_id = kv.get("DISTRIB_ID", "").strip().lower()
    if not os_id:
        return None
    return OSRelease(id=os_id, version_id=kv.get("DISTRIB_RELEASE", "").strip(),
                     version_codename=kv.get("DISTRIB_CODENAME", "").strip(),
                     name=kv.get("DISTRIB_ID", "").strip(), pretty_name=kv.get("DISTRIB_DESCRIPTION", "").strip())


_PARSERS = (
    ("etc/os-release", _from_os_release),
    ("usr/lib/os-release", _from_os_release),
    ("etc/alpine-release", _from_alpine_release),
    ("etc/redhat-release", _from_redhat_release),
    ("etc/lsb-release", _from_lsb_release),
    ("etc/debian_version", _from_debian_version),
)


def _normalise(path: str) -> str:
    p = path
    while p.startswith("./"):
        p = p[2:]
    return p.lstrip("/")


def parse_os_release(files: Mapping[str, bytes]) -> OSRelease | None:
    """The image's OS from whichever of :data:`OS_RELEASE_PATHS` are in ``files`` (path → content).

    ``None`` when none of them identifies a distribution. Never raises on malformed content.
    """
    by_path = {_normalise(p): v for p, v in files.items()}
    without_id: OSRelease | None = None
    for path, parse in _PARSERS:
        data = by_path.get(path)
        if data is None:
            continue
        try:
            found = parse(bytes(data))
        except Exception:  # defensive: a release file must never break a scan
            found = None
        if found is None:
            continue
        if found.id == _DEFAULT_ID and parse is _from_os_release and not _has_id(data):
            # os-release without ID: "linux" per os-release(5), unless an older file is more precise.
            without_id = without_id or found
            continue
        return found
    return without_id
