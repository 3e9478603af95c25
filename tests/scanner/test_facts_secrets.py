"""Image config facts and secret detection.

Secret samples are assembled from pieces at runtime so this file holds nothing that looks like a
real credential.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from propolis.scanner.adapters.layers import read_layer
from propolis.scanner.adapters.sources import open_image
from propolis.scanner.catalogue import catalogue_image
from propolis.scanner.domain.config_facts import ConfigFacts, config_facts
from propolis.scanner.secrets import SecretFinding, load_rules, scan_env, scan_text, wants
from propolis.scanner.secrets.scanner import MAX_SCAN_BYTES, RuleError, parse_rules, redact
from tests.scanner.images import layer_tar, write_oci_layout

# --- config facts ------------------------------------------------------------------------------

REALISTIC = {
    "architecture": "amd64",
    "os": "linux",
    "config": {
        "User": "app:app",
        "ExposedPorts": {"8080/tcp": {}, "443/tcp": {}, "53/udp": {}, "9000": {}},
        "Env": ["PATH=/usr/local/bin:/usr/bin", "APP_MODE=production", "EMPTY=", "PATH=/dup"],
        "Entrypoint": ["/docker-entrypoint.sh"],
        "Cmd": ["app", "--port", "8080"],
        "Healthcheck": {"Test": ["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"],
                        "Interval": 30000000000},
    },
    "history": [
        {"created_by": "/bin/sh -c #(nop) ADD file:0123abcd in / "},
        {"created_by": '/bin/sh -c #(nop)  CMD ["/bin/sh"]', "empty_layer": True},
        {"created_by": "RUN /bin/sh -c apt-get update && apt-get install -y curl sudo # buildkit"},
        {"created_by": "RUN /bin/sh -c curl -fsSL https://get.example.org/install.sh | bash # buildkit"},
        {"created_by": "ENV APP_MODE=production", "empty_layer": True},
        {"created_by": "ADD https://example.org/tool.tar.gz /opt/tool.tar.gz # buildkit"},
        {"created_by": "RUN /bin/sh -c chmod -R 777 /srv && sudo -u app touch /srv/x # buildkit"},
        {"created_by": "RUN /bin/sh -c wget -qO- https://example.org/x.tgz | tar xz # buildkit"},
        {"created_by": "COPY app /app # buildkit"},
    ],
}


def test_realistic_config() -> None:
    facts = config_facts(REALISTIC)
    assert facts.user == "app:app"
    assert not facts.runs_as_root
    assert facts.exposed_ports == ["53/udp", "443/tcp", "8080/tcp", "9000/tcp"]
    assert facts.env_names == ["PATH", "APP_MODE", "EMPTY"]
    assert facts.entrypoint == ["/docker-entrypoint.sh"]
    assert facts.cmd == ["app", "--port", "8080"]
    assert facts.has_healthcheck
    got = [(f.rule, f.layer_index, f.history_index) for f in facts.history_findings]
    assert got == [
        ("pipe-to-shell", 2, 3),
        ("add-from-url", 3, 5),
        ("chmod-777", 4, 6),
        ("sudo", 4, 6),
    ]
    assert all(f.title and f.created_by for f in facts.history_findings)
    # Values of environment variables never end up in the facts.
    assert "production" not in msgspec.json.encode(facts).decode()


@pytest.mark.parametrize("user, root", [
    ("", True), ("root", True), ("0", True), ("0:0", True), ("root:root", True), ("000", True),
    (":1000", True), (" root ", True), ("1000", False), ("1000:0", False), ("nobody", False),
    ("app:root", False), ("rootless", False),
])
def test_runs_as_root(user: str, root: bool) -> None:
    assert config_facts({"config": {"User": user}}).runs_as_root is root


@pytest.mark.parametrize("created_by, rule", [
    ("/bin/sh -c curl https://x.example | sh", "pipe-to-shell"),
    ("/bin/sh -c wget -O - https://x.example/i.sh | sudo bash -s -- --yes", "pipe-to-shell"),
    ('/bin/sh -c sh -c "$(curl -fsSL https://x.example/i.sh)"', "pipe-to-shell"),
    ("/bin/sh -c bash <(curl -s https://x.example/i.sh)", "pipe-to-shell"),
    ("ADD --chown=1 https://x.example/a /a # buildkit", "add-from-url"),
    ("/bin/sh -c #(nop) ADD http://x.example/a in /a ", "add-from-url"),
    ("/bin/sh -c chmod 777 /tmp/x", "chmod-777"),
    ("/bin/sh -c chmod 0777 /tmp/x", "chmod-777"),
    ("/bin/sh -c sudo apt-get install -y x", "sudo"),
    ("/bin/sh -c true && sudo make install", "sudo"),
])
def test_history_rules_fire(created_by: str, rule: str) -> None:
    rules = {f.rule for f in config_facts({"history": [{"created_by": created_by}]}).history_findings}
    assert rule in rules


@pytest.mark.parametrize("created_by", [
    "/bin/sh -c curl -fsSLo /tmp/i.sh https://x.example/i.sh && sha256sum -c sums",
    "/bin/sh -c curl -s https://x.example/a.tgz | tar xz",
    "/bin/sh -c wget https://x.example/a; sh ./a.sh",
    "/bin/sh -c #(nop) ADD file:abc in / ",
    "COPY https.txt /https.txt # buildkit",
    "/bin/sh -c chmod 755 /app && chmod 7770 /x",
    "/bin/sh -c apt-get install -y sudo",
    "/bin/sh -c echo pseudo-terminal",
])
def test_history_near_misses(created_by: str) -> None:
    assert config_facts({"history": [{"created_by": created_by}]}).history_findings == []


@pytest.mark.parametrize("health, expected", [
    ({"Test": ["CMD", "/bin/check"]}, True),
    ({"Test": ["CMD-SHELL", "exit 0"]}, True),
    ({"Test": ["NONE"]}, False),
    ({"Test": []}, False),
    ({"Test": ["CMD"]}, False),
    ({}, False),
    (None, False),
    ("yes", False),
])
def test_healthcheck(health: object, expected: bool) -> None:
    assert config_facts({"config": {"Healthcheck": health}}).has_healthcheck is expected


@pytest.mark.parametrize("garbage", [
    None, 1, "x", [], [1, 2], {}, {"config": None}, {"config": []}, {"config": "x"},
    {"config": {"User": 0, "ExposedPorts": ["80", 443, None, {"a": 1}, "x" * 5000], "Env": "A=1",
                "Entrypoint": 5, "Cmd": [1, "x", None], "Healthcheck": {"Test": "NONE"}}},
    {"config": {"ExposedPorts": {"9" * 5000: {}, "²": {}}, "User": "9" * 5000}},
    {"history": "x"}, {"history": [None, 1, {"created_by": 5}, {"created_by": None, "empty_layer": "yes"}]},
])
def test_garbage_config_is_tolerated(garbage: object) -> None:
    facts = config_facts(garbage)
    assert isinstance(facts, ConfigFacts)
    msgspec.json.encode(facts)


def test_empty_config_defaults() -> None:
    facts = config_facts({})
    assert facts == ConfigFacts()
    assert facts.runs_as_root and facts.exposed_ports == [] and facts.entrypoint is None


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)
_config_keys = st.sampled_from(["User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Healthcheck"])


@settings(max_examples=200, deadline=None)
@given(raw=_json, inner=st.dictionaries(_config_keys, _json, max_size=6),
       history=st.lists(st.dictionaries(st.sampled_from(["created_by", "empty_layer"]), _json), max_size=5)
       | _json)
def test_arbitrary_json_never_raises(raw: object, inner: dict[str, object], history: object) -> None:
    for doc in (raw, {"config": inner, "history": history}, {"config": raw, "history": raw}):
        msgspec.json.encode(config_facts(doc))


def test_facts_from_a_real_image(tmp_path: Path) -> None:
    root = write_oci_layout(tmp_path / "oci", [{"etc/a": b"a"}, {"etc/b": b"b"}],
                            created_by=["ADD rootfs.tar /", "RUN /bin/sh -c curl -sL https://x.example | sh"])
    facts = config_facts(catalogue_image(open_image(str(root))).config)
    assert facts.runs_as_root
    assert facts.env_names == ["PATH"]
    assert facts.cmd == ["/bin/sh"]
    assert [(f.rule, f.layer_index) for f in facts.history_findings] == [("pipe-to-shell", 1)]


# --- secrets -----------------------------------------------------------------------------------

DASHES = "-" * 5
KEY_BODY = "MIIEow" + "IBAAKCAQEA" + "q" * 50
GCP_KEY = DASHES + "BEGIN " + "PRIVATE KEY" + DASHES + "\n" + KEY_BODY + "\n" + DASHES + "END PRIVATE KEY" + DASHES


def _gcp(kind: str) -> str:
    return json.dumps({"type": kind, "project_id": "demo", "private_key_id": "0" * 8,
                       "private_key": GCP_KEY, "client_email": "svc@demo.example"}, indent=2)


#: rule id → (path, positive content, the secret inside it, near-miss content)
SAMPLES: dict[str, tuple[str, str, str, str]] = {
    "private-key": (
        "root/.ssh/id_rsa",
        DASHES + "BEGIN RSA " + "PRIVATE KEY" + DASHES + "\n" + KEY_BODY + "\n"
        + DASHES + "END RSA PRIVATE KEY" + DASHES,
        KEY_BODY,
        DASHES + "BEGIN PUBLIC KEY" + DASHES + "\n" + KEY_BODY + "\n" + DASHES + "END PUBLIC KEY" + DASHES,
    ),
    "aws-access-key-id": (
        "srv/app/settings.py",
        "ACCESS_ID = '" + "AK" + "IA" + "Q7RX2MZ4" + "B6N3C5P8" + "'\n",
        "AK" + "IA" + "Q7RX2MZ4" + "B6N3C5P8",
        "ACCESS_ID = '" + "AK" + "IA" + "Q7RX2MZ4" + "B6N3C5P" + "'\n"
        + "DOC = '" + "AK" + "IA" + "IOSFODNN7" + "EXAMPLE'\n",
    ),
    "aws-secret-access-key": (
        "root/.aws/credentials",
        "[default]\naws_secret_access_key = " + "wJalr" + "Xq9Lm2" * 5 + "Zp7Kd" + "\n",
        "wJalr" + "Xq9Lm2" * 5 + "Zp7Kd",
        "[default]\naws_secret_access_key = " + "wJalr" + "Xq9Lm2" * 5 + "Zp7K" + "\n",
    ),
    "github-token": (
        "srv/app/.env",
        "GH=" + "gh" + "p_" + "a1B2c3D4" * 4 + "e5F6" + "\n",
        "gh" + "p_" + "a1B2c3D4" * 4 + "e5F6",
        "GH=" + "gh" + "p_" + "a1B2c3D4" * 4 + "e5F" + "\n",
    ),
    "github-fine-grained-token": (
        "srv/app/deploy.sh",
        "export T=" + "github" + "_pat_" + "A1b2C3d4E5" * 2 + "Zz" + "_" + "q1W2e3R4t5" * 5 + "y6U7i8O9p" + "\n",
        "github" + "_pat_" + "A1b2C3d4E5" * 2 + "Zz" + "_" + "q1W2e3R4t5" * 5 + "y6U7i8O9p",
        "export T=" + "github" + "_pat_" + "A1b2C3d4E5" * 2 + "Zz" + "_" + "q1W2e3R4t5" * 5 + "y6U7i8O" + "\n",
    ),
    "slack-token": (
        "etc/notify.conf",
        "token = " + "xo" + "xb-" + "1234567890" + "-" + "2345678901" + "-" + "AbCdEfGhIjKlMnOpQr" + "\n",
        "xo" + "xb-" + "1234567890" + "-" + "2345678901" + "-" + "AbCdEfGhIjKlMnOpQr",
        "token = " + "xo" + "xb-" + "12345" + "-abc" + "\n",
    ),
    "gcp-service-account": (
        "srv/app/sa.json",
        _gcp("service" + "_account"),
        KEY_BODY,
        _gcp("authorized" + "_user").replace('"client_email"', '"note": "no service' + '_account", "client_email"'),
    ),
    "jwt": (
        "srv/app/config.yaml",
        "auth: " + "ey" + "JhbGciOiJIUzI1NiJ9" + "." + "ey" + "JzdWIiOiIxMjM0NTY3ODkwIn0" + "." + "Sf1KxwRJ" * 3 + "\n",
        "ey" + "JhbGciOiJIUzI1NiJ9" + "." + "ey" + "JzdWIiOiIxMjM0NTY3ODkwIn0" + "." + "Sf1KxwRJ" * 3,
        "auth: " + "ey" + "JhbGci" + "." + "ey" + "JzdWIi" + ".abc" + "\n",
    ),
    "generic-password": (
        "srv/app/config.yaml",
        "db:\n  host: db\n  password: " + "hunter" + "2Xyz!" + "\n",
        "hunter" + "2Xyz!",
        "db:\n  password: ${DB_PASSWORD}\n  passwd:\n  password_file: /run/secrets/db\n  password: null\n",
    ),
}


@pytest.fixture(scope="module")
def rules():  # type: ignore[no-untyped-def]
    return load_rules()


def test_rules_document(rules) -> None:  # type: ignore[no-untyped-def]
    ids = {r.id for r in rules}
    assert set(SAMPLES) <= ids
    assert {r.severity for r in rules} <= {"critical", "high", "medium", "low"}
    assert all(r.title and r.keywords for r in rules)
    with pytest.raises(RuleError):
        parse_rules({"rules": [{"id": "x", "title": "x", "severity": "urgent", "regex": "x"}]})
    with pytest.raises(RuleError):
        parse_rules({"rules": [{"id": "x", "title": "x", "severity": "low", "regex": "("}]})


@pytest.mark.parametrize("rule_id", sorted(SAMPLES))
def test_rule_fires_on_positive(rules, rule_id: str) -> None:  # type: ignore[no-untyped-def]
    path, positive, _secret, _near = SAMPLES[rule_id]
    hits = [f for f in scan_text(path, positive.encode(), rules) if f.rule_id == rule_id]
    assert hits, rule_id
    assert hits[0].path == path and hits[0].title and hits[0].severity
    assert hits[0].line == LINES.get(rule_id, 1)


#: Line of the first finding where it is not the first line.
LINES = {"generic-password": 3, "gcp-service-account": 5, "aws-secret-access-key": 2}


@pytest.mark.parametrize("rule_id", sorted(SAMPLES))
def test_rule_silent_on_near_miss(rules, rule_id: str) -> None:  # type: ignore[no-untyped-def]
    path, _positive, _secret, near = SAMPLES[rule_id]
    assert [f for f in scan_text(path, near.encode(), rules) if f.rule_id == rule_id] == []


@pytest.mark.parametrize("rule_id", sorted(SAMPLES))
def test_findings_never_hold_the_secret(rules, rule_id: str) -> None:  # type: ignore[no-untyped-def]
    path, positive, secret, _near = SAMPLES[rule_id]
    findings = scan_text(path, positive.encode(), rules)
    assert findings
    for f in findings:
        assert f.redacted.endswith("****")
        assert len(f.redacted) - 4 <= 4
        for text in (repr(f), msgspec.json.encode(f).decode(), json.dumps(msgspec.to_builtins(f))):
            assert secret not in text


def test_password_rule_only_in_config_like_files(rules) -> None:  # type: ignore[no-untyped-def]
    _path, positive, _secret, _near = SAMPLES["generic-password"]
    assert [f.rule_id for f in scan_text("srv/app/main.py", positive.encode(), rules)] == []
    for path in ("srv/.env", "etc/app/app.ini", "opt/x/application.properties", "srv/settings.toml"):
        assert [f.rule_id for f in scan_text(path, b"password=" + b"s3cr" + b"etval", rules)] == ["generic-password"]


@settings(max_examples=100, deadline=None)
@given(secret=st.text(alphabet="ABCDEFGHJKMNPQRSTVWXYZ0123456789abcdefghjkmnpqrstvwxyz", min_size=8, max_size=60))
def test_redaction_of_any_password(secret: str) -> None:
    findings = scan_text("srv/app.conf", f"password = {secret}\n".encode())
    assert [f.rule_id for f in findings] == ["generic-password"]
    f = findings[0]
    assert f.redacted == secret[: len(f.redacted) - 4] + "****" and len(f.redacted) <= 8
    assert secret not in repr(f) and secret not in msgspec.json.encode(f).decode()


@pytest.mark.parametrize("value, shown", [("", "****"), ("ab", "****"), ("abcdef", "ab****"),
                                          ("abcdefghijkl", "abcd****"), ("x" * 100, "xxxx****")])
def test_redact(value: str, shown: str) -> None:
    assert redact(value) == shown


def test_env_secrets(rules) -> None:  # type: ignore[no-untyped-def]
    password = "s3cr" + "etvalue9"
    token = SAMPLES["github-token"][2]
    env = ["PATH=/usr/bin", "DB_PASSWORD=" + password, "POSTGRES_PASSWORD_FILE=/run/secrets/db", "API_KEY=",
           "SECRET_TOKEN=$FROM_RUNTIME", "GH=" + token, "USE_TOKEN=true", 5, None]
    findings = scan_env(env, rules)
    assert {(f.rule_id, f.line) for f in findings} == {("secret-in-env", 2), ("github-token", 6)}
    assert all(f.path == "config:Env" for f in findings)
    for f in findings:
        assert password not in repr(f) and token not in repr(f)
        assert password not in msgspec.json.encode(f).decode() and token not in msgspec.json.encode(f).decode()
    assert scan_env("A=1", rules) == [] and scan_env(None, rules) == []


def test_binary_content_is_skipped(rules) -> None:  # type: ignore[no-untyped-def]
    path, positive, _secret, _near = SAMPLES["github-token"]
    assert scan_text(path, positive.encode(), rules)
    assert scan_text(path, b"\x7fELF\x00\x01" + positive.encode(), rules) == []


@pytest.mark.parametrize("path, wanted", [
    ("root/.ssh/id_rsa", True), ("home/alice/.ssh/id_ed25519", True), ("home/alice/.ssh/id_ed25519.pub", False),
    ("root/.aws/credentials", True), ("srv/app/.env", True), ("srv/app/.env.production", True),
    ("etc/ssl/private/server.key", True), ("opt/certs/client.pem", True), ("etc/shadow-like", True),
    ("srv/app/config.yaml", True), ("srv/app/main.py", True), ("root/.npmrc", True),
    ("usr/share/doc/openssl/README.txt", False), ("usr/share/man/man1/ssh.1", False),
    ("usr/lib/python3.11/test/keycert.pem", False), ("usr/local/lib/python3.12/test/x.py", False),
    ("srv/app/node_modules/tls/test/fixtures/key.pem", False), ("srv/node_modules/a/tests.js", False),
    ("srv/node_modules/a/index.js", True), ("usr/bin/python3", False), ("srv/app/logo.png", False),
])
def test_wants(path: str, wanted: bool) -> None:
    assert (wants(path) == MAX_SCAN_BYTES) is wanted
    assert wants(path) in (0, MAX_SCAN_BYTES)


def test_scanning_a_real_layer(rules) -> None:  # type: ignore[no-untyped-def]
    key_path, key, _s, _n = SAMPLES["private-key"]
    spec: dict[str, object] = {
        key_path: key.encode(),
        "usr/share/doc/pkg/example.pem": key.encode(),
        "srv/app/config.yaml": SAMPLES["generic-password"][1].encode(),
        "usr/bin/tool": b"\x7fELF\x00" + key.encode(),
        "etc/big.conf": b"password=" + b"x" * MAX_SCAN_BYTES,
    }
    content = read_layer(io.BytesIO(layer_tar(spec)), wants)
    assert sorted(content.files) == ["root/.ssh/id_rsa", "srv/app/config.yaml"]
    assert any("etc/big.conf" in s for s in content.skipped)
    found = sorted((f.path, f.rule_id) for p, data in content.files.items() for f in scan_text(p, data, rules))
    assert found == [("root/.ssh/id_rsa", "private-key"), ("srv/app/config.yaml", "generic-password")]


_fragments = st.sampled_from([
    "password", "=", ": ", '"', "'", "\n", "AKIA", "ghp_", "xoxb-", "eyJ", ".", "service_account", '"type"',
    '"private_key"', "-----BEGIN ", "PRIVATE KEY-----", "aws_secret_access_key", "github_pat_", "A" * 20, "0" * 12,
    "$", "{", "\x00", "é", "\udcff",
])


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2048), pieces=st.lists(_fragments | st.text(max_size=12), max_size=40),
       path=st.sampled_from(["a.yaml", ".env", "x/y", "etc/z.conf", ""]))
def test_arbitrary_input_never_raises(data: bytes, pieces: list[str], path: str) -> None:
    text = "".join(pieces).encode("utf-8", errors="surrogatepass")
    for blob in (data, text):
        for f in scan_text(path, blob):
            assert isinstance(f, SecretFinding) and f.line >= 1 and f.redacted.endswith("****")
    scan_env(["".join(pieces), "".join(pieces).replace("=", "") + "_PASSWORD=" + "".join(pieces)])
    wants(path)
    wants("".join(pieces))
