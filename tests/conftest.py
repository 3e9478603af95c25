"""Shared fixtures: NATS (the machine's server and the embedded one), data dirs, bundles.

NATS tests use the server at ``PROPOLIS_TEST_NATS_URL`` (default nats://127.0.0.1:4222) when it
answers and always also the embedded one; under ``CI=true`` an unreachable machine server is a
failure, not a skip.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

os.environ.setdefault("RUST_LIB_BACKTRACE", "0")

from propolis.kernel.embedded_nats import EmbeddedNats  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
MACHINE_NATS = os.environ.get("PROPOLIS_TEST_NATS_URL", "nats://127.0.0.1:4222")
IN_CI = os.environ.get("CI", "").lower() == "true"


def reachable(url: str) -> bool:
    u = urlsplit(url)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or 4222), timeout=1) as s:
            return s.recv(4).startswith(b"INFO")
    except OSError:
        return False


@pytest.fixture(scope="session")
def embedded_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    srv = EmbeddedNats(tmp_path_factory.mktemp("nats-store")).start()
    yield srv.url
    srv.stop()


@pytest.fixture(scope="session")
def machine_nats() -> str:
    if not reachable(MACHINE_NATS):
        msg = f"NATS at {MACHINE_NATS} is not reachable (set PROPOLIS_TEST_NATS_URL)"
        if IN_CI:
            pytest.fail(msg + " and CI=true requires it")
        pytest.skip(msg)
    return MACHINE_NATS


@pytest.fixture(params=["machine", "embedded"])
def nats_url(request: pytest.FixtureRequest) -> str:
    """Each NATS test runs against both servers."""
    return str(request.getfixturevalue(f"{request.param}_nats"))


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout.strip()


DEMO_REGO = """package propolis.demo
import rego.v1

default allow := false

allow if input.user in data.propolis.demo.users

decision := {"allow": allow, "reasons": reasons, "version": %d}

reasons := [] if allow
reasons := [sprintf("user %%v is not allowed", [input.user])] if not allow
"""


def write_demo_bundle(root: Path, version: int = 1, users: tuple[str, ...] = ("alice",),
                      extra: dict[str, str] | None = None) -> Path:
    """A small real bundle: one decision point, its data and declarations."""
    (root / "propolis" / "demo").mkdir(parents=True, exist_ok=True)
    (root / "propolis" / "decision_points").mkdir(parents=True, exist_ok=True)
    (root / "propolis" / "demo" / "demo.rego").write_text(DEMO_REGO % version)
    (root / "propolis" / "demo" / "data.json").write_text(json.dumps({"users": list(users)}))
    (root / "propolis" / "decision_points" / "data.json").write_text(
        '{"demo": {"path": "propolis/demo/decision", "on_undefined": "deny", "on_error": "deny"},'
        ' "demo_open": {"path": "propolis/demo/missing", "on_undefined": "allow", "on_error": "allow"},'
        ' "demo_strict": {"path": "propolis/demo/broken", "on_undefined": "error", "on_error": "error"}}')
    (root / ".manifest").write_text('{"revision": "", "roots": ["propolis"]}')
    for name, text in (extra or {}).items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def policy_repo(root: Path) -> tuple[Path, str]:
    """A real Git repository whose first commit holds the demo bundle (version 1) under
    policies/, tagged with the annotated tag v1. Returns (repository, commit id)."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    write_demo_bundle(root / "policies", version=1)
    (root / "README.md").write_text("policy repo\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "v1")
    git(root, "tag", "-a", "v1", "-m", "release 1")
    return root, git(root, "rev-parse", "HEAD")


def commit_version(repo: Path, version: int, users: tuple[str, ...] = ("alice",)) -> str:
    """Commit a new version of the demo bundle; return its commit id."""
    write_demo_bundle(repo / "policies", version=version, users=users)
    git(repo, "commit", "-qam", f"v{version}")
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def demo_bundle(tmp_path: Path) -> Path:
    return write_demo_bundle(tmp_path / "bundle")


def propolis_cli(*args: str, input: bytes | None = None, env: dict[str, str] | None = None,
                 cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "propolis.cli", *args], input=input, capture_output=True,
                          cwd=cwd or ROOT, env={**os.environ, **(env or {})}, timeout=timeout)
