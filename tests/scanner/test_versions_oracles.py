"""Version semantics checked against each ecosystem's own implementation, on generated pairs.

Every oracle runs once per batch of pairs (one process per Hypothesis example, ~50 pairs each),
never once per pair. Oracles and where they come from:

- deb: ``dpkg --compare-versions`` (always on Debian machines);
- rpm: ``rpm.vercmp`` through ``rpm --eval`` (Debian package ``rpm``);
- maven: ``ComparableVersion`` from Debian's ``libmaven3-core-java`` (``maven``), run with ``java``;
- gem: ``Gem::Version`` / ``Gem::Requirement`` (Debian package ``ruby``);
- composer: ``composer/semver`` (Debian packages ``php-cli`` ``php-composer-semver``);
- golang: ``golang.org/x/mod/semver`` (Debian package ``golang-golang-x-mod-dev``, built with ``go``);
- npm: node's ``semver`` package, pinned in ``tests/oracles/package-lock.json``; installed by the test
  with ``npm ci`` when missing. Without node/npm the npm tests skip, except under ``CI=true`` where they fail.

Other missing oracles skip with the package to install.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from propolis.scanner.versions import InvalidRange, InvalidVersion, get_scheme
from tests.scanner.test_versions import APK, COMPOSER, DEB, GEM, GO, MAVEN_ANY, NPM, RPM, SEMVER

ROOT = Path(__file__).resolve().parents[2]
ORACLES = ROOT / "tests" / "oracles"
IN_CI = os.environ.get("CI", "").lower() == "true"
PAIRS_PER_BATCH = 50
# 4 x 50 = 200 generated pairs per oracle by default; raise it for a deeper hunt
BATCHES = int(os.environ.get("PROPOLIS_VERSION_ORACLE_BATCHES", "4"))
BATCH = settings(
    max_examples=BATCHES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
MAVEN_JARS = (Path("/usr/share/maven/lib/maven-artifact-3.x.jar"), Path("/usr/share/java/maven3-artifact.jar"))
COMPOSER_AUTOLOAD = Path("/usr/share/php/Composer/Semver/autoload.php")
GO_XMOD = Path("/usr/share/gocode/src/golang.org/x/mod/semver")


def pairs(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    return st.lists(st.tuples(strategy, strategy), min_size=PAIRS_PER_BATCH, max_size=PAIRS_PER_BATCH)


def need(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} not installed (apt-get install {package})")


def run(argv: Sequence[str], stdin: str = "", cwd: Path | None = None) -> str:
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, cwd=cwd, timeout=120)
    assert proc.returncode == 0, f"{argv[0]} failed: {proc.stderr[-2000:]}"
    return proc.stdout


def ours(eco: str, a: str, b: str) -> int:
    return get_scheme(eco).compare(a, b)


def assert_agree(eco: str, batch: list[tuple[str, str]], theirs: list[int], oracle: str) -> None:
    assert len(theirs) == len(batch), f"{oracle} answered {len(theirs)} of {len(batch)}"
    wrong = [(a, b, ours(eco, a, b), t) for (a, b), t in zip(batch, theirs, strict=True) if ours(eco, a, b) != t]
    assert not wrong, f"{eco} disagrees with {oracle} on (a, b, ours, theirs): {wrong[:10]}"


# --- dpkg ------------------------------------------------------------------------------------


@BATCH
@given(pairs(DEB))
def test_dpkg_agrees_with_dpkg_compare_versions(batch: list[tuple[str, str]]) -> None:
    """``dpkg --compare-versions`` decides Debian ordering; one shell runs the whole batch."""
    need("dpkg", "dpkg")
    script = "\n".join(
        f"if dpkg --compare-versions {shlex.quote(a)} lt {shlex.quote(b)}; then echo -1; "
        f"elif dpkg --compare-versions {shlex.quote(a)} eq {shlex.quote(b)}; then echo 0; else echo 1; fi"
        for a, b in batch
    )
    theirs = [int(x) for x in run(["sh", "-c", script]).split()]
    assert_agree("deb", batch, theirs, "dpkg")


# --- rpm -------------------------------------------------------------------------------------


@BATCH
@given(pairs(RPM))
def test_rpm_agrees_with_rpm_vercmp(batch: list[tuple[str, str]]) -> None:
    """rpm's own EVR comparison (``rpm.vercmp`` in rpm's Lua), one ``rpm --eval`` per batch."""
    need("rpm", "rpm")
    body = " ".join(f'print(rpm.vercmp([==[{a}]==], [==[{b}]==]) .. "\\n")' for a, b in batch)
    theirs = [int(x) for x in run(["rpm", "--eval", "%{lua:" + body + "}"]).split()]
    assert_agree("rpm", batch, theirs, "rpm.vercmp")


# --- maven -----------------------------------------------------------------------------------


def maven_jar() -> Path:
    need("java", "default-jre-headless")
    for jar in MAVEN_JARS:
        if jar.exists():
            return jar
    pytest.skip("Maven's ComparableVersion not installed (apt-get install libmaven3-core-java)")


@BATCH
@given(pairs(MAVEN_ANY))
def test_maven_agrees_with_comparable_version(batch: list[tuple[str, str]]) -> None:
    """``ComparableVersion.main`` compares adjacent arguments; pairs are passed flat and every
    other comparison read back."""
    jar = maven_jar()
    args = [v for pair in batch for v in pair]
    out = run(["java", "-cp", str(jar), "org.apache.maven.artifact.versioning.ComparableVersion", *args])
    verdicts = re.findall(r"^   (\S+) (<|>|==) (\S+)$", out, re.MULTILINE)
    assert len(verdicts) == len(args) - 1
    theirs = [{"<": -1, "==": 0, ">": 1}[op] for _, op, _ in verdicts[0::2]]
    assert_agree("maven", batch, theirs, "ComparableVersion")


# --- RubyGems --------------------------------------------------------------------------------

RUBY = r"""
STDIN.each_line do |line|
  q = line.chomp.split("\t", -1)
  case q[0]
  when "cmp" then puts(Gem::Version.new(q[1]) <=> Gem::Version.new(q[2]))
  when "ok" then puts(Gem::Version.correct?(q[1]) ? 1 : 0)
  when "req"
    begin
      req = Gem::Requirement.new(*q[2].split(",").map(&:strip))
      puts(req.satisfied_by?(Gem::Version.new(q[1])) ? 1 : 0)
    rescue ArgumentError, Gem::Requirement::BadRequirementError
      puts "err"
    end
  end
end
"""


def ruby(lines: list[str]) -> list[str]:
    need("ruby", "ruby")
    return run(["ruby", "-e", RUBY], "\n".join(lines) + "\n").split("\n")[: len(lines)]


@BATCH
@given(pairs(GEM))
def test_gem_agrees_with_gem_version(batch: list[tuple[str, str]]) -> None:
    """``Gem::Version#<=>`` on generated pairs."""
    theirs = [int(x) for x in ruby([f"cmp\t{a}\t{b}" for a, b in batch])]
    assert_agree("gem", batch, theirs, "Gem::Version")


_GEM_TEXT = st.text(alphabet="0129.-abZ ", max_size=10)


@BATCH
@given(st.lists(_GEM_TEXT, min_size=PAIRS_PER_BATCH, max_size=PAIRS_PER_BATCH))
def test_gem_accepts_exactly_what_rubygems_accepts(texts: list[str]) -> None:
    """``Gem::Version.correct?`` and our parser accept the same strings."""
    theirs = [x == "1" for x in ruby([f"ok\t{t}" for t in texts])]
    mine = []
    for t in texts:
        try:
            get_scheme("gem").parse(t)
            mine.append(True)
        except InvalidVersion:
            mine.append(False)
    wrong = [(t, m, th) for t, m, th in zip(texts, mine, theirs, strict=True) if m != th]
    assert not wrong, f"validity differs from RubyGems (text, ours, theirs): {wrong[:10]}"


_GEM_REQ = st.builds(
    lambda parts: ", ".join(parts),
    st.lists(
        st.builds(lambda op, v: f"{op} {v}", st.sampled_from(["", "=", "!=", ">", "<", ">=", "<=", "~>"]), GEM),
        min_size=1,
        max_size=2,
    ),
)


@BATCH
@given(st.lists(st.tuples(GEM, _GEM_REQ), min_size=PAIRS_PER_BATCH, max_size=PAIRS_PER_BATCH))
def test_gem_requirements_agree_with_rubygems(batch: list[tuple[str, str]]) -> None:
    """``Gem::Requirement#satisfied_by?``, including ``~>`` and pre-release versions."""
    theirs = ruby([f"req\t{v}\t{r}" for v, r in batch])
    scheme = get_scheme("gem")
    wrong = []
    for (v, r), t in zip(batch, theirs, strict=True):
        try:
            mine = "1" if scheme.satisfies(v, r) else "0"
        except InvalidRange:
            mine = "err"
        if mine != t:
            wrong.append((v, r, mine, t))
    assert not wrong, f"requirement verdicts differ (version, requirement, ours, theirs): {wrong[:10]}"


# --- Composer --------------------------------------------------------------------------------

PHP = r"""<?php
require '/usr/share/php/Composer/Semver/autoload.php';
$p = new Composer\Semver\VersionParser();
while (($line = fgets(STDIN)) !== false) {
    $q = explode("\t", rtrim($line, "\n"));
    try {
        if ($q[0] === 'norm') { echo $p->normalize($q[1]), "\n"; }
        elseif ($q[0] === 'cmp') { echo version_compare($p->normalize($q[1]), $p->normalize($q[2])), "\n"; }
        else { echo Composer\Semver\Semver::satisfies($q[1], $q[2]) ? 1 : 0, "\n"; }
    } catch (\Throwable $e) { echo "err\n"; }
}
"""


def php(lines: list[str], tmp: Path) -> list[str]:
    need("php", "php-cli")
    if not COMPOSER_AUTOLOAD.exists():
        pytest.skip("composer/semver not installed (apt-get install php-composer-semver)")
    script = tmp / "oracle.php"
    script.write_text(PHP)
    return run(["php", str(script)], "\n".join(lines) + "\n").split("\n")[: len(lines)]


@BATCH
@given(batch=pairs(COMPOSER))
def test_composer_agrees_with_composer_semver(
    batch: list[tuple[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Composer's normalisation and PHP's ``version_compare`` on the normalised forms."""
    tmp = tmp_path_factory.mktemp("php")
    theirs = [int(x) for x in php([f"cmp\t{a}\t{b}" for a, b in batch], tmp)]
    assert_agree("composer", batch, theirs, "composer/semver")
    from propolis.scanner.versions.composer import normalize

    texts = sorted({v for pair in batch for v in pair})
    norms = php([f"norm\t{t}" for t in texts], tmp)
    wrong = [(t, normalize(t), n) for t, n in zip(texts, norms, strict=True) if normalize(t) != n]
    assert not wrong, f"normalisation differs (text, ours, theirs): {wrong[:10]}"


_COMPOSER_CONSTRAINT = st.builds(
    lambda alts: " || ".join(alts),
    st.lists(
        st.builds(
            lambda comps: ", ".join(comps),
            st.lists(
                st.one_of(
                    st.builds(
                        lambda op, v: op + v, st.sampled_from(["", "=", "!=", ">", "<", ">=", "<=", "^", "~"]), COMPOSER
                    ),
                    st.builds(lambda a, b: f"{a}.{b}.*", st.integers(0, 3), st.integers(0, 3)),
                    st.builds(lambda a, b: f"{a} - {b}", COMPOSER, COMPOSER),
                ),
                min_size=1,
                max_size=2,
            ),
        ),
        min_size=1,
        max_size=2,
    ),
)


@BATCH
@given(batch=st.lists(st.tuples(COMPOSER, _COMPOSER_CONSTRAINT), min_size=PAIRS_PER_BATCH, max_size=PAIRS_PER_BATCH))
def test_composer_constraints_agree_with_composer_semver(
    batch: list[tuple[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``Semver::satisfies`` with ``^``, ``~``, wildcards, hyphen ranges, ``,`` and ``||``."""
    theirs = php([f"sat\t{v}\t{c}" for v, c in batch], tmp_path_factory.mktemp("php"))
    scheme = get_scheme("composer")
    wrong = []
    for (v, c), t in zip(batch, theirs, strict=True):
        try:
            mine = "1" if scheme.satisfies(v, c) else "0"
        except (InvalidRange, InvalidVersion):
            mine = "err"
        if mine != t:
            wrong.append((v, c, mine, t))
    assert not wrong, f"constraint verdicts differ (version, constraint, ours, theirs): {wrong[:10]}"


# --- Go --------------------------------------------------------------------------------------

GO_SRC = """package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/semver"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\\t")
		if f[0] == "cmp" {
			fmt.Println(semver.Compare(f[1], f[2]))
		} else if semver.IsValid(f[1]) {
			fmt.Println(1)
		} else {
			fmt.Println(0)
		}
	}
}
"""


@pytest.fixture(scope="module")
def go_oracle(tmp_path_factory: pytest.TempPathFactory) -> Callable[[list[str]], list[str]]:
    need("go", "golang-go")
    if not GO_XMOD.exists():
        pytest.skip("golang.org/x/mod not installed (apt-get install golang-golang-x-mod-dev)")
    tmp = tmp_path_factory.mktemp("go")
    (tmp / "main.go").write_text(GO_SRC)
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": "/usr/share/gocode", "GOFLAGS": ""}
    proc = subprocess.run(
        ["go", "build", "-o", str(tmp / "oracle"), str(tmp / "main.go")], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    return lambda lines: run([str(tmp / "oracle")], "\n".join(lines) + "\n").split("\n")[: len(lines)]


def test_go_agrees_with_x_mod_semver(go_oracle: Callable[[list[str]], list[str]]) -> None:
    """``semver.Compare`` (pseudo-versions, shorthands, ``+incompatible``) on generated pairs."""

    @BATCH
    @given(pairs(GO))
    def check(batch: list[tuple[str, str]]) -> None:
        theirs = [int(x) for x in go_oracle([f"cmp\t{a}\t{b}" for a, b in batch])]
        assert_agree("golang", batch, theirs, "x/mod/semver")

    check()


def test_go_accepts_exactly_what_x_mod_semver_accepts(go_oracle: Callable[[list[str]], list[str]]) -> None:
    """``semver.IsValid`` and our parser accept the same strings (the ``v`` being optional here)."""

    @BATCH
    @given(st.lists(st.text(alphabet="v0129.-+abx", max_size=12), min_size=PAIRS_PER_BATCH, max_size=PAIRS_PER_BATCH))
    def check(texts: list[str]) -> None:
        asked = [t if t.startswith("v") else "v" + t for t in texts]
        theirs = [x == "1" for x in go_oracle([f"ok\t{t}" for t in asked])]
        wrong = []
        for t, th in zip(texts, theirs, strict=True):
            try:
                get_scheme("golang").parse(t)
                mine = True
            except InvalidVersion:
                mine = False
            if mine != th:
                wrong.append((t, mine, th))
        assert not wrong, f"validity differs from x/mod/semver (text, ours, theirs): {wrong[:10]}"

    check()


# --- npm -------------------------------------------------------------------------------------

NODE = r"""
const semver = require('semver');
const out = [];
for (const line of require('fs').readFileSync(0, 'utf8').split('\n')) {
  if (!line) continue;
  const q = JSON.parse(line);
  let r;
  try {
    if (q.op === 'valid') r = semver.valid(q.v);
    else if (q.op === 'cmp') r = semver.compare(q.a, q.b);
    else if (q.op === 'sat') r = semver.satisfies(q.v, q.r);
    else r = semver.validRange(q.r);
  } catch (e) { r = {error: String(e && e.message)}; }
  out.push(JSON.stringify(r === undefined ? null : r));
}
process.stdout.write(out.join('\n') + '\n');
"""


@pytest.fixture(scope="module")
def node_oracle() -> Iterator[Callable[[list[dict[str, str]]], list[object]]]:
    missing = [t for t in ("node", "npm") if shutil.which(t) is None]
    if missing:
        if IN_CI:
            pytest.fail(f"{' and '.join(missing)} missing: the npm oracle is required under CI=true")
        pytest.skip(f"{' and '.join(missing)} not installed: cannot run node's semver as the npm oracle")
    if not (ORACLES / "node_modules" / "semver" / "package.json").exists():
        proc = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(ORACLES)], capture_output=True, text=True
        )
        assert proc.returncode == 0, f"npm ci for tests/oracles failed: {proc.stderr[-2000:]}"

    def ask(queries: list[dict[str, str]]) -> list[object]:
        out = run(["node", "-e", NODE], "\n".join(json.dumps(q) for q in queries) + "\n", cwd=ORACLES)
        return [json.loads(x) for x in out.splitlines()]

    yield ask


def test_npm_oracle_is_the_pinned_semver_7(node_oracle: Callable[[list[dict[str, str]]], list[object]]) -> None:
    """The oracle must be node-semver 7 (the range grammar this module ports)."""
    lock = json.loads((ORACLES / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/semver"]["version"].startswith("7.")
    assert node_oracle([{"op": "sat", "v": "1.5.0", "r": "^1.2.3"}]) == [True]


def test_npm_versions_agree_with_node_semver(node_oracle: Callable[[list[dict[str, str]]], list[object]]) -> None:
    """``semver.compare`` on generated pairs, and ``semver.valid`` on near-miss strings."""

    @BATCH
    @given(pairs(NPM), st.lists(st.text(alphabet="v= 0129.-+abx", max_size=14), min_size=20, max_size=20))
    def check(batch: list[tuple[str, str]], texts: list[str]) -> None:
        theirs = node_oracle([{"op": "cmp", "a": a, "b": b} for a, b in batch])
        assert_agree("npm", batch, [int(str(t)) for t in theirs], "node semver")
        valid = node_oracle([{"op": "valid", "v": t} for t in texts])
        wrong = []
        for t, th in zip(texts, valid, strict=True):
            try:
                get_scheme("npm").parse(t)
                mine = True
            except InvalidVersion:
                mine = False
            if mine != (th is not None):
                wrong.append((t, mine, th))
        assert not wrong, f"validity differs from semver.valid (text, ours, theirs): {wrong[:10]}"

    check()


_X = st.sampled_from(["x", "X", "*"])
_NUM = st.sampled_from(["0", "1", "2", "3", "10"])
_PARTIAL = st.one_of(
    st.builds(lambda a: a, _NUM | _X),
    st.builds(lambda a, b: f"{a}.{b}", _NUM, _NUM | _X),
    st.builds(lambda a, b, c: f"{a}.{b}.{c}", _NUM, _NUM, _NUM | _X),
    st.builds(
        lambda v, pre: f"{v}-{pre}", _NUM.map(lambda n: f"1.{n}.0"), st.sampled_from(["0", "beta", "rc.1", "alpha.2"])
    ),
    st.builds(lambda p, v: p + v, st.sampled_from(["v", "=", " "]), _NUM.map(lambda n: f"1.2.{n}")),
    st.builds(lambda v, b: f"{v}+{b}", _NUM.map(lambda n: f"2.{n}.1"), st.sampled_from(["build", "001"])),
)
_COMPARATOR = st.one_of(
    st.builds(
        lambda op, v: op + v,
        st.sampled_from(["", "=", "<", "<=", ">", ">=", "~", "~>", "^", "> ", "<= ", "~ ", "^ ", ">=  "]),
        _PARTIAL,
    ),
    st.builds(lambda a, b: f"{a} - {b}", _PARTIAL, _PARTIAL),
)
NPM_RANGE = st.one_of(
    st.builds(
        lambda sets, sep: sep.join(" ".join(s) for s in sets),
        st.lists(st.lists(_COMPARATOR, min_size=1, max_size=3), min_size=1, max_size=3),
        st.sampled_from([" || ", "||", " ||", "  ||  "]),
    ),
    st.text(alphabet="0129.xX*^~<>=- |v", max_size=16),
)
_NPM_VERSION = st.one_of(
    SEMVER,
    st.builds(lambda a, b, c: f"{a}.{b}.{c}", _NUM, _NUM, _NUM),
    st.builds(lambda a, b, pre: f"{a}.{b}.0-{pre}", _NUM, _NUM, st.sampled_from(["0", "beta", "rc.1", "alpha.2"])),
)


def test_npm_ranges_agree_with_node_semver(node_oracle: Callable[[list[dict[str, str]]], list[object]]) -> None:
    """``semver.satisfies`` and ``semver.validRange`` on generated ranges: caret, tilde, x-ranges,
    hyphen ranges, ``||``, whitespace variants, pre-release rules, and junk."""

    @BATCH
    @given(st.lists(st.tuples(_NPM_VERSION, NPM_RANGE), min_size=PAIRS_PER_BATCH, max_size=PAIRS_PER_BATCH))
    def check(batch: list[tuple[str, str]]) -> None:
        sat = node_oracle([{"op": "sat", "v": v, "r": r} for v, r in batch])
        valid = node_oracle([{"op": "range", "r": r} for _, r in batch])
        scheme = get_scheme("npm")
        wrong = []
        for (v, r), s, ok in zip(batch, sat, valid, strict=True):
            try:
                c = scheme.constraint(r)
            except InvalidRange:
                if ok is not None or s is not False:
                    wrong.append((v, r, "invalid", s, ok))
                continue
            mine = c.contains(scheme.parse(v))
            if ok is None or mine != s:
                wrong.append((v, r, mine, s, ok))
        assert not wrong, f"range verdicts differ (version, range, ours, satisfies, validRange): {wrong[:10]}"

    check()


# --- apk: no apk-tools on Debian; a literal transcription of its compare loop -----------------


def _apk_reference(a: str, b: str) -> int:
    """apk-tools ``apk_version_compare`` transcribed token by token (src/version.c), used to check
    the tuple-key encoding; it is deliberately the slow streaming form."""

    def tokens(s: str) -> Iterator[tuple[int, str, int]]:
        i, prev = 0, 0
        m = re.match(r"[0-9]+", s)
        assert m
        yield 0, m.group(), 0
        i = m.end()
        suffixes = ["", "alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg", "p"]
        while i < len(s):
            c = s[i]
            if c.islower():
                yield 2, c, 0
                i, prev = i + 1, 2
            elif c == "." or c.isdigit():
                j = i + 1 if c == "." else i
                m = re.match(r"[0-9]+", s[j:])
                assert m
                t = 1 if prev in (0, 1) else 4
                yield t, m.group(), 0
                i, prev = j + m.end(), t
            elif c == "_":
                m = re.match(r"[a-z]*", s[i + 1 :])
                assert m
                yield 3, m.group(), suffixes.index(m.group(), 1)
                i, prev = i + 1 + m.end(), 3
            elif c == "~":
                m = re.match(r"[0-9a-f]*", s[i + 1 :])
                assert m
                yield 5, m.group(), 0
                i, prev = i + 1 + m.end(), 5
            else:
                m = re.match(r"-r([0-9]+)", s[i:])
                assert m
                yield 6, m.group(1), 0
                i, prev = i + m.end(), 6
        yield 7, "", 0

    ta, tb = tokens(a), tokens(b)
    while True:
        (at, av, asuf), (bt, bv, bsuf) = next(ta), next(tb)
        if at != bt or at == 7:
            break
        if at == 1 and (av[0] == "0" or bv[0] == "0") or at == 5:
            r = (av > bv) - (av < bv)
        elif at == 2:
            r = (av > bv) - (av < bv)
        elif at == 3:
            r = (asuf > bsuf) - (asuf < bsuf)
        else:
            r = (int(av) > int(bv)) - (int(av) < int(bv))
        if r:
            return r
    if at == bt:
        return 0
    if at == 3 and asuf < 5:
        return -1
    if bt == 3 and bsuf < 5:
        return 1
    return -1 if at > bt else 1


@settings(max_examples=300, deadline=None)
@given(APK, APK)
def test_apk_key_agrees_with_apk_tools_compare_loop(a: str, b: str) -> None:
    """The tuple key reproduces apk-tools' streaming comparison (token types, leading-zero string
    sort, pre-release suffix rule at a type mismatch)."""
    assert ours("apk", a, b) == _apk_reference(a, b), (a, b)


# --- Cargo: the semver crate itself, built offline from Debian's librust-semver-dev --------------

CARGO_MAIN = r"""
use std::io::BufRead;
fn main() {
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let f: Vec<&str> = line.split('\t').collect();
        match f[0] {
            "cmp" => {
                let a = semver::Version::parse(f[1]).unwrap();
                let b = semver::Version::parse(f[2]).unwrap();
                // SemVer precedence: the crate's Ord also orders build metadata, precedence ignores it
                let o = a.major.cmp(&b.major).then(a.minor.cmp(&b.minor))
                    .then(a.patch.cmp(&b.patch)).then(a.pre.cmp(&b.pre));
                println!("{}", o as i32);
            }
            "ok" => println!("{}", if semver::Version::parse(f[1]).is_ok() { 1 } else { 0 }),
            _ => match (semver::Version::parse(f[1]), semver::VersionReq::parse(f[2])) {
                (Ok(v), Ok(r)) => println!("{}", if r.matches(&v) { 1 } else { 0 }),
                _ => println!("err"),
            },
        }
    }
}
"""
DEBIAN_CRATES = Path("/usr/share/cargo/registry")


@pytest.fixture(scope="module")
def cargo_oracle(tmp_path_factory: pytest.TempPathFactory) -> Callable[[list[str]], list[str]]:
    need("cargo", "cargo")
    if not list(DEBIAN_CRATES.glob("semver-1.*")):
        pytest.skip("the semver crate is not installed (apt-get install librust-semver-dev)")
    tmp = tmp_path_factory.mktemp("cargo")
    (tmp / "src").mkdir()
    (tmp / ".cargo").mkdir()
    (tmp / "Cargo.toml").write_text(
        '[package]\nname = "semver-oracle"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nsemver = "1"\n'
    )
    (tmp / ".cargo" / "config.toml").write_text(
        '[source.crates-io]\nreplace-with = "debian"\n\n'
        f'[source.debian]\ndirectory = "{DEBIAN_CRATES}"\n\n[net]\noffline = true\n'
    )
    (tmp / "src" / "main.rs").write_text(CARGO_MAIN)
    proc = subprocess.run(["cargo", "build", "--release", "-q"], cwd=tmp, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    binary = tmp / "target" / "release" / "semver-oracle"
    return lambda lines: run([str(binary)], "\n".join(lines) + "\n").split("\n")[: len(lines)]


_CARGO_PARTIAL = st.one_of(
    st.builds(lambda a: a, _NUM),
    st.builds(lambda a, b: f"{a}.{b}", _NUM, _NUM | st.sampled_from(["*", "x"])),
    st.builds(lambda a, b, c: f"{a}.{b}.{c}", _NUM, _NUM, _NUM | st.sampled_from(["*", "x"])),
    SEMVER,
)
CARGO_REQ = st.one_of(
    st.builds(
        lambda comps: ", ".join(comps),
        st.lists(
            st.builds(
                lambda op, v: op + v,
                st.sampled_from(["", "=", ">", ">=", "<", "<=", "~", "^", ">= ", "~ "]),
                _CARGO_PARTIAL,
            ),
            min_size=1,
            max_size=3,
        ),
    ),
    st.just("*"),
    st.text(alphabet="0129.*x^~<>=, -v", max_size=12),
)


def test_cargo_agrees_with_the_semver_crate(cargo_oracle: Callable[[list[str]], list[str]]) -> None:
    """Version precedence, validity and ``VersionReq::matches`` against the Rust ``semver`` crate."""

    @BATCH
    @given(
        pairs(SEMVER),
        st.lists(st.text(alphabet="v0129.-+ab", max_size=12), min_size=20, max_size=20),
        st.lists(st.tuples(SEMVER, CARGO_REQ), min_size=PAIRS_PER_BATCH, max_size=PAIRS_PER_BATCH),
    )
    def check(batch: list[tuple[str, str]], texts: list[str], reqs: list[tuple[str, str]]) -> None:
        theirs = [int(x) for x in cargo_oracle([f"cmp\t{a}\t{b}" for a, b in batch])]
        assert_agree("cargo", batch, theirs, "semver crate")
        scheme = get_scheme("cargo")
        wrong: list[tuple[str, ...]] = []
        for t, ok in zip(texts, cargo_oracle([f"ok\t{t}" for t in texts]), strict=True):
            try:
                scheme.parse(t)
                mine = "1"
            except InvalidVersion:
                mine = "0"
            if mine != ok:
                wrong.append((t, mine, ok))
        for (v, r), t in zip(reqs, cargo_oracle([f"req\t{v}\t{r}" for v, r in reqs]), strict=True):
            try:
                mine = "1" if scheme.satisfies(v, r) else "0"
            except InvalidRange:
                mine = "err"
            if mine != t:
                wrong.append((v, r, mine, t))
        assert not wrong, f"cargo verdicts differ from the semver crate: {wrong[:10]}"

    check()
