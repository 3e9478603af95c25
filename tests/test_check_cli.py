"""``propolis check``: Kubernetes manifests (files, directories, ``helm template``/``kustomize build`` streams on
stdin) and Dockerfiles checked by the real CLI against the repository's policy bundle; the manifest reader and
the Dockerfile parser on hand-written and arbitrary text."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from propolis.admission.domain.manifests import ManifestError, ManifestObject, admission_input, load_documents
from propolis.check.dockerfile import DockerfileError, dockerfile_facts, looks_like_dockerfile, parse_dockerfile
from tests.conftest import ROOT, propolis_cli
from tests.scanner.fixtures import TESTDATA

SARIF_SCHEMA = json.loads((ROOT / "tests" / "fixtures" / "sarif-schema-2.1.0.json").read_text())
ENTRY_KEYS = {"kind", "name", "namespace", "file", "allowed", "violations", "warnings", "policy_revision"}

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: payments
spec:
  replicas: 2
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: api
        image: registry.propolis.internal/payments/api:1.4.2
        resources:
          limits: {cpu: 500m, memory: 256Mi}
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
"""

PRIVILEGED_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: debug
spec:
  containers:
  - name: shell
    image: registry.propolis.internal/tools/shell:2.0
    securityContext:
      privileged: true
"""

# What `helm template` prints: "# Source:" comments, documents separated by "---".
HELM_STREAM = """\
---
# Source: api/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  ports:
  - port: 80
---
# Source: api/templates/deployment.yaml
""" + DEPLOYMENT.replace("  namespace: payments\n", "") + """\
---
# Source: api/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: api-config
data:
  LOG_LEVEL: info
"""

GOOD_DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22
FROM golang:1.22@sha256:0f7e0a7e1b9cd9c06a3a27d28bfa0ed2ffbd8a6e07a5eb5fc8bd8b5cce8bd8b5 AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/root/.cache/go-build \\
    CGO_ENABLED=0 go build -o /out/app ./cmd/app
FROM gcr.io/distroless/static:nonroot@sha256:6ec5aa99dc335666e79dc64e4a6c8b89c33a543a1967f20d360922a80dd21f02
COPY --from=build /out/app /app
USER 65532:65532
ENTRYPOINT ["/app"]
"""

_PIN = "@sha256:6ec5aa99dc335666e79dc64e4a6c8b89c33a543a1967f20d360922a80dd21f02"

# One Dockerfile per rule: (file name, text, the rule it must trip, the line it must point at).
BAD_DOCKERFILES = [
    ("root.Dockerfile", f"FROM alpine:3.19{_PIN}\nRUN apk add --no-cache curl\n", "root_user", 1),
    ("Dockerfile.root0", f"FROM alpine:3.19{_PIN}\nUSER app\nUSER 0\n", "root_user", 3),
    ("Dockerfile.add", f"FROM alpine:3.19{_PIN}\nADD https://example.com/tool.tar.gz /opt/\nUSER app\n",
     "add_from_url", 2),
    ("Dockerfile.pipe", f"FROM alpine:3.19{_PIN}\nRUN apk add curl && \\\n    curl -fsSL https://get.example.com \\\n"
                        "    | sh\nUSER app\n", "curl_pipe_shell", 2),
    ("Dockerfile.subshell", f"FROM alpine:3.19{_PIN}\nRUN sh -c \"$(wget -qO- https://x.example.com/i.sh)\"\n"
                            "USER app\n", "curl_pipe_shell", 2),
    ("Dockerfile.latest", "FROM alpine:latest\nUSER app\n", "unpinned_base_image", 1),
    ("Dockerfile.notag", f"FROM golang:1.22{_PIN} AS build\nFROM alpine\nCOPY --from=build /a /a\nUSER app\n",
     "unpinned_base_image", 2),
    ("Dockerfile.secret", f"FROM alpine:3.19{_PIN}\nENV LOG_LEVEL=info \\\n    DB_PASSWORD=hunter2-very-secret\n"
                          "USER app\n", "secret_in_env", 2),
    ("Dockerfile.argsecret", f"FROM alpine:3.19{_PIN}\nARG API_KEY=hunter2-very-secret\nUSER app\n",
     "secret_in_env", 2),
]


def _json(p: Any) -> list[dict[str, Any]]:
    assert p.returncode in (0, 1), p.stderr.decode()
    doc = json.loads(p.stdout)
    assert isinstance(doc, list)
    return doc


def _rules(entry: dict[str, Any], key: str = "violations") -> set[str]:
    return {v["rule"] for v in entry[key]}


def _one_line_error(p: Any) -> str:
    err = p.stderr.decode()
    assert p.returncode == 2, (p.returncode, err, p.stdout.decode())
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


# ---------------------------------------------------------------------------
# Kubernetes manifests
# ---------------------------------------------------------------------------


def test_compliant_deployment_is_allowed(tmp_path: Path) -> None:
    f = tmp_path / "deployment.yaml"
    f.write_text(DEPLOYMENT)
    p = propolis_cli("check", str(f), "--format", "json")
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    [entry] = _json(p)
    assert set(entry) == ENTRY_KEYS
    assert entry["kind"] == "Deployment" and entry["name"] == "api" and entry["namespace"] == "payments"
    assert entry["file"] == str(f) and entry["allowed"] is True and entry["violations"] == []
    assert entry["policy_revision"].startswith("sha256:")


def test_privileged_pod_is_denied_with_rule_ids(tmp_path: Path) -> None:
    f = tmp_path / "pod.yaml"
    f.write_text(PRIVILEGED_POD)
    p = propolis_cli("check", str(f), "-f", "json")
    assert p.returncode == 1, p.stderr.decode()
    [entry] = _json(p)
    assert entry["allowed"] is False and entry["namespace"] == "default"  # --namespace default
    assert "pss_baseline_privileged" in _rules(entry)
    for v in entry["violations"] + entry["warnings"]:
        assert set(v) == {"rule", "message"} and v["message"] and not v["message"].startswith(v["rule"] + ":")
    # the table names the rule too, and the exit code is the same
    t = propolis_cli("check", str(f), env={"COLUMNS": "250"})
    assert t.returncode == 1 and "pss_baseline_privileged" in t.stdout.decode() and "denied" in t.stdout.decode()


def test_helm_template_stream_on_stdin() -> None:
    p = propolis_cli("check", "-", "--format", "json", "--namespace", "shop", input=HELM_STREAM.encode())
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    entries = _json(p)
    assert [(e["kind"], e["name"], e["namespace"]) for e in entries] == [
        ("Service", "api", "shop"), ("Deployment", "api", "shop"), ("ConfigMap", "api-config", "shop")]
    assert all(e["allowed"] and e["violations"] == [] and e["file"] == "<stdin>" for e in entries)
    # SARIF of the same stream: valid, no results
    s = propolis_cli("check", "-", "--format", "sarif", input=HELM_STREAM.encode())
    assert s.returncode == 0
    doc = json.loads(s.stdout)
    _sarif_valid(doc)
    assert doc["runs"][0]["results"] == []


def test_kustomize_list_is_flattened(tmp_path: Path) -> None:
    pod = PRIVILEGED_POD.replace("\n", "\n    ").rstrip()
    text = ("apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: cm}\n"
            f"  - {pod.lstrip()}\n")
    f = tmp_path / "all.yaml"
    f.write_text(text)
    p = propolis_cli("check", str(f), "-f", "json")
    assert p.returncode == 1, p.stderr.decode()
    entries = _json(p)
    assert [(e["kind"], e["name"], e["allowed"]) for e in entries] == [
        ("ConfigMap", "cm", True), ("Pod", "debug", False)]


def test_directory_mixes_manifests_and_dockerfiles(tmp_path: Path) -> None:
    (tmp_path / "k8s" / "base").mkdir(parents=True)
    (tmp_path / "k8s" / "base" / "deployment.yml").write_text(DEPLOYMENT)
    (tmp_path / "k8s" / "pod.json").write_text(json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                                           "metadata": {"name": "from-json"}}))
    (tmp_path / "Dockerfile").write_text(GOOD_DOCKERFILE)
    (tmp_path / "README.md").write_text("# not checked\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "broken.yaml").write_text("a: [\n")  # hidden folders are skipped
    p = propolis_cli("check", str(tmp_path), "-f", "json")
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    entries = _json(p)
    assert [(e["kind"], Path(e["file"]).relative_to(tmp_path).as_posix()) for e in entries] == [
        ("Dockerfile", "Dockerfile"), ("ConfigMap", "k8s/pod.json"), ("Deployment", "k8s/base/deployment.yml")]
    assert all(e["allowed"] for e in entries)
    docker = entries[0]
    assert set(docker) == ENTRY_KEYS and docker["name"] == "Dockerfile" and docker["namespace"] == ""
    assert docker["warnings"] == [] and docker["violations"] == []


def test_sarif_locates_each_violation(tmp_path: Path) -> None:
    f = tmp_path / "stream.yaml"
    f.write_text(DEPLOYMENT + "---\n" + PRIVILEGED_POD)
    (tmp_path / "Dockerfile.add").write_text(BAD_DOCKERFILES[2][1])
    p = propolis_cli("check", str(f), str(tmp_path / "Dockerfile.add"), "--format", "sarif")
    assert p.returncode == 1, p.stderr.decode()
    doc = json.loads(p.stdout)
    _sarif_valid(doc)
    run = doc["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert len(rules) == len(set(rules)) and {"pss_baseline_privileged", "add_from_url"} <= set(rules)
    for r in run["results"]:
        assert rules[r["ruleIndex"]] == r["ruleId"] and r["level"] in ("error", "warning")
    priv = next(r for r in run["results"] if r["ruleId"] == "pss_baseline_privileged")
    loc = priv["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == str(f) and loc["region"]["startLine"] == 27  # the Pod's document
    add = next(r for r in run["results"] if r["ruleId"] == "add_from_url")
    assert add["locations"][0]["physicalLocation"]["region"]["startLine"] == 2 and add["level"] == "error"
    assert run["properties"]["policy_revision"].startswith("sha256:")
    # one result per violation and warning
    j = _json(propolis_cli("check", str(f), str(tmp_path / "Dockerfile.add"), "-f", "json"))
    assert len(run["results"]) == sum(len(e["violations"]) + len(e["warnings"]) for e in j)


def _sarif_valid(doc: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(SARIF_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(doc)


# ---------------------------------------------------------------------------
# Bad input: exit 2, one line naming file and line
# ---------------------------------------------------------------------------


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "broken.yaml"
    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: [a, b\ndata: {}\n")
    err = _one_line_error(propolis_cli("check", str(f)))
    assert f"{f}:" in err and "invalid YAML" in err
    line = int(err.split(f"{f}:", 1)[1].split(":", 1)[0])
    assert 5 <= line <= 6


@pytest.mark.parametrize(("text", "needle"), [
    ("- a\n- b\n", ":1: document is not a mapping"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nmetadata: {name: b}\n",
     ":5: object has no kind"),
    ("just a string\n", ":1: document is not a mapping"),
])
def test_documents_that_are_not_objects(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "x.yaml"
    f.write_text(text)
    err = _one_line_error(propolis_cli("check", str(f)))
    assert f"{f}{needle}" in err


def test_unreadable_paths_and_bad_options(tmp_path: Path) -> None:
    assert "no such file" in _one_line_error(propolis_cli("check", str(tmp_path / "missing.yaml")))
    (tmp_path / "a.yaml").write_text(DEPLOYMENT)
    assert "unknown format" in _one_line_error(propolis_cli("check", str(tmp_path / "a.yaml"), "-f", "xml"))
    (tmp_path / "empty").mkdir()
    assert "no Kubernetes manifests" in _one_line_error(propolis_cli("check", str(tmp_path / "empty")))
    (tmp_path / "bin.yaml").write_bytes(b"kind: Pod\n\xff\xfe\n")
    assert f"{tmp_path / 'bin.yaml'}:2: not UTF-8" in _one_line_error(propolis_cli("check", str(tmp_path / "bin.yaml")))
    deep = tmp_path / "deep.yaml"
    deep.write_text("kind: ConfigMap\nmetadata: {name: x}\ndata:\n  a: " + "[" * 100 + "]" * 100 + "\n")
    assert f"{deep}:1: input nests deeper" in _one_line_error(propolis_cli("check", str(deep)))
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM alpine:3.19\nFROBNICATE now\n")
    assert f"{bad}:2: unknown instruction" in _one_line_error(propolis_cli("check", str(bad)))


def test_alias_bomb_is_refused_fast(tmp_path: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{','.join([f'*{prev}'] * 9)}]")
    f = tmp_path / "bomb.yaml"
    f.write_text("kind: ConfigMap\n" + "\n".join(lines) + "\n")
    start = time.monotonic()
    err = _one_line_error(propolis_cli("check", str(f), timeout=30))
    assert time.monotonic() - start < 20
    assert f"{f}:1:" in err and "alias" in err


# ---------------------------------------------------------------------------
# Dockerfiles
# ---------------------------------------------------------------------------


def test_each_dockerfile_rule_and_a_good_one(tmp_path: Path) -> None:
    for name, text, _rule, _line in BAD_DOCKERFILES:
        (tmp_path / name).write_text(text)
    (tmp_path / "Containerfile").write_text(GOOD_DOCKERFILE)
    p = propolis_cli("check", str(tmp_path), "-f", "json")
    assert p.returncode == 1, p.stderr.decode()
    entries = {Path(e["file"]).name: e for e in _json(p)}
    assert set(entries) == {name for name, *_ in BAD_DOCKERFILES} | {"Containerfile"}
    good = entries["Containerfile"]
    assert good["allowed"] is True and good["violations"] == [] and good["warnings"] == [], good
    for name, _text, rule, line in BAD_DOCKERFILES:
        e = entries[name]
        assert e["kind"] == "Dockerfile" and e["allowed"] is False, e
        assert _rules(e) == {rule}, (name, e["violations"])
        assert all(v["message"].endswith(f"(line {line})") for v in e["violations"]), (name, e["violations"])
    # secrets are named, never echoed, in any format
    assert "DB_PASSWORD" in entries["Dockerfile.secret"]["violations"][0]["message"]
    for fmt in ("json", "sarif", "table"):
        out = propolis_cli("check", str(tmp_path), "-f", fmt, env={"COLUMNS": "250"})
        assert b"hunter2" not in out.stdout + out.stderr
    # the ARG before FROM with an image in it: a warning, not a denial
    (tmp_path / "arg").mkdir()
    (tmp_path / "arg" / "Dockerfile").write_text("ARG BASE=alpine:3.19\nFROM ${BASE}\nUSER app\n")
    [e] = _json(propolis_cli("check", str(tmp_path / "arg"), "-f", "json"))
    assert e["allowed"] is True and _rules(e, "warnings") == {"unpinned_base_image"}


def test_dockerfile_on_stdin_is_detected() -> None:
    text = "# comment\n\nARG V=3.19\nFROM alpine:latest\nRUN curl -s https://x | bash\n"
    p = propolis_cli("check", "-", "-f", "json", input=text.encode())
    assert p.returncode == 1, p.stderr.decode()
    [e] = _json(p)
    assert e["kind"] == "Dockerfile" and e["file"] == "<stdin>"
    assert _rules(e) == {"root_user", "unpinned_base_image", "curl_pipe_shell"}


def test_parser_facts() -> None:
    text = (
        "# escape=`\n"
        "ARG REG=ghcr.io/propolis\n"
        "FROM --platform=$BUILDPLATFORM ${REG}/builder:1.0 AS build\n"
        "# a comment\n"
        "ENV A=1 `\n"
        "    # comment inside a continuation\n"
        "    B=\"two words\"\n"
        "RUN <<EOF\n"
        "FROM not-an-instruction\n"
        "curl -s https://x | sh\n"
        "EOF\n"
        "RUN [\"sh\", \"-c\", \"echo hi\"]\n"
        "ADD --checksum=sha256:abc https://example.com/a.tgz ./b /dst/\n"
        "USER builder\n"
        "FROM build AS final\n"
        "ENV LEGACY value with spaces\n"
    )
    facts = dockerfile_facts(parse_dockerfile(text, "Dockerfile"))["dockerfile"]
    build, final = facts["stages"]
    assert build["image"] == "${REG}/builder:1.0" and build["resolved"] == "ghcr.io/propolis/builder:1.0"
    assert build["variable"] and build["tag"] == "1.0" and build["alias"] == "build" and build["line"] == 3
    assert build["platform"] == "$BUILDPLATFORM"
    assert final["stage_ref"] and final["effective_user"] == "builder" and final["user"] == "" and final["line"] == 15
    assert [(e["key"], e["value"], e["line"]) for e in facts["env"]] == [
        ("REG", "ghcr.io/propolis", 2), ("A", "1", 5), ("B", "two words", 5), ("LEGACY", "value with spaces", 16)]
    heredoc, exec_run = facts["runs"]
    assert "curl -s https://x | sh" in heredoc["script"] and heredoc["line"] == 8
    assert exec_run["exec_form"] and exec_run["script"] == "sh -c echo hi"
    [add] = facts["adds"]
    assert add["sources"] == ["https://example.com/a.tgz", "./b"] and add["dest"] == "/dst/"
    assert add["flags"] == {"checksum": "sha256:abc"}
    assert [i["cmd"] for i in facts["instructions"]] == ["ARG", "FROM", "ENV", "RUN", "RUN", "ADD", "USER", "FROM",
                                                        "ENV"]
    assert looks_like_dockerfile(text) and not looks_like_dockerfile(DEPLOYMENT)


@pytest.mark.parametrize(("text", "needle"), [
    ("", "no FROM"),
    ("RUN echo\n", "RUN before the first FROM"),
    ("FROM a\nRUN <<EOF\necho\n", "not terminated"),
    ("# escape=x\nFROM a\n", "invalid escape"),
])
def test_parser_errors(text: str, needle: str) -> None:
    with pytest.raises(DockerfileError, match=needle):
        parse_dockerfile(text, "Dockerfile")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), st.text(alphabet="FROMRUNADDUSERENVARG \\`\n\t#=<EOF\"'[]$:{}-|", max_size=300)))
def test_dockerfile_parser_raises_only_its_error(text: str) -> None:
    try:
        facts = dockerfile_facts(parse_dockerfile(text, "Dockerfile"))
    except DockerfileError as exc:
        assert str(exc).startswith("Dockerfile:")
    else:
        json.dumps(facts)


# ---------------------------------------------------------------------------
# The manifest reader (shared with the admission webhook)
# ---------------------------------------------------------------------------


def test_load_documents_lines_lists_and_json() -> None:
    objs = load_documents(HELM_STREAM, "chart.yaml")
    assert [(o.kind, o.line) for o in objs] == [("Service", 3), ("Deployment", 12), ("ConfigMap", 38)]
    lines = HELM_STREAM.splitlines()
    assert [lines[o.line - 1] for o in objs] == ["apiVersion: v1", "apiVersion: apps/v1", "apiVersion: v1"]
    lst = load_documents("kind: PodList\napiVersion: v1\nitems:\n- kind: Pod\n  metadata: {name: a}\n"
                         "- kind: Pod\n  metadata: {name: b, namespace: x}\n", "l.yaml")
    assert [(o.name, o.namespace, o.line) for o in lst] == [("a", "", 4), ("b", "x", 6)]
    [j] = load_documents('\n{"kind": "Service", "apiVersion": "v1", "metadata": {"name": "s"}}', "s.json")
    assert j == ManifestObject(kind="Service", api_version="v1", name="s", namespace="", file="s.json", line=2,
                               doc={"kind": "Service", "apiVersion": "v1", "metadata": {"name": "s"}})
    # YAML-only scalars stay as Kubernetes reads them: timestamps are strings, keys are strings
    [c] = load_documents("kind: ConfigMap\nmetadata: {creationTimestamp: 2024-01-01T00:00:00Z}\ndata: {1: x}\n", "c")
    assert c.doc["metadata"]["creationTimestamp"] == "2024-01-01T00:00:00Z" and c.doc["data"] == {"1": "x"}
    assert load_documents("---\n# nothing\n---\n", "empty.yaml") == []
    with pytest.raises(ManifestError, match=r"^big\.yaml:1: .*limit"):
        load_documents("kind: ConfigMap\n" + "# x\n" * 100, "big.yaml", max_bytes=100)
    with pytest.raises(ManifestError, match="recursive alias"):
        load_documents("kind: ConfigMap\ndata: &a {x: *a}\n", "r.yaml")
    with pytest.raises(ManifestError, match=r"^bad\.json:2: invalid JSON"):
        load_documents('{"kind":\n ,}', "bad.json")


def test_admission_input_shape() -> None:
    [obj] = load_documents(DEPLOYMENT.replace("  namespace: payments\n", ""), "d.yaml")
    req = admission_input(obj, namespace="shop", dry_run=True, user="alice")["request"]
    assert req["kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert req["namespace"] == "shop" and req["name"] == "api" and req["operation"] == "CREATE"
    assert req["dryRun"] is True and req["userInfo"]["username"] == "alice" and req["object"] is obj.doc
    assert req["oldObject"] is None and req["uid"]
    [ns] = load_documents("apiVersion: v1\nkind: Namespace\nmetadata: {name: n, namespace: bogus}\n", "n.yaml")
    assert admission_input(ns, namespace="shop")["request"]["namespace"] == ""
    upd = admission_input(obj, operation="update")["request"]
    assert upd["operation"] == "UPDATE" and upd["oldObject"] is obj.doc and upd["kind"]["group"] == "apps"
    assert admission_input(obj, operation="DELETE")["request"]["object"] is None


_yaml_alphabet = st.sampled_from(list("abk:- \n\t[]{},&*!|>'\"#%@`?.0123456789~=\\\x00\ufeff") + [
    "kind: ", "apiVersion: v1\n", "---\n", "items:\n", "&a ", "*a", "<<: ", "!!binary ", "!!set ", "!!python/name:x ",
    "2001-12-14t21:59:43.10-05:00", "...\n", "%YAML 1.1\n"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=400), st.lists(_yaml_alphabet, max_size=60).map("".join)))
def test_load_documents_raises_only_manifest_error(text: str) -> None:
    try:
        objs = load_documents(text, "fuzz.yaml")
    except ManifestError as exc:
        assert str(exc).startswith("fuzz.yaml:")
    else:
        for o in objs:
            assert isinstance(o.kind, str) and o.kind and isinstance(o.doc, dict)
            json.dumps(admission_input(o), allow_nan=True)


# ---------------------------------------------------------------------------
# Real manifests from upstream admission suites
# ---------------------------------------------------------------------------

GATEKEEPER = TESTDATA / "admission" / "gatekeeper"


def _require(path: Path) -> Path:
    if path.exists():
        return path
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"test data {path} is missing (PROPOLIS_TESTDATA={TESTDATA}) and CI=true requires it")
    pytest.skip(f"test data {path} not found; set PROPOLIS_TESTDATA to the shared testdata folder")


def test_gatekeeper_samples() -> None:
    privileged = _require(GATEKEEPER / "privileged-containers" / "samples" / "psp-privileged-container" /
                          "example_disallowed.yaml")
    host_paths = _require(GATEKEEPER / "host-filesystem" / "samples" / "psp-host-filesystem" /
                          "example_disallowed.yaml")
    p = propolis_cli("check", str(privileged), str(host_paths), "-f", "json")
    assert p.returncode == 1, p.stderr.decode()
    priv, host = _json(p)
    assert priv["kind"] == "Pod" and priv["name"] == "nginx-privileged-disallowed" and not priv["allowed"]
    assert "pss_baseline_privileged" in _rules(priv)
    assert not host["allowed"] and "pss_baseline_host_path_volumes" in _rules(host)
    # the whole gatekeeper folder reads (constraints are objects too, AdmissionReviews and all)
    whole = propolis_cli("check", str(GATEKEEPER), "-f", "json")
    assert whole.returncode == 1, whole.stderr.decode()
    assert len(_json(whole)) >= 40
