"""Real artefacts for scanner tests: Debian .debs, PyPI wheels, npm tarballs and a Go binary,
fetched with the ordinary clients (``apt-get download``, ``pip download``, ``npm pack``) or built
with the machine's Go toolchain, and turned into image layers the way a real image has them.

Everything is kept in a cache directory (``PROPOLIS_TEST_CACHE``, default
``<repo>/.cache/test-artifacts``), so reruns need no network. A step that cannot be done (no
network, no ``go``) raises :class:`Unavailable`; :func:`require` turns that into a skip with the
reason, or a failure under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.scanner.images import WHITEOUT, Hard, Link

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("PROPOLIS_TEST_CACHE", ROOT / ".cache" / "test-artifacts"))

#: Where pip puts packages that Debian's python3 imports; the Python cataloger reads ``dist-packages``.
DIST_PACKAGES = "usr/lib/python3/dist-packages"
#: Where ``npm install -g`` puts packages with Debian's nodejs.
NODE_MODULES = "usr/lib/node_modules"
DPKG_STATUS = "var/lib/dpkg/status"
DPKG_INFO = "var/lib/dpkg/info"

Spec = dict[str, object]


class Unavailable(Exception):
    """An artefact cannot be had here (no network, no toolchain)."""


@contextlib.contextmanager
def require() -> Iterator[None]:
    """Skip the test when an artefact is unavailable, or fail it under ``CI=true``."""
    import pytest

    try:
        yield
    except Unavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{exc} (CI=true requires the real artefacts)")
        pytest.skip(str(exc))


def _run(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
         what: str, timeout: float = 600) -> subprocess.CompletedProcess[bytes]:
    if shutil.which(cmd[0]) is None and not Path(cmd[0]).is_file():
        raise Unavailable(f"{what}: `{cmd[0]}` is not installed")
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"{what}: `{' '.join(cmd)}` timed out after {timeout:.0f} s") from None
    if p.returncode != 0:
        err = (p.stderr or p.stdout).decode(errors="replace").strip().splitlines()
        tail = " | ".join(err[-3:]) if err else f"exit {p.returncode}"
        raise Unavailable(f"{what}: `{' '.join(cmd)}` failed: {tail}")
    return p


@contextlib.contextmanager
def _locked(sub: str) -> Iterator[Path]:
    """``CACHE/sub``, held under a file lock (two test processes do not download into it at once)."""
    d = CACHE / sub
    d.mkdir(parents=True, exist_ok=True)
    with open(d / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield d
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _newest(d: Path, pattern: str) -> Path | None:
    found = sorted(d.glob(pattern), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def _fetch(sub: str, wanted: dict[str, str], cmd: list[str], what: str) -> dict[str, Path]:
    """``wanted`` maps a key to the glob of its file in ``CACHE/sub``; the missing ones are fetched
    by ``cmd + [keys...]`` run in a fresh directory, then moved in."""
    with _locked(sub) as d:
        missing = [k for k, pattern in wanted.items() if _newest(d, pattern) is None]
        if missing:
            with tempfile.TemporaryDirectory(dir=d) as tmp:
                _run([*cmd, *missing], cwd=Path(tmp), what=what)
                for f in Path(tmp).iterdir():
                    f.replace(d / f.name)
        out: dict[str, Path] = {}
        for k, pattern in wanted.items():
            p = _newest(d, pattern)
            if p is None:
                raise Unavailable(f"{what}: nothing matching {pattern} after the download")
            out[k] = p
        return out


# ---------------------------------------------------------------- downloads
def debs(*names: str) -> dict[str, Path]:
    """Debian packages of this machine's apt sources (``apt-get download``)."""
    return _fetch("debs", {n: f"{n}_*.deb" for n in names}, ["apt-get", "download", "-q"],
                  "apt-get download (network and `apt-get update` needed)")


def wheels(*pins: str) -> dict[str, Path]:
    """PyPI wheels, ``name==version`` each (``pip download --no-deps --only-binary=:all:``)."""
    wanted = {}
    for pin in pins:
        name, _, version = pin.partition("==")
        wanted[pin] = f"{name.replace('-', '_')}-{version}-*.whl"
    return _fetch("wheels", wanted, [sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                                     "--only-binary=:all:", "--disable-pip-version-check", "-d", "."],
                  "pip download (network needed)")


def npm_tarballs(*pins: str) -> dict[str, Path]:
    """npm registry tarballs, ``name@version`` each (``npm pack``); unscoped names only."""
    wanted = {pin: "{}-{}.tgz".format(*pin.split("@")) for pin in pins}
    return _fetch("npm", wanted, ["npm", "pack", "--silent"], "npm pack (network needed)")


# ---------------------------------------------------------------- Go
GO_MAIN = "example.com/propolis-demo"
GO_DEP = "example.com/greet"
GO_DEP_VERSION = "v1.2.3"
_GO_SOURCES = {
    "greet/go.mod": f"module {GO_DEP}\n\ngo 1.19\n",
    "greet/greet.go": 'package greet\n\n// Hello greets.\nfunc Hello() string { return "hello from greet" }\n',
    "app/go.mod": f"module {GO_MAIN}\n\ngo 1.19\n\nrequire {GO_DEP} {GO_DEP_VERSION}\n\n"
                  f"replace {GO_DEP} => ../greet\n",
    "app/main.go": 'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/greet"\n)\n\n'
                   "func main() { fmt.Println(greet.Hello()) }\n",
}


@dataclass(frozen=True)
class GoBinary:
    path: Path
    #: What ``go version -m`` prints for it.
    version_m: str


def go_binary() -> GoBinary:
    """A main module with a second local module pulled in by ``replace``, built offline with the
    machine's ``go`` (Debian's golang-go: ``make system-deps``)."""
    if shutil.which("go") is None:
        raise Unavailable("`go` is not installed (Debian package golang-go; `make system-deps` installs it)")
    go_version = _run(["go", "version"], what="go version").stdout.decode().strip()
    key = hashlib.sha256(repr((sorted(_GO_SOURCES.items()), go_version)).encode()).hexdigest()[:16]
    with _locked("go") as d:
        out = d / f"propolis-demo-{key}"
        if not out.is_file():
            src = d / f"src-{key}"
            for rel, text in _GO_SOURCES.items():
                (src / rel).parent.mkdir(parents=True, exist_ok=True)
                (src / rel).write_text(text)
            env = {**os.environ, "GOFLAGS": "-mod=mod -buildvcs=false", "GOPROXY": "off", "GONOSUMDB": "*",
                   "GOTOOLCHAIN": "local", "GOCACHE": str(d / "gocache"), "GOPATH": str(d / "gopath"),
                   "CGO_ENABLED": "0"}
            _run(["go", "build", "-trimpath", "-o", str(out) + ".tmp", "."], cwd=src / "app", env=env,
                 what="go build")
            Path(str(out) + ".tmp").replace(out)
        shown = _run(["go", "version", "-m", str(out)], what="go version -m").stdout.decode()
    return GoBinary(path=out, version_m=shown)


@dataclass(frozen=True)
class GoBuildInfo:
    go_version: str
    main: str
    main_version: str
    deps: list[tuple[str, str]]
    replaces: dict[str, str]


def parse_go_version_m(text: str) -> GoBuildInfo:
    """The fields of ``go version -m`` output (``<file>: go1.x``, then tab-separated lines)."""
    lines = text.splitlines()
    go_version = lines[0].rpartition(": ")[2].strip()
    main, main_version, deps, replaces, last = "", "", [], {}, ""
    for line in lines[1:]:
        parts = line.strip().split("\t")
        if parts[0] == "mod":
            main, main_version = parts[1], parts[2]
        elif parts[0] == "dep":
            deps.append((parts[1], parts[2]))
            last = parts[1]
        elif parts[0] == "=>":
            replaces[last] = parts[1]
    return GoBuildInfo(go_version=go_version, main=main, main_version=main_version, deps=deps, replaces=replaces)


# ---------------------------------------------------------------- layers from the artefacts
@dataclass
class Deb:
    """One .deb: its control fields, its files as a layer spec, and its dpkg database entries."""

    path: Path
    control: dict[str, str]
    control_text: str
    files: Spec = field(default_factory=dict)
    #: Every path it installs (directories too), as dpkg lists them in ``info/<pkg>.list``.
    listed: list[str] = field(default_factory=list)
    md5sums: bytes = b""

    @property
    def name(self) -> str:
        return self.control["Package"]

    @property
    def version(self) -> str:
        return self.control["Version"]

    @property
    def arch(self) -> str:
        return self.control["Architecture"]

    @property
    def info_name(self) -> str:
        """``info/<name>.list`` or, for ``Multi-Arch: same`` packages, ``info/<name>:<arch>.list``."""
        same = self.control.get("Multi-Arch") == "same"
        return f"{self.name}:{self.arch}" if same else self.name

    def status_stanza(self) -> str:
        """The control stanza as dpkg records it once installed (``Status`` after ``Package``)."""
        lines = self.control_text.rstrip("\n").split("\n")
        return "\n".join([lines[0], "Status: install ok installed", *lines[1:]]) + "\n"

    def database(self) -> Spec:
        """``var/lib/dpkg/info`` files of the package."""
        spec: Spec = {f"{DPKG_INFO}/{self.info_name}.list": ("\n".join(self.listed) + "\n").encode()}
        if self.md5sums:
            spec[f"{DPKG_INFO}/{self.info_name}.md5sums"] = self.md5sums
        return spec

    def removal(self) -> Spec:
        """What ``apt-get remove`` takes away: its files and database entries (not shared directories)."""
        spec: Spec = {p: WHITEOUT for p in self.files}
        spec.update({p: WHITEOUT for p in self.database()})
        return spec


_FIELD = re.compile(r"^([^\s:]+):", re.M)


def read_deb(path: Path, *, contents: bool = True) -> Deb:
    """A .deb's control fields, paths, md5sums and (with ``contents``) its files as a layer spec."""
    text = _run(["dpkg-deb", "-f", str(path)], what="dpkg-deb -f").stdout.decode()
    control: dict[str, str] = {}
    for line in text.splitlines():
        m = _FIELD.match(line)
        if m:
            control[m.group(1)] = line[m.end():].strip()
    deb = Deb(path=path, control=control, control_text=text)
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(path)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    with proc.stdout, tarfile.open(fileobj=proc.stdout, mode="r|") as t:
        for m in t:
            rel = m.name.removeprefix("./").rstrip("/")
            if not rel:
                deb.listed.append("/.")
                continue
            deb.listed.append("/" + rel)
            if m.isdir() or not contents:
                continue
            if m.issym():
                deb.files[rel] = Link(m.linkname)
            elif m.islnk():
                deb.files[rel] = Hard(m.linkname.removeprefix("./"))
            elif m.isfile():
                fh = t.extractfile(m)
                assert fh is not None
                deb.files[rel] = fh.read()
    if proc.wait() != 0:
        raise Unavailable(f"dpkg-deb --fsys-tarfile {path} failed (exit {proc.returncode})")
    ctrl = _run(["dpkg-deb", "--ctrl-tarfile", str(path)], what="dpkg-deb --ctrl-tarfile").stdout
    with tarfile.open(fileobj=io.BytesIO(ctrl), mode="r:") as t:
        for m in t:
            if m.name.removeprefix("./") == "md5sums" and m.isfile():
                fh = t.extractfile(m)
                assert fh is not None
                deb.md5sums = fh.read()
    return deb


def read_deb_control(path: Path) -> Deb:
    """:func:`read_deb` without the file contents (for big packages streamed elsewhere)."""
    return read_deb(path, contents=False)


def dpkg_status(installed: list[Deb]) -> bytes:
    """``var/lib/dpkg/status`` listing ``installed`` (sorted by name, as dpkg writes it)."""
    return "\n".join(d.status_stanza() for d in sorted(installed, key=lambda d: d.name)).encode()


def deb_layer(new: list[Deb], installed_after: list[Deb]) -> Spec:
    """A layer that installs ``new``: their files, database entries, and the rewritten status."""
    spec: Spec = {}
    for d in new:
        spec.update(d.files)
        spec.update(d.database())
    spec[DPKG_STATUS] = dpkg_status(installed_after)
    return spec


@dataclass
class Wheel:
    path: Path
    name: str
    version: str
    dist_info: str
    files: Spec

    def removal(self, site: str = DIST_PACKAGES) -> Spec:
        """``pip uninstall``: the dist-info directory and the top-level modules it installed."""
        tops = {p.removeprefix(f"{site}/").split("/")[0] for p in self.files}
        return {f"{site}/{t}": WHITEOUT for t in sorted(tops)}


def read_wheel(path: Path, site: str = DIST_PACKAGES) -> Wheel:
    name, version = path.name.split("-")[:2]
    files: Spec = {}
    dist_info = ""
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            if info.is_dir():
                continue
            files[info.filename] = z.read(info)
            top = info.filename.split("/")[0]
            if top.endswith(".dist-info"):
                dist_info = top
    if not dist_info:
        raise ValueError(f"{path}: no .dist-info in the wheel")
    return Wheel(path=path, name=name, version=version, dist_info=f"{site}/{dist_info}",
                 files={f"{site}/{k}": v for k, v in files.items()})


@dataclass
class NpmPackage:
    path: Path
    name: str
    version: str
    manifest: bytes
    files: Spec


def read_npm_tarball(path: Path, node_modules: str = NODE_MODULES) -> NpmPackage:
    """An ``npm pack`` tarball installed globally: ``package/`` becomes ``node_modules/<name>/``."""
    import json

    entries: dict[str, bytes] = {}
    with tarfile.open(path, "r:gz") as t:
        for m in t:
            if not m.isfile():
                continue
            _, _, rel = m.name.partition("/")  # the first folder is "package" (sometimes another name)
            fh = t.extractfile(m)
            assert fh is not None
            entries[rel] = fh.read()
    manifest = entries["package.json"]
    doc = json.loads(manifest)
    base = f"{node_modules}/{doc['name']}"
    return NpmPackage(path=path, name=doc["name"], version=doc["version"], manifest=manifest,
                      files={f"{base}/{k}": v for k, v in entries.items()})


def os_release() -> bytes:
    """This machine's ``/etc/os-release``."""
    for p in ("/etc/os-release", "/usr/lib/os-release"):
        if Path(p).is_file():
            return Path(p).read_bytes()
    raise Unavailable("this machine has no /etc/os-release")
