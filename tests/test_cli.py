"""The ``propolis`` command line: policy test/eval/bundle, errors as one line, ``up`` end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import POLICIES, ROOT, propolis_cli, write_demo_bundle
from tests.keys import rsa_pair


def test_policy_test_passes_on_the_repository_bundle_with_coverage() -> None:
    p = propolis_cli("policy", "test", str(POLICIES))
    out = p.stdout.decode()
    assert p.returncode == 0, out + p.stderr.decode()
    assert "0 failed" in out and "Coverage" in out and "total" in out


def test_policy_test_fails_on_a_failing_rego_test(tmp_path: Path) -> None:
    b = write_demo_bundle(tmp_path / "b", extra={
        "propolis/demo/demo_test.rego": "package propolis.demo_test\nimport rego.v1\nimport data.propolis.demo\n"
        'test_alice if demo.allow with input as {"user": "alice"}\n'
        'test_wrong if demo.allow with input as {"user": "eve"}\n'})
    p = propolis_cli("policy", "test", str(b))
    out = p.stdout.decode()
    assert p.returncode == 1 and "1 passed, 1 failed" in out and "FAIL data.propolis.demo_test.test_wrong" in out


def test_policy_eval_prints_a_decision(tmp_path: Path) -> None:
    b = write_demo_bundle(tmp_path / "b")
    p = propolis_cli("policy", "eval", "demo", "--bundle", str(b), "--input", "-", input=b'{"user": "alice"}')
    assert p.returncode == 0, p.stderr.decode()
    d = json.loads(p.stdout)
    assert d["result"]["allow"] is True and d["decision_point"] == "demo" and d["revision"].startswith("sha256:")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["policy", "test", "/nonexistent"], "does not exist"),
        (["policy", "eval", "demo", "--bundle", "/nonexistent"], "does not exist"),
        (["serve", "nosuch"], "unknown service"),
        (["serve", "runtime"], "no implementation yet"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(args: list[str], needle: str) -> None:
    p = propolis_cli(*args)
    err = p.stderr.decode()
    assert p.returncode == 2, err
    assert needle in err and "Traceback" not in err and err.count("\n") == 1


def test_bad_config_is_one_line(tmp_path: Path) -> None:
    p = propolis_cli("serve", "policy", env={"PROPOLIS_GRPC__PORT": "x"})
    err = p.stderr.decode()
    assert p.returncode == 2 and "grpc.port" in err and "Traceback" not in err


def test_bundle_build_and_sign_then_serve_verifies(tmp_path: Path) -> None:
    b = write_demo_bundle(tmp_path / "b")
    priv, pub = rsa_pair(tmp_path)
    out = tmp_path / "bundle.tar.gz"
    p = propolis_cli("policy", "bundle", "build", str(b), "-o", str(out), "--revision", "r7",
                     "--signing-key", str(priv))
    assert p.returncode == 0, p.stderr.decode()
    from propolis.policy.adapters.sources import TarballSource
    from propolis.policy.domain.signing import VerificationKey, verify_files

    bundle = TarballSource(out).fetch()
    assert bundle.revision == "r7"
    verify_files(bundle.files, bundle.signatures, VerificationKey.from_config(str(pub), "RS256"))
    # `bundle sign` on a directory writes .signatures.json that verifies too.
    p = propolis_cli("policy", "bundle", "sign", str(b), "--signing-key", str(priv))
    assert p.returncode == 0, p.stderr.decode()
    from propolis.policy.adapters.sources import DirectorySource

    d = DirectorySource(b).fetch()
    verify_files(d.files, d.signatures, VerificationKey.from_config(str(pub), "RS256"))


def test_up_starts_services_and_stops_cleanly(tmp_path: Path) -> None:
    env = {**os.environ, "PROPOLIS_DATA_DIR": str(tmp_path / "var"), "PROPOLIS_GRPC__PORT": "-1",
           "PROPOLIS_METRICS__PORT": "-1", "PROPOLIS_POLICY__REST_PORT": "-1",
           "PROPOLIS_POLICY__BUNDLE": str(POLICIES), "COLUMNS": "200"}
    env.pop("PROPOLIS_NATS__URL", None)  # embedded default
    proc = subprocess.Popen([sys.executable, "-m", "propolis.cli", "up"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C" in line:
                break
        text = "".join(lines)
        assert "Propolis is up" in text and "(embedded)" in text, text + (proc.stderr.read() if proc.poll() else "")
        rest = next(w for w in text.split() if w.startswith("http://") and "/metrics" not in w)
        r = requests.post(f"{rest}/v1/data/propolis/admission/decision",
                          json={"input": {"request": {"object": {"kind": "Pod", "spec": {
                              "hostPID": True, "containers": [{"name": "c", "image": "x"}]}}}}}, timeout=10)
        assert r.status_code == 200 and r.json()["result"]["allow"] is False
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(30)
    rest_out = proc.stdout.read() if proc.stdout else ""
    assert rc == 0 and "Propolis stopped." in rest_out
    # No stray nats-server or service process is left behind.
    left = subprocess.run(["pgrep", "-f", str(tmp_path / "var")], capture_output=True, text=True).stdout
    assert left.strip() == ""
