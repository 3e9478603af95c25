"""Bundle sources (directory, tarball, Git) and hostile bundle files."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from propolis.policy.adapters.regorus_engine import RegorusEngine
from propolis.policy.adapters.sources import (
    DirectorySource,
    GitSource,
    TarballSource,
    read_tarball,
    write_tarball,
)
from propolis.policy.domain.bundle import BundleLimits, build_bundle
from propolis.policy.domain.errors import BundleError, CompileError
from tests.conftest import POLICIES, commit_version, policy_repo, write_demo_bundle


def test_directory_bundle_reads_modules_data_and_manifest(demo_bundle: Path) -> None:
    (demo_bundle / "README.md").write_text("not part of the bundle")
    b = DirectorySource(demo_bundle).fetch()
    assert set(b.modules) == {"propolis/demo/demo.rego"}
    assert b.data["propolis"]["demo"]["users"] == ["alice"]
    assert "demo" in b.data["propolis"]["decision_points"]
    assert b.roots == ("propolis",)
    assert b.revision.startswith("sha256:")  # no manifest revision: content digest
    assert "README.md" not in b.files


def test_content_revision_changes_exactly_with_content(demo_bundle: Path) -> None:
    r1 = DirectorySource(demo_bundle).fetch().revision
    assert DirectorySource(demo_bundle).fetch().revision == r1
    write_demo_bundle(demo_bundle, users=("alice", "bob"))
    assert DirectorySource(demo_bundle).fetch().revision != r1


def test_manifest_revision_wins(demo_bundle: Path) -> None:
    (demo_bundle / ".manifest").write_text('{"revision": "v42", "roots": ["propolis"]}')
    assert DirectorySource(demo_bundle).fetch().revision == "v42"


def test_repository_policies_bundle_loads_and_compiles() -> None:
    b = DirectorySource(POLICIES).fetch()
    points = b.data["propolis"]["decision_points"]
    assert {"admission", "registry", "risk", "checkpoints", "runtime", "isolation", "compliance", "ci"} <= set(points)
    RegorusEngine().compile(b, [p["path"] for p in points.values()])


def test_tarball_round_trip(demo_bundle: Path, tmp_path: Path) -> None:
    files = DirectorySource(demo_bundle).fetch().files
    tar = tmp_path / "bundle.tar.gz"
    tar.write_bytes(write_tarball(files))
    b = TarballSource(tar).fetch()
    assert b.files == files
    assert write_tarball(files) == write_tarball(files)  # reproducible


def _tar(entries: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for info, data in entries:
            info.size = len(data) if info.isfile() else 0
            t.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buf.getvalue()


def _file(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def test_tarball_rejects_path_traversal() -> None:
    raw = _tar([(_file("../../etc/evil.rego"), b"package x")])
    with pytest.raises(BundleError, match="escapes the bundle root"):
        read_tarball(raw)


def test_tarball_rejects_links_and_devices() -> None:
    link = tarfile.TarInfo("propolis/x.rego")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    with pytest.raises(BundleError, match="only regular files"):
        read_tarball(_tar([(link, b"")]))


def test_tarball_rejects_corrupt_and_truncated_archives() -> None:
    good = _tar([(_file("propolis/a.rego"), b"package propolis.a\n")])
    with pytest.raises(BundleError, match="corrupt"):
        read_tarball(good[: len(good) // 2])
    with pytest.raises(BundleError, match="corrupt"):
        read_tarball(b"\x1f\x8b\x08garbage" * 10)


def test_tarball_bomb_is_refused_by_limits() -> None:
    limits = BundleLimits(max_file_bytes=1024, max_total_bytes=4096)
    big = _tar([(_file("propolis/data.json"), b"[" + b"0," * 5000 + b"0]")])  # compresses very well
    with pytest.raises(BundleError, match="per-file limit"):
        read_tarball(big, limits)
    many = _tar([(_file(f"propolis/m{i}/data.json"), b"{}") for i in range(30)])
    with pytest.raises(BundleError, match="more than"):
        read_tarball(many, BundleLimits(max_files=10))


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"propolis/a/data.json": b"{not json"}, "not valid JSON"),
        ({"propolis/a.rego": b"\xff\xfe package"}, "not valid UTF-8"),
        ({"propolis/a.rego": b"# no package here\n"}, "no package declaration"),
        ({".manifest": b"[1]", "propolis/a.rego": b"package propolis.a\n"}, "must be a JSON object"),
        ({".manifest": b'{"roots": "propolis"}', "propolis/a.rego": b"package propolis.a\n"}, "roots"),
        ({".manifest": b'{"roots": ["propolis"]}', "other/a.rego": b"package other.a\n"}, "outside the manifest roots"),
        ({"propolis/a/data.json": b"[" * 100 + b"]" * 100, "propolis/a.rego": b"package propolis.a\n"},
         "nested deeper"),
        ({"propolis/a/data.json": b"{}"}, "no Rego modules"),
    ],
)
def test_malformed_bundle_files_give_precise_errors(files: dict[str, bytes], message: str) -> None:
    with pytest.raises(BundleError, match=message):
        build_bundle(files, source="test")


def test_rego_that_does_not_compile_is_a_compile_error(demo_bundle: Path) -> None:
    (demo_bundle / "propolis" / "demo" / "broken.rego").write_text("package propolis.demo\nimport rego.v1\nx := \n")
    b = DirectorySource(demo_bundle).fetch()
    with pytest.raises(CompileError, match="does not compile") as exc:
        RegorusEngine().compile(b, ["propolis/demo/decision"])
    assert "broken.rego" in str(exc.value) and "Stack backtrace" not in str(exc.value)


def test_directory_bundle_refuses_symlinks(demo_bundle: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.rego"
    outside.write_text("package propolis.x\n")
    os.symlink(outside, demo_bundle / "propolis" / "link.rego")
    with pytest.raises(BundleError, match="symbolic links"):
        DirectorySource(demo_bundle).fetch()


# ------------------------------------------------------------------ Git
@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str, str]:
    """A real Git repository with two commits of the bundle under policies/ (tag v1 on the first)."""
    r, c1 = policy_repo(tmp_path / "repo")
    return r, c1, commit_version(r, 2, users=("alice", "bob"))


def _version(src: GitSource) -> tuple[str, int]:
    b = src.fetch()
    c = RegorusEngine().compile(b, ["propolis/demo/decision"])
    return b.revision, c.evaluate("propolis/demo/decision", json.dumps({"user": "bob"}))["version"]


def test_git_branch_tag_and_commit(repo: tuple[Path, str, str], tmp_path: Path) -> None:
    r, c1, c2 = repo
    cache = tmp_path / "cache"
    for ref, commit, version in [("main", c2, 2), ("v1", c1, 1), (c1, c1, 1), (c2, c2, 2), ("", c2, 2)]:
        src = GitSource(str(r), ref=ref, subdir="policies", cache_dir=cache)
        assert _version(src) == (commit, version), ref
        if ref != "v1":  # an annotated tag probes as its tag object id: an identity, not the revision
            assert src.probe() == commit
        assert src.probe() == src.probe()


def test_git_file_url_and_bad_refs(repo: tuple[Path, str, str], tmp_path: Path) -> None:
    r, _c1, c2 = repo
    assert _version(GitSource(f"file://{r}", ref="main", subdir="policies", cache_dir=tmp_path / "c"))[0] == c2
    with pytest.raises(BundleError, match="no branch, tag or commit named 'nope'"):
        GitSource(str(r), ref="nope", subdir="policies", cache_dir=tmp_path / "c").probe()
    with pytest.raises(BundleError, match="is not in the repository"):
        GitSource(str(r), ref="0" * 40, subdir="policies", cache_dir=tmp_path / "c").fetch()
    with pytest.raises(BundleError, match="has no bundle files under missing/"):
        GitSource(str(r), ref="main", subdir="missing", cache_dir=tmp_path / "c").fetch()
    with pytest.raises(BundleError, match="cannot"):
        GitSource(str(tmp_path / "not-a-repo"), ref="main", cache_dir=tmp_path / "c").probe()
