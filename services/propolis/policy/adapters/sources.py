"""Where bundles come from: a directory, an OPA bundle tarball, or a Git repository at a ref."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import posixpath
import re
import tarfile
from pathlib import Path

from dulwich.client import get_transport_and_path
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository
from dulwich.objects import Blob, Commit, Tag, Tree
from dulwich.repo import Repo

from propolis.policy.domain.bundle import (
    DEFAULT_LIMITS,
    SIGNATURES_FILE,
    Bundle,
    BundleLimits,
    build_bundle,
    content_digest,
    is_bundle_file,
    normalise_path,
)
from propolis.policy.domain.errors import BundleError

_SKIP_DIRS = {".git", "__pycache__", ".venv", "node_modules"}


def _strip_subdir(name: str, subdir: str) -> str | None:
    if not subdir:
        return name
    prefix = subdir.strip("/") + "/"
    return name[len(prefix):] if name.startswith(prefix) else None


class DirectorySource:
    """A bundle laid out in a local directory (``policies/`` in this repository)."""

    def __init__(self, path: str | os.PathLike[str], limits: BundleLimits = DEFAULT_LIMITS) -> None:
        self.path = Path(path)
        self.limits = limits

    def describe(self) -> str:
        return f"dir:{self.path}"

    def _read(self) -> tuple[dict[str, bytes], bytes | None]:
        if not self.path.is_dir():
            raise BundleError(f"bundle directory {self.path} does not exist")
        files: dict[str, bytes] = {}
        signatures: bytes | None = None
        count = 0
        for root, dirs, names in os.walk(self.path, followlinks=False):
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
            for n in sorted(names):
                full = Path(root) / n
                rel = full.relative_to(self.path).as_posix()
                if rel != SIGNATURES_FILE and not is_bundle_file(rel):
                    continue
                if full.is_symlink():
                    raise BundleError(f"{rel}: symbolic links are not allowed in a bundle")
                count += 1
                if count > self.limits.max_files:
                    raise BundleError(f"bundle directory has more than {self.limits.max_files} files")
                size = full.stat().st_size
                if size > self.limits.max_file_bytes:
                    raise BundleError(f"{rel}: {size} bytes exceeds the per-file limit of {self.limits.max_file_bytes}")
                content = full.read_bytes()
                if rel == SIGNATURES_FILE:
                    signatures = content
                else:
                    files[rel] = content
        return files, signatures

    def probe(self) -> str:
        files, sigs = self._read()
        return content_digest({**files, **({SIGNATURES_FILE: sigs} if sigs else {})})

    def fetch(self) -> Bundle:
        files, sigs = self._read()
        return build_bundle(files, source=self.describe(), signatures=sigs, limits=self.limits)


class TarballSource:
    """An OPA bundle tarball (``bundle.tar.gz``): read in memory, every entry checked."""

    def __init__(self, path: str | os.PathLike[str], limits: BundleLimits = DEFAULT_LIMITS) -> None:
        self.path = Path(path)
        self.limits = limits

    def describe(self) -> str:
        return f"tarball:{self.path}"

    def probe(self) -> str:
        try:
            return "sha256:" + hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError as exc:
            raise BundleError(f"cannot read bundle tarball {self.path}: {exc.strerror}") from None

    def fetch(self) -> Bundle:
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise BundleError(f"cannot read bundle tarball {self.path}: {exc.strerror}") from None
        files, sigs = read_tarball(raw, self.limits)
        return build_bundle(files, source=self.describe(), signatures=sigs, limits=self.limits)


def read_tarball(raw: bytes, limits: BundleLimits = DEFAULT_LIMITS) -> tuple[dict[str, bytes], bytes | None]:
    """Bundle files of a (gzipped) tarball. Links, devices, traversal and bombs are refused."""
    files: dict[str, bytes] = {}
    signatures: bytes | None = None
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:*") as tar:
            for count, member in enumerate(tar, 1):
                if count > limits.max_files * 2:
                    raise BundleError(f"bundle tarball has more than {limits.max_files * 2} entries")
                if member.isdir():
                    continue
                name = normalise_path(member.name)
                if not member.isfile():
                    raise BundleError(f"{name}: only regular files are allowed in a bundle tarball")
                if name != SIGNATURES_FILE and not is_bundle_file(name):
                    continue
                if member.size > limits.max_file_bytes:
                    raise BundleError(
                        f"{name}: {member.size} bytes exceeds the per-file limit of {limits.max_file_bytes}")
                total += member.size
                if total > limits.max_total_bytes:
                    raise BundleError(f"bundle tarball expands past the limit of {limits.max_total_bytes} bytes")
                fh = tar.extractfile(member)
                content = fh.read(limits.max_file_bytes + 1) if fh else b""
                if name in files:
                    raise BundleError(f"{name} appears twice in the bundle tarball")
                if name == SIGNATURES_FILE:
                    signatures = content
                else:
                    files[name] = content
    except BundleError:
        raise
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise BundleError(f"bundle tarball is corrupt: {exc}") from None
    return files, signatures


def write_tarball(files: dict[str, bytes], signatures: bytes | None = None) -> bytes:
    """A reproducible OPA bundle tarball (sorted entries, zero mtimes)."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        entries = dict(files)
        if signatures is not None:
            entries[SIGNATURES_FILE] = signatures
        for name in sorted(entries):
            info = tarfile.TarInfo("/" + name)
            info.size = len(entries[name])
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(entries[name]))
    return buf.getvalue()


_HEX40 = re.compile(r"^[0-9a-f]{40}$")


class GitSource:
    """A bundle at a ref (branch, tag or commit id) of a Git repository, read through dulwich.

    The repository is fetched into a bare cache under the data dir; files are read from the
    commit's tree without a checkout. The bundle revision is the commit id.
    """

    def __init__(self, url: str, ref: str = "", subdir: str = "", cache_dir: str | os.PathLike[str] = "var/git",
                 limits: BundleLimits = DEFAULT_LIMITS) -> None:
        self.url = url
        self.ref = ref
        self.subdir = subdir.strip("/")
        self.cache = Path(cache_dir) / (hashlib.sha256(url.encode()).hexdigest()[:16] + ".git")
        self.limits = limits

    def at_ref(self, ref: str) -> GitSource:
        """The same repository and folder at another branch, tag or commit."""
        return GitSource(self.url, ref=ref, subdir=self.subdir, cache_dir=self.cache.parent, limits=self.limits)

    def describe(self) -> str:
        safe = re.sub(r"//[^/@]*@", "//", self.url)  # never log credentials
        return f"git:{safe}@{self.ref or 'HEAD'}" + (f"#{self.subdir}" if self.subdir else "")

    def _remote_refs(self) -> dict[bytes, bytes]:
        try:
            client, path = get_transport_and_path(self.url)
            res = client.get_refs(path)
        except (GitProtocolError, HangupException, NotGitRepository, OSError, ValueError, KeyError) as exc:
            raise BundleError(f"cannot list refs of {self.describe()}: {exc}") from None
        return dict(getattr(res, "refs", res))

    def _resolve(self, refs: dict[bytes, bytes]) -> bytes | None:
        """Commit id the configured ref names, or None for a commit id not at any ref tip."""
        ref = self.ref
        if not ref:
            if b"HEAD" in refs:
                return refs[b"HEAD"]
            raise BundleError(f"{self.describe()}: the repository has no HEAD; configure policy.ref")
        for cand in (ref.encode(), f"refs/heads/{ref}".encode(), f"refs/tags/{ref}^{{}}".encode(),
                     f"refs/tags/{ref}".encode()):
            if cand in refs:
                return refs[cand]
        if _HEX40.match(ref.lower()):
            return None
        raise BundleError(f"{self.describe()}: no branch, tag or commit named {ref!r}")

    def probe(self) -> str:
        refs = self._remote_refs()
        sha = self._resolve(refs)
        return (sha or self.ref.lower().encode()).decode()

    def _fetch_into_cache(self) -> tuple[Repo, dict[bytes, bytes]]:
        self.cache.parent.mkdir(parents=True, exist_ok=True)
        repo = Repo(str(self.cache)) if self.cache.exists() else Repo.init_bare(str(self.cache), mkdir=True)
        try:
            client, path = get_transport_and_path(self.url)
            result = client.fetch(path, repo)
        except (GitProtocolError, HangupException, NotGitRepository, OSError, ValueError, KeyError) as exc:
            repo.close()
            raise BundleError(f"cannot fetch {self.describe()}: {exc}") from None
        return repo, dict(result.refs)

    def fetch(self) -> Bundle:
        repo, refs = self._fetch_into_cache()
        try:
            sha = self._resolve(refs) or self.ref.lower().encode()
            try:
                obj = repo[sha]
            except KeyError:
                raise BundleError(f"{self.describe()}: commit {sha.decode()} is not in the repository") from None
            while isinstance(obj, Tag):
                obj = repo[obj.object[1]]
            if not isinstance(obj, Commit):
                raise BundleError(f"{self.describe()}: {sha.decode()} is not a commit")
            commit_id = obj.id.decode()
            files: dict[str, bytes] = {}
            signatures: bytes | None = None
            for name, blob in self._walk(repo, obj.tree, ""):
                rel = _strip_subdir(name, self.subdir)
                if rel is None:
                    continue
                if rel == SIGNATURES_FILE:
                    signatures = blob
                elif is_bundle_file(rel):
                    files[rel] = blob
            if not files:
                where = f" under {self.subdir}/" if self.subdir else ""
                raise BundleError(f"{self.describe()}: commit {commit_id[:12]} has no bundle files{where}")
            return build_bundle(files, source=self.describe(), revision=commit_id, signatures=signatures,
                                limits=self.limits)
        finally:
            repo.close()

    def _walk(self, repo: Repo, tree_id: bytes, prefix: str) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        stack = [(tree_id, prefix)]
        total = 0
        while stack:
            tid, pre = stack.pop()
            tree = repo[tid]
            if not isinstance(tree, Tree):
                continue
            for entry in tree.items():
                name = posixpath.join(pre, entry.path.decode("utf-8", "replace"))
                if entry.mode & 0o170000 == 0o040000:
                    if self.subdir and not (self.subdir + "/").startswith(name + "/") \
                            and not name.startswith(self.subdir + "/"):
                        continue
                    stack.append((entry.sha, name))
                elif entry.mode & 0o170000 == 0o100000:
                    rel = _strip_subdir(name, self.subdir)
                    if rel is None or (rel != SIGNATURES_FILE and not is_bundle_file(rel)):
                        continue
                    blob = repo[entry.sha]
                    if isinstance(blob, Blob):
                        data = blob.as_raw_string()
                        total += len(data)
                        if len(out) >= self.limits.max_files or total > self.limits.max_total_bytes:
                            raise BundleError(f"{self.describe()}: bundle exceeds the size or file-count limit")
                        out.append((name, data))
        return out


def source_for(bundle: str, *, ref: str = "", subdir: str = "",
               data_dir: str | os.PathLike[str] = "var") -> DirectorySource | TarballSource | GitSource:
    """Pick the source kind: Git when a ref/URL says so, tarball for archives, else a directory."""
    is_url = "://" in bundle or bundle.startswith("git@")
    if is_url or ref or bundle.endswith(".git"):
        return GitSource(bundle, ref=ref, subdir=subdir, cache_dir=Path(data_dir) / "git")
    if bundle.endswith((".tar.gz", ".tgz", ".tar")):
        return TarballSource(bundle)
    return DirectorySource(bundle)
