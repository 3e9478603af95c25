"""Go modules: ``go.mod`` / ``go.sum`` files and the build information embedded in Go binaries.

Two catalogers live here, because they read very different files:

``go-module``
    ``go.mod``: ``require`` lines and blocks (``// indirect`` kept in the metadata), ``replace``
    directives applied (a module replaced by a local folder is kept without a version and with
    ``replaced_by`` in its metadata, since its code is not the published one), the module itself
    without a version, and ``stdlib`` at the ``toolchain`` version, or else at the minimum ``go``
    version. ``go.sum``: every module version listed; a version that only has a ``/go.mod`` hash
    line is kept too and marked ``go_mod_only``. When a ``go.mod`` and a ``go.sum`` share a
    folder, the ``go.mod`` wins: since Go 1.17 it lists every module in the build graph, so the
    ``go.sum`` only adds the modules the ``go.mod`` lacks when the module declares an older ``go``
    version. ``go.mod`` files inside a Go module cache (``pkg/mod/<module>@<version>/``) and inside
    the Go distribution's own source tree are dependencies' manifests, not what the image runs,
    and are not wanted. A go.mod over 1 MiB (or a line over 64 KiB in one) is reported rather than
    read; go.sum files are read up to 4 MiB.

``go-binary``
    The build information the Go linker (1.13 and later) writes into every executable: the
    ``.go.buildinfo`` ELF section, or the ``\\xff Go buildinf:`` header found by scanning the file.
    Both layouts are read: Go ≥ 1.18 writes the Go version and the module information inline as
    varint-prefixed strings; older releases write pointers to two Go string headers, which are
    resolved through the ELF ``PT_LOAD`` segments (so pre-1.18 binaries are read from ELF files
    only). Packages: the main module (``mod``; ``(devel)`` becomes an empty version), every
    dependency (``dep``, with a following ``=>`` replacement applied, local folders as for go.mod)
    and ``stdlib`` at the Go version the binary was built with (``go1.22.5`` → ``v1.22.5``).

    Which paths are wanted: the layer reader does not pass file modes, so the rule goes by path.
    A file is wanted when

    * its parent folder is named ``bin`` or ``sbin`` (``usr/bin``, ``usr/local/bin``, ``bin``,
      ``sbin``, ``usr/sbin``, ``go/bin``, ``root/go/bin``, ``opt/tool/bin`` …) and its name does
      not end in a script, text or data suffix (``.sh``, ``.py``, ``.json`` …); or
    * it lies under ``app/``, ``opt/``, ``srv/``, ``ko-app/`` or ``usr/libexec/`` (any depth) and its
      name has no suffix at all; or
    * it sits in the image root and its name has no suffix (``/manager``, ``/server`` in
      scratch and distroless images).

    Files are then checked by content: only ELF, Mach-O and PE files are looked at, and one without
    Go build information (a C program, say) is skipped silently. Files over 256 MiB are not read.
    ELF sections are located with pyelftools once :func:`elf_sanity` has checked that the header
    tables are within bounds; otherwise the file is scanned for the header. A malformed module
    information line is reported as an issue and the other lines are still read.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from propolis.scanner.catalogers._common import lenient_text, note, purl_or_empty
from propolis.scanner.catalogers.interface import CatalogContext, CatalogOutput
from propolis.scanner.domain.model import CatalogIssue, Location, Package

BUILDINFO_MAGIC = b"\xff Go buildinf:"
_HEADER_SIZE = 32
_FLAG_BIG_ENDIAN = 0x1
_FLAG_INLINE = 0x2
#: Largest module-information string accepted (real ones are a few KiB to a few hundred KiB).
_MAX_MODINFO = 16 * 1024 * 1024
#: How many magic occurrences are tried when the file has no ``.go.buildinfo`` section.
_MAX_MAGIC_CANDIDATES = 16
#: Go ≥ 1.18 wraps the module information in these 16-byte sentinels (only their length matters).
_SENTINEL_LEN = 16
_EXECUTABLE_MAGICS = (
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
    b"MZ",
)

_APP_ROOTS = ("app/", "opt/", "srv/", "ko-app/", "usr/libexec/", "usr/local/libexec/")
_NOT_EXECUTABLE_SUFFIXES = frozenset(
    {
        ".sh", ".bash", ".zsh", ".csh", ".fish", ".py", ".pyc", ".pl", ".pm", ".rb", ".php", ".js",
        ".mjs", ".cjs", ".ts", ".lua", ".tcl", ".awk", ".sed", ".txt", ".md", ".rst", ".json",
        ".yaml", ".yml", ".toml", ".xml", ".html", ".htm", ".conf", ".cfg", ".ini", ".properties",
        ".jar", ".war", ".ear", ".class", ".gz", ".xz", ".bz2", ".zst", ".tar", ".zip", ".a", ".o",
        ".h", ".c", ".go", ".rs", ".java", ".css", ".svg", ".png", ".jpg", ".gif", ".ico", ".pem",
        ".crt", ".key", ".csv", ".log", ".lock", ".mod", ".sum", ".bat", ".cmd", ".ps1",
    }
)  # fmt: skip


def looks_like_executable_path(path: str) -> bool:
    """The path rule for compiled programs (see the module docstring); shared with the Rust cataloger."""
    path = path.lstrip("/")
    if not path or path.endswith("/"):
        return False
    parent, _, base = path.rpartition("/")
    if not base or base in (".", ".."):
        return False
    dot = base.rfind(".")
    suffix = base[dot:].lower() if dot > 0 else ""
    parent_name = parent.rpartition("/")[2]
    if parent_name in ("bin", "sbin"):
        return suffix not in _NOT_EXECUTABLE_SUFFIXES
    if suffix:
        return False
    if not parent:
        return True
    return any(path.startswith(root) for root in _APP_ROOTS)


class ExecutableCataloger:
    """A cataloger of compiled programs: the files :func:`looks_like_executable_path` picks."""

    name: ClassVar[str]
    max_file_bytes: ClassVar[int] = 256 * 1024 * 1024

    def wants(self, path: str) -> bool:
        return looks_like_executable_path(path)


def _is_executable_content(data: bytes) -> bool:
    return any(data.startswith(m) for m in _EXECUTABLE_MAGICS)


def golang_purl(module: str, version: str) -> str:
    """``pkg:golang/<namespace>/<name>@<version>``: the module path's last element is the name."""
    namespace, _, name = module.rpartition("/")
    return purl_or_empty("golang", name, version, namespace or None)


def _go_package(
    module: str, version: str, path: str, metadata: dict[str, Any] | None = None, licenses: list[str] | None = None
) -> Package:
    return Package(
        name=module,
        version=version,
        ecosystem="golang",
        purl=golang_purl(module, version),
        licenses=licenses or [],
        locations=[Location(path=path)],
        metadata=metadata or {},
    )


def stdlib_version(go_version: str) -> str:
    """``go1.22.5`` (possibly followed by experiment tags) → ``v1.22.5``; ``""`` for devel builds."""
    token = go_version.strip().split(" ", 1)[0] if go_version.strip() else ""
    m = re.fullmatch(r"(?:go)?(\d+)\.(\d+)(?:\.(\d+))?((?:rc|beta)\d+)?", token)
    if not m:
        return ""
    major, minor, patch, pre = m.groups()
    version = f"v{major}.{minor}"
    if patch is not None:
        version += f".{patch}"
    if pre:
        version += f"-{pre}"
    return version


# ---------------------------------------------------------------------------------------------
# go.mod / go.sum


_TOKEN = re.compile(
    r"""(?P<comment>//.*)
      | "(?P<dq>[^"\\]*(?:\\.[^"\\]*)*)"?
      | `(?P<bq>[^`]*)`?
      | (?P<paren>[()])
      | (?P<word>(?:[^\s()"`/]+|/(?!/))+)
    """,
    re.X,
)
_ESCAPE = re.compile(r"\\(.)")
#: Real go.mod files are a few KiB; go.sum files can be larger (up to the cataloger's limit).
MAX_GO_MOD_BYTES = 1024 * 1024
#: go.mod lines are short; a longer one is not go.mod syntax and is reported, not tokenized.
MAX_GO_MOD_LINE = 64 * 1024


def _tokenize(line: str) -> tuple[list[str], str]:
    """Tokens of one go.mod line and its trailing ``//`` comment (without the slashes)."""
    tokens: list[str] = []
    for comment, dq, bq, paren, word in _TOKEN.findall(line):
        if comment:
            return tokens, comment[2:].strip()
        if word or paren:
            tokens.append(word or paren)
        elif "\\" in dq:
            tokens.append(_ESCAPE.sub(r"\1", dq))
        else:
            tokens.append(dq or bq)
    return tokens, ""


@dataclass
class GoMod:
    module: str = ""
    go: str = ""
    toolchain: str = ""
    #: module path → (version, indirect)
    requires: dict[str, tuple[str, bool]] = field(default_factory=dict)
    #: (old path, old version or "", new path, new version or "")
    replaces: list[tuple[str, str, str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def error(self, message: str) -> None:
        note(self.errors, message)


def parse_go_mod(text: str) -> GoMod:
    """The parts of a go.mod that name modules; malformed lines are recorded in ``errors``."""
    mod = GoMod()
    block: str | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        if len(raw) > MAX_GO_MOD_LINE:
            mod.error(f"line {lineno} is longer than {MAX_GO_MOD_LINE} characters; skipped")
            continue
        tokens, comment = _tokenize(raw)
        if not tokens:
            continue
        if block is not None:
            if tokens == [")"]:
                block = None
                continue
            _directive(mod, block, tokens, comment, lineno)
            continue
        verb, args = tokens[0], tokens[1:]
        if args[:1] == ["("]:
            if args[1:] == [")"]:
                continue
            if len(args) != 1:
                mod.error(f"line {lineno}: unexpected text after '{verb} ('")
                continue
            block = verb
            continue
        _directive(mod, verb, args, comment, lineno)
    if block is not None:
        mod.error(f"'{block} (' block is not closed before the end of the file")
    return mod


def _directive(mod: GoMod, verb: str, args: list[str], comment: str, lineno: int) -> None:
    if verb == "module":
        if len(args) != 1:
            mod.error(f"line {lineno}: module needs exactly one path")
        else:
            mod.module = args[0]
    elif verb == "go":
        if len(args) != 1:
            mod.error(f"line {lineno}: go needs exactly one version")
        else:
            mod.go = args[0]
    elif verb == "toolchain":
        if len(args) != 1:
            mod.error(f"line {lineno}: toolchain needs exactly one name")
        else:
            mod.toolchain = args[0]
    elif verb == "require":
        if len(args) != 2:
            mod.error(f"line {lineno}: require needs a module path and a version")
        else:
            indirect = comment == "indirect" or comment.startswith("indirect;")
            mod.requires[args[0]] = (args[1], indirect)
    elif verb == "replace":
        if "=>" not in args:
            mod.error(f"line {lineno}: replace has no '=>'")
            return
        arrow = args.index("=>")
        old, new = args[:arrow], args[arrow + 1 :]
        if len(old) not in (1, 2) or len(new) not in (1, 2):
            mod.error(f"line {lineno}: replace needs 'path [version] => path [version]'")
            return
        mod.replaces.append((old[0], old[1] if len(old) == 2 else "", new[0], new[1] if len(new) == 2 else ""))
    # exclude, retract, godebug, tool, ignore and unknown verbs do not name what is built.


def _is_local_path(p: str) -> bool:
    return (
        p.startswith(("./", "../", "/", ".\\", "..\\"))
        or p in (".", "..")
        or re.match(r"^[A-Za-z]:[\\/]", p) is not None
    )


def _go_version_at_least(version: str, major: int, minor: int) -> bool:
    m = re.match(r"(\d+)\.(\d+)", version)
    return bool(m) and (int(m.group(1)), int(m.group(2))) >= (major, minor)


def go_mod_packages(mod: GoMod, path: str) -> list[Package]:
    packages: list[Package] = []
    if mod.module:
        packages.append(_go_package(mod.module, "", path, {"main": True}))
    modules: dict[str, tuple[str, dict[str, Any]]] = {}
    for module, (version, indirect) in mod.requires.items():
        modules[module] = (version, {"indirect": True} if indirect else {})
    for old, old_version, new, new_version in mod.replaces:
        if old not in modules:
            continue
        version, meta = modules[old]
        if old_version and old_version != version:
            continue
        meta = dict(meta)
        del modules[old]
        if _is_local_path(new) or not new_version:
            # The code comes from a folder in the build, not from the module proxy.
            meta["replaced_by"] = new
            meta["replaced_version"] = version
            modules[old] = ("", meta)
        else:
            meta["replaces"] = f"{old}@{version}"
            modules[new] = (new_version, meta)
    for module, (version, meta) in modules.items():
        packages.append(_go_package(module, version, path, meta))
    toolchain_version = stdlib_version(mod.toolchain) if mod.toolchain.startswith("go") else ""
    if toolchain_version:
        packages.append(_go_package("stdlib", toolchain_version, path, {"from": "toolchain"}))
    elif stdlib_version(mod.go):
        packages.append(_go_package("stdlib", stdlib_version(mod.go), path, {"from": "go", "min_version": True}))
    return packages


def parse_go_sum(text: str) -> tuple[dict[tuple[str, str], bool], list[str]]:
    """``(module, version) → go_mod_only`` for every line, and the malformed lines."""
    found: dict[tuple[str, str], bool] = {}
    errors: list[str] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        fields = raw.split()
        if not fields:
            continue
        if len(fields) != 3 or not fields[2].startswith("h") or ":" not in fields[2]:
            note(errors, f"line {lineno}: expected 'module version hash'")
            continue
        module, version = fields[0], fields[1]
        go_mod_only = version.endswith("/go.mod")
        if go_mod_only:
            version = version[: -len("/go.mod")]
        if not version:
            note(errors, f"line {lineno}: empty version")
            continue
        found[(module, version)] = found.get((module, version), True) and go_mod_only
    return found, errors


def _go_sum_packages(found: dict[tuple[str, str], bool], path: str, skip: set[str]) -> list[Package]:
    out = []
    for (module, version), go_mod_only in found.items():
        if module in skip:
            continue
        out.append(_go_package(module, version, path, {"go_mod_only": True} if go_mod_only else {}))
    return out


def _in_module_cache_or_goroot(path: str) -> bool:
    parts = path.split("/")
    for i in range(len(parts) - 2):
        if parts[i] == "pkg" and parts[i + 1] == "mod" and any("@" in p for p in parts[i + 2 : -1]):
            return True
    return re.match(r"^(usr/local/go|usr/lib/go(-[\d.]+)?|usr/share/go(-[\d.]+)?)/src/", path) is not None


class GoModuleCataloger:
    name: ClassVar[str] = "go-module"
    max_file_bytes: ClassVar[int] = 4 * 1024 * 1024

    def wants(self, path: str) -> bool:
        base = path.rpartition("/")[2]
        return base in ("go.mod", "go.sum") and not _in_module_cache_or_goroot(path.lstrip("/"))

    def catalog(self, files: Mapping[str, bytes], ctx: CatalogContext) -> CatalogOutput:
        out = CatalogOutput()
        mods: dict[str, tuple[str, GoMod]] = {}
        sums: dict[str, tuple[str, bytes]] = {}
        for path, data in files.items():
            folder, _, base = path.rpartition("/")
            if base == "go.sum":
                sums[folder] = (path, data)
                continue
            if base != "go.mod":
                continue
            if len(data) > MAX_GO_MOD_BYTES:
                message = f"go.mod is larger than {MAX_GO_MOD_BYTES} bytes; not read"
                out.issues.append(CatalogIssue(cataloger=self.name, path=path, message=message))
                continue
            try:
                mod = parse_go_mod(lenient_text(data))
                mods[folder] = (path, mod)
                out.packages.extend(go_mod_packages(mod, path))
                for err in mod.errors[:20]:
                    out.issues.append(CatalogIssue(cataloger=self.name, path=path, message=f"go.mod {err}"))
            except Exception as exc:  # safety net: a cataloger never raises
                out.issues.append(
                    CatalogIssue(
                        cataloger=self.name, path=path, message=f"go.mod unreadable: {type(exc).__name__}: {exc}"
                    )
                )
        for folder, (path, data) in sums.items():
            try:
                found, errors = parse_go_sum(lenient_text(data))
                skip: set[str] = set()
                if folder in mods:
                    _, mod = mods[folder]
                    if _go_version_at_least(mod.go, 1, 17):
                        continue  # the go.mod already lists the whole build graph
                    skip = (
                        set(mod.requires) | {mod.module} | {r[2] for r in mod.replaces} | {r[0] for r in mod.replaces}
                    )
                out.packages.extend(_go_sum_packages(found, path, skip))
                for err in errors[:20]:
                    out.issues.append(CatalogIssue(cataloger=self.name, path=path, message=f"go.sum {err}"))
            except Exception as exc:  # safety net
                out.issues.append(
                    CatalogIssue(
                        cataloger=self.name, path=path, message=f"go.sum unreadable: {type(exc).__name__}: {exc}"
                    )
                )
        return out


# ---------------------------------------------------------------------------------------------
# Go build information in binaries


class BuildInfoError(ValueError):
    """The build-information header was found but could not be read."""


@dataclass
class GoModule:
    path: str
    version: str
    sum: str = ""
    replace: GoModule | None = None


@dataclass
class BuildInfo:
    go_version: str
    path: str = ""
    main: GoModule | None = None
    deps: list[GoModule] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    for i in range(10):
        if pos + i >= len(buf):
            raise BuildInfoError("truncated varint in build information")
        b = buf[pos + i]
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos + i + 1
        shift += 7
    raise BuildInfoError("varint in build information is too long")


def _varint_string(buf: bytes, pos: int) -> tuple[bytes, int]:
    length, pos = _uvarint(buf, pos)
    if length > _MAX_MODINFO:
        raise BuildInfoError(f"build information string of {length} bytes is implausibly long")
    if pos + length > len(buf):
        raise BuildInfoError("build information string runs past the end of the file")
    return buf[pos : pos + length], pos + length


class _AddressSpace:
    """Virtual address → file offset through the ELF PT_LOAD segments."""

    def __init__(self, data: bytes, segments: list[tuple[int, int, int]]):
        self.data = data
        self.segments = segments  # (vaddr, offset, filesz)

    def read(self, addr: int, size: int) -> bytes:
        for vaddr, offset, filesz in self.segments:
            if vaddr <= addr and addr + size <= vaddr + filesz:
                start = offset + (addr - vaddr)
                if start + size <= len(self.data):
                    return self.data[start : start + size]
        raise BuildInfoError(f"address {addr:#x} (+{size}) is outside the file's loaded segments")


def _strip_sentinels(mod: bytes) -> bytes:
    """The text between the sentinels; module information without them is not trusted (as Go does)."""
    if len(mod) >= 2 * _SENTINEL_LEN + 1 and mod[-_SENTINEL_LEN - 1] == 0x0A:
        return mod[_SENTINEL_LEN:-_SENTINEL_LEN]
    return b""


def _parse_header(blob: bytes, pos: int, space: _AddressSpace | None) -> tuple[str, str]:
    """Go version and module information from the header at ``blob[pos:]``."""
    header = blob[pos : pos + _HEADER_SIZE]
    if len(header) < _HEADER_SIZE:
        raise BuildInfoError("build information header is truncated")
    ptr_size, flags = header[14], header[15]
    if flags & _FLAG_INLINE:
        version, nxt = _varint_string(blob, pos + _HEADER_SIZE)
        mod, _ = _varint_string(blob, nxt)
    else:
        if ptr_size not in (4, 8):
            raise BuildInfoError(f"unsupported pointer size {ptr_size} in build information header")
        if space is None:
            raise BuildInfoError("pre-1.18 build information uses pointers, which are only resolved in ELF files")
        order = ">" if flags & _FLAG_BIG_ENDIAN else "<"
        fmt = order + ("Q" if ptr_size == 8 else "I")

        def read_ptr(addr: int) -> int:
            return int(struct.unpack(fmt, space.read(addr, ptr_size))[0])

        def read_string(header_addr: int) -> bytes:
            data_addr, length = read_ptr(header_addr), read_ptr(header_addr + ptr_size)
            if length > _MAX_MODINFO:
                raise BuildInfoError(f"build information string of {length} bytes is implausibly long")
            return space.read(data_addr, length) if length else b""

        version_ptr = struct.unpack(fmt, header[16 : 16 + ptr_size])[0]
        mod_ptr = struct.unpack(fmt, header[16 + ptr_size : 16 + 2 * ptr_size])[0]
        version = read_string(version_ptr)
        mod = read_string(mod_ptr)
    go_version = version.decode("utf-8", errors="replace")
    if not (go_version.startswith("go") or go_version.startswith("devel")):
        raise BuildInfoError(f"build information names no Go version (found {go_version[:40]!r})")
    return go_version, _strip_sentinels(mod).decode("utf-8", errors="replace")


def _unquote_setting(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return value[1:-1].encode("latin-1", errors="backslashreplace").decode("unicode_escape")
        except (UnicodeDecodeError, UnicodeEncodeError):
            return value[1:-1]
    return value


def parse_modinfo(go_version: str, modinfo: str) -> BuildInfo:
    """The tab-separated module information (``path``, ``mod``, ``dep``, ``=>``, ``build`` lines).

    A malformed line is noted in ``problems`` and skipped; the other lines are still read.
    """
    info = BuildInfo(go_version=go_version)
    last: GoModule | None = None
    for lineno, line in enumerate(modinfo.split("\n"), 1):
        if not line:
            continue
        kind, _, rest = line.partition("\t")
        fields = rest.split("\t")
        if kind == "path":
            info.path = rest
        elif kind in ("mod", "dep"):
            if len(fields) < 2 or not fields[0]:
                note(info.problems, f"module information line {lineno}: '{kind}' needs a path and a version")
                last = None
                continue
            last = GoModule(path=fields[0], version=fields[1], sum=fields[2] if len(fields) > 2 else "")
            if kind == "mod":
                info.main = last
            else:
                info.deps.append(last)
        elif kind == "=>":
            if last is None or not fields[0]:
                what = "has no module path" if last is not None else "without a module before it"
                note(info.problems, f"module information line {lineno}: replacement {what}")
                continue
            last.replace = GoModule(
                path=fields[0], version=fields[1] if len(fields) > 1 else "", sum=fields[2] if len(fields) > 2 else ""
            )
            last = None
        elif kind == "build":
            key, sep, value = rest.partition("=")
            if sep:
                info.settings[key] = _unquote_setting(value)
        # Unknown line kinds are skipped: newer toolchains may add some.
    return info


#: ELF files with more section or program headers than this are not handed to pyelftools.
MAX_ELF_SECTIONS = 8192
MAX_ELF_SEGMENTS = 4096


@dataclass(frozen=True)
class ElfSanity:
    segments: bool
    sections: bool


def elf_sanity(data: bytes) -> ElfSanity:
    """Whether pyelftools can walk this ELF file's program and section headers in bounded time.

    pyelftools trusts the headers: an extended section count (``e_shnum == 0``), a section table
    running past the end of the file, or a section name pointing outside a NUL-terminated name
    table would make it read until the end of the file once per section. Such tables are
    checked here first and, when odd, not used.
    """
    if len(data) < 64 or not data.startswith(b"\x7fELF") or data[4] not in (1, 2) or data[5] not in (1, 2):
        return ElfSanity(False, False)
    is64 = data[4] == 2
    e = "<" if data[5] == 1 else ">"
    if is64:
        phoff, shoff = struct.unpack_from(e + "QQ", data, 0x20)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(e + "5H", data, 0x36)
        ph_min, sh_min, sh_fmt = 56, 64, e + "II8xQQQ"
    else:
        phoff, shoff = struct.unpack_from(e + "II", data, 0x1C)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(e + "5H", data, 0x2A)
        ph_min, sh_min, sh_fmt = 32, 40, e + "II4xIII"
    size = len(data)
    segments = phnum == 0 or (phnum <= MAX_ELF_SEGMENTS and phentsize >= ph_min and phoff + phnum * phentsize <= size)
    if shoff == 0:
        return ElfSanity(segments, True)
    if not (0 < shnum <= MAX_ELF_SECTIONS and shentsize >= sh_min and shoff + shnum * shentsize <= size):
        return ElfSanity(segments, False)
    if shstrndx >= shnum:
        return ElfSanity(segments, False)
    headers = [struct.unpack_from(sh_fmt, data, shoff + i * shentsize) for i in range(shnum)]
    _, _, _, str_offset, str_size = headers[shstrndx]
    if str_offset + str_size > size:
        return ElfSanity(segments, False)
    last_nul = data.rfind(b"\x00", str_offset, str_offset + str_size) - str_offset
    return ElfSanity(segments, all(0 <= h[0] <= last_nul for h in headers))


def open_elf(data: bytes) -> tuple[Any, ElfSanity]:
    """A pyelftools ``ELFFile`` for ``data`` (or None) and which of its tables may be walked."""
    sanity = elf_sanity(data)
    if not (sanity.segments or sanity.sections):
        return None, sanity
    from elftools.elf.elffile import ELFFile

    return ELFFile(io.BytesIO(data)), sanity


def _elf_layout(data: bytes) -> tuple[bytes | None, int, _AddressSpace | None]:
    """The ``.go.buildinfo`` section's bytes (and file offset) and the address space, when ELF."""
    if not data.startswith(b"\x7fELF"):
        return None, 0, None
    space: _AddressSpace | None = None
    try:
        elf, sanity = open_elf(data)
        if elf is None:
            return None, 0, None
        if sanity.segments:
            segments = [
                (int(seg["p_vaddr"]), int(seg["p_offset"]), int(seg["p_filesz"]))
                for seg in elf.iter_segments()
                if seg["p_type"] == "PT_LOAD"
            ]
            space = _AddressSpace(data, segments)
        section = elf.get_section_by_name(".go.buildinfo") if sanity.sections else None
        if section is not None and section["sh_type"] != "SHT_NOBITS":
            offset, size = int(section["sh_offset"]), int(section["sh_size"])
            return data[offset : offset + size], offset, space
        return None, 0, space
    except Exception:  # malformed ELF headers: fall back to scanning the bytes
        return None, 0, space


def _magic_offsets(data: bytes) -> Iterator[int]:
    aligned: list[int] = []
    other: list[int] = []
    pos = data.find(BUILDINFO_MAGIC)
    while pos >= 0 and len(aligned) + len(other) < _MAX_MAGIC_CANDIDATES:
        (aligned if pos % 16 == 0 else other).append(pos)
        pos = data.find(BUILDINFO_MAGIC, pos + 1)
    yield from aligned
    yield from other


def read_buildinfo(data: bytes) -> BuildInfo | None:
    """Build information of a Go binary; ``None`` when there is none. Raises :class:`BuildInfoError`."""
    section, _, space = _elf_layout(data)
    if section is not None and section.startswith(BUILDINFO_MAGIC):
        version, mod = _parse_header(section, 0, space)
        return parse_modinfo(version, mod)
    first_error: BuildInfoError | None = None
    for pos in _magic_offsets(data):
        try:
            version, mod = _parse_header(data, pos, space)
            return parse_modinfo(version, mod)
        except BuildInfoError as exc:
            first_error = first_error or exc
    if first_error is not None:
        raise first_error
    return None


def buildinfo_packages(info: BuildInfo, path: str) -> list[Package]:
    packages: list[Package] = []
    common = {"go_version": info.go_version}
    if info.main is not None and info.main.path:
        version = info.main.version if info.main.version != "(devel)" else ""
        meta: dict[str, Any] = {**common, "main": True}
        if info.settings:
            meta["build_settings"] = dict(info.settings)
        packages.append(_go_package(info.main.path, version, path, meta))
    seen: set[tuple[str, str]] = set()
    for dep in info.deps:
        meta = dict(common)
        module, version = dep.path, dep.version
        if dep.replace is not None:
            if dep.replace.version and not _is_local_path(dep.replace.path):
                meta["replaces"] = f"{dep.path}@{dep.version}"
                module, version = dep.replace.path, dep.replace.version
            else:
                meta["replaced_by"] = dep.replace.path
                meta["replaced_version"] = dep.version
                version = ""
        if version == "(devel)":
            version = ""
        if (module, version) in seen:
            continue
        seen.add((module, version))
        if dep.replace is not None and dep.replace.sum:
            meta["h1"] = dep.replace.sum
        elif dep.sum:
            meta["h1"] = dep.sum
        packages.append(_go_package(module, version, path, meta))
    std = stdlib_version(info.go_version)
    if std:
        packages.append(_go_package("stdlib", std, path, dict(common)))
    return packages


class GoBinaryCataloger(ExecutableCataloger):
    name: ClassVar[str] = "go-binary"

    def keeps(self, path: str, data: bytes) -> bool:
        return _is_executable_content(data) and BUILDINFO_MAGIC in data

    def catalog(self, files: Mapping[str, bytes], ctx: CatalogContext) -> CatalogOutput:
        out = CatalogOutput()
        for path, data in files.items():
            if not self.keeps(path, data):
                continue
            try:
                info = read_buildinfo(data)
            except BuildInfoError as exc:
                out.issues.append(CatalogIssue(cataloger=self.name, path=path, message=f"Go build information: {exc}"))
                continue
            except Exception as exc:  # safety net: a cataloger never raises
                out.issues.append(
                    CatalogIssue(
                        cataloger=self.name,
                        path=path,
                        message=f"Go build information unreadable: {type(exc).__name__}: {exc}",
                    )
                )
                continue
            if info is not None:
                out.packages.extend(buildinfo_packages(info, path))
                for problem in info.problems:
                    message = f"Go build information: {problem}"
                    out.issues.append(CatalogIssue(cataloger=self.name, path=path, message=message))
        return out


CATALOGERS = [GoModuleCataloger(), GoBinaryCataloger()]
