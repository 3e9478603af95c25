"""Workload risk: facts read from Kubernetes manifests of every supported kind (and precise refusals of
malformed ones), scored through the real Rego engine; then, over real sockets and a real NATS, a real
scanner and risk service scoring workloads (ScoreWorkload), ranking them from the workloads KV bucket
(RankWorkloads), rescoring them on runtime alerts and scans (``propolis.risk.changed`` with the
workload), and ScoreImage/EvaluateCheckpoint keeping the image's own score in the scores bucket."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from propolis.common.v1 import common_pb2
from propolis.kernel import events
from propolis.risk.domain.facts import image_facts
from propolis.risk.domain.workload import (
    INGRESS_ANNOTATION,
    POD_SPEC_PATHS,
    WorkloadError,
    image_digest,
    parse_workload,
    parse_workload_id,
)
from propolis.risk.service import RiskService, WorkloadRecord, key_token, workload_key
from propolis.risk.v1 import risk_pb2
from propolis.scanner.catalogue import Catalogue
from tests.test_risk import _decide, facts_st
from tests.test_risk_service import _image, _scan, airflow, config, requests_image, services, vulndb

__all__ = ["airflow", "requests_image", "vulndb"]  # module fixtures shared with test_risk_service

DIGEST = "sha256:" + "ab" * 32


def manifest(kind: str, spec: dict[str, Any], *, name: str = "app", namespace: str = "",
             labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
             template_labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A ``kind`` manifest with ``spec`` as its pod spec, wherever that kind keeps it."""
    meta: dict[str, Any] = {"name": name, "labels": labels or {}, "annotations": annotations or {}}
    if namespace:
        meta["namespace"] = namespace
    template = {"metadata": {"labels": template_labels or {}}, "spec": spec}
    body: dict[str, Any] = {
        "Pod": spec,
        "CronJob": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}},
    }.get(kind, {"replicas": 2, "template": template})
    return {"apiVersion": "v1" if kind == "Pod" else "apps/v1", "kind": kind, "metadata": meta, "spec": body}


def risky_spec() -> dict[str, Any]:
    return {
        "hostNetwork": True, "hostPID": True,
        "volumes": [{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}, {"name": "tmp", "emptyDir": {}},
                    {"name": "root", "hostPath": {"path": "/", "type": "Directory"}}],
        "initContainers": [{"name": "init", "image": "busybox:1.36",
                            "securityContext": {"privileged": True, "capabilities": {"add": ["sys_admin"]}},
                            "ports": [{"containerPort": 9999}]}],
        "containers": [
            {"name": "web", "image": f"registry.local/web@{DIGEST}", "ports": [{"containerPort": 8080},
                                                                              {"containerPort": 8443}],
             "securityContext": {"capabilities": {"add": ["NET_ADMIN", "SYS_ADMIN"], "drop": ["ALL"]}}},
            {"name": "sidecar", "image": "registry.local/proxy:2", "ports": [{"containerPort": 8080}]},
        ],
        "ephemeralContainers": [{"name": "debug", "image": f"registry.local/web@{DIGEST}"}],
    }


# ---------------------------------------------------------------------------
# Facts from manifests
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(POD_SPEC_PATHS))
def test_every_kind_yields_its_facts(kind: str) -> None:
    doc = manifest(kind, risky_spec(), name="web", namespace="payments", labels={"team": "pay"},
                   annotations={INGRESS_ANNOTATION: "true"})
    w = parse_workload(json.dumps(doc).encode())
    assert (w.namespace, w.kind, w.name, w.team, w.id) == ("payments", kind, "web", "pay", f"payments/{kind}/web")
    d = w.deployment
    assert d.privileged  # only the init container is privileged: it runs the same pod
    assert d.capabilities == ["NET_ADMIN", "SYS_ADMIN"]
    assert d.host_mounts == ["/", "/var/run/docker.sock"]
    assert d.host_network and d.ingress
    assert d.exposed_ports == [8080, 8443]  # regular containers only
    assert [(i.reference, i.digest, i.containers) for i in w.images] == [
        (f"registry.local/web@{DIGEST}", DIGEST, ["web", "debug"]),
        ("registry.local/proxy:2", "", ["sidecar"]),
        ("busybox:1.36", "", ["init"]),
    ]
    # The facts are what risk.rego reads: every one of them raises the score.
    decision = _decide(image_facts(Catalogue(reference="r"), [], deployment=msgspec.to_builtins(d)))
    raised = {f["factor"] for f in decision["factors"] if f["contribution"] > 0}
    assert raised == {"privileged", "capabilities", "host_mounts", "host_network", "exposure"}


def test_defaults_namespace_team_and_ingress() -> None:
    spec = {"containers": [{"name": "a", "image": "app:1"}]}
    w = parse_workload(json.dumps(manifest("Deployment", spec, template_labels={"owner": "ops", "team": "tmpl"})))
    assert w.namespace == "default" and w.team == "tmpl"  # the pod template's label when the workload has none
    d = w.deployment
    assert not (d.privileged or d.host_network or d.ingress) and d.capabilities == d.host_mounts == []
    assert d.exposed_ports == []
    w = parse_workload(json.dumps(manifest("Pod", spec, labels={"owner": "ops"})), team_label="owner", namespace="ns")
    assert (w.namespace, w.team) == ("ns", "ops")
    w = parse_workload(json.dumps(manifest("Pod", spec, namespace="ns")), namespace="ns")
    assert w.namespace == "ns"
    doc = manifest("Pod", spec, annotations={INGRESS_ANNOTATION: "False"})
    assert parse_workload(json.dumps(doc)).deployment.ingress is False


def _with(doc: dict[str, Any], path: str, value: Any) -> str:
    """``doc`` with ``value`` at the dotted ``path`` (``[i]`` indexes a list; ``value`` None deletes)."""
    doc = copy.deepcopy(doc)
    keys: list[str | int] = [int(k) if k.isdigit() else k for k in re.split(r"\.|\[|\]\.?", path) if k]
    node: Any = doc
    for k in keys[:-1]:
        node = node[k]
    if value is None:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return json.dumps(doc)


DEPLOYMENT = manifest("Deployment", {"containers": [{"name": "a", "image": "app:1", "ports": [{"containerPort": 80}]}],
                                     "volumes": [{"name": "h", "hostPath": {"path": "/etc"}}]})
POD = "spec.template.spec"


@pytest.mark.parametrize(("raw", "message"), [
    ("{not json", "manifest_json is not JSON"),
    ("[1, 2]", "manifest_json must be a JSON object (a Kubernetes workload), not array"),
    ("[" * 100_000, "nested too deeply"),
    ('"Deployment"', "must be a JSON object (a Kubernetes workload), not string"),
    (_with(DEPLOYMENT, "kind", None), "kind is required"),
    (_with(DEPLOYMENT, "kind", 7), "kind must be a string, not number"),
    (_with(DEPLOYMENT, "kind", "Service"), "unsupported kind 'Service': expected one of Pod, Deployment"),
    (_with(DEPLOYMENT, "metadata", None), "metadata is required"),
    (_with(DEPLOYMENT, "metadata", []), "metadata must be an object, not array"),
    (_with(DEPLOYMENT, "metadata.name", ""), "metadata.name is required"),
    (_with(DEPLOYMENT, "metadata.labels", {"team": 1}), "metadata.labels.team must be a string, not number"),
    (_with(DEPLOYMENT, "metadata.annotations", {INGRESS_ANNOTATION: "yes"}),
     f"metadata.annotations.{INGRESS_ANNOTATION} must be \"true\" or \"false\", not 'yes'"),
    (_with(DEPLOYMENT, "spec.template", None), "Deployment has no pod spec: spec.template is missing"),
    (_with(DEPLOYMENT, "spec.template.spec", "x"), "spec.template.spec must be an object, not string"),
    (_with(DEPLOYMENT, f"{POD}.containers", []), f"{POD}.containers must list at least one container"),
    (_with(DEPLOYMENT, f"{POD}.containers", {"a": 1}), f"{POD}.containers must be an array, not object"),
    (_with(DEPLOYMENT, f"{POD}.containers[0]", "app:1"), f"{POD}.containers[0] must be an object, not string"),
    (_with(DEPLOYMENT, f"{POD}.containers[0].image", None), f"{POD}.containers[0].image is required"),
    (_with(DEPLOYMENT, f"{POD}.containers[0].securityContext", {"privileged": "true"}),
     f"{POD}.containers[0].securityContext.privileged must be a boolean, not string"),
    (_with(DEPLOYMENT, f"{POD}.containers[0].securityContext", {"capabilities": {"add": "NET_ADMIN"}}),
     f"{POD}.containers[0].securityContext.capabilities.add must be an array, not string"),
    (_with(DEPLOYMENT, f"{POD}.containers[0].ports[0].containerPort", "80"),
     f"{POD}.containers[0].ports[0].containerPort must be an integer, not string"),
    (_with(DEPLOYMENT, f"{POD}.containers[0].ports[0].containerPort", 70000),
     f"{POD}.containers[0].ports[0].containerPort must be between 1 and 65535, not 70000"),
    (_with(DEPLOYMENT, f"{POD}.volumes[0].hostPath", {"type": "Directory"}),
     f"{POD}.volumes[0].hostPath.path is required"),
    (_with(DEPLOYMENT, f"{POD}.hostNetwork", 1), f"{POD}.hostNetwork must be a boolean, not number"),
    (_with(DEPLOYMENT, "metadata.namespace", "other"), "metadata.namespace 'other' differs from the requested"),
])
def test_malformed_manifests_are_refused_precisely(raw: str, message: str) -> None:
    with pytest.raises(WorkloadError) as exc:
        parse_workload(raw, namespace="ns")
    assert message in str(exc.value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["kind", "metadata", "name", "spec", "template", "containers", "image", "securityContext",
                         "privileged", "capabilities", "add", "ports", "containerPort", "volumes", "hostPath", "path",
                         "labels", "jobTemplate", "hostNetwork"]), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300)
@given(doc=json_values, kind=st.sampled_from([*POD_SPEC_PATHS, "Service"]))
def test_any_json_is_read_or_refused_never_a_crash(doc: Any, kind: str) -> None:
    if isinstance(doc, dict) and "kind" not in doc:
        doc["kind"] = kind
    try:
        parse_workload(json.dumps(doc))
    except WorkloadError:
        pass


def test_digests_and_workload_ids() -> None:
    assert image_digest(f"r.io/a/b:1@{DIGEST}") == DIGEST
    assert image_digest("r.io/a/b:1") == image_digest(f"b@{DIGEST[:-1]}") == ""
    assert parse_workload_id("payments/Deployment/api") == ("payments", "Deployment", "api")
    assert parse_workload_id("payments/cronjob/nightly") == ("payments", "CronJob", "nightly")
    assert parse_workload_id("payments/api") is None and parse_workload_id("a//b") is None


@settings(max_examples=300)
@given(a=st.tuples(st.text(max_size=6), st.text(max_size=6), st.text(max_size=6)),
       b=st.tuples(st.text(max_size=6), st.text(max_size=6), st.text(max_size=6)))
def test_workload_keys_are_valid_and_injective(a: tuple[str, str, str], b: tuple[str, str, str]) -> None:
    ka, kb = workload_key(*a), workload_key(*b)
    assert re.fullmatch(r"wl(\.[-_a-zA-Z0-9]+){3}", ka)
    assert (ka == kb) == (a == b)
    assert all(re.fullmatch(r"[-_a-zA-Z0-9]+", key_token(t)) for t in a)


# Adding privilege never lowers the score (through the real engine, with any image facts).
container_st = st.fixed_dictionaries(
    {"image": st.just("app:1")},
    optional={"securityContext": st.fixed_dictionaries({}, optional={
        "privileged": st.booleans(),
        "capabilities": st.fixed_dictionaries({"add": st.lists(st.sampled_from(["NET_ADMIN", "SYS_PTRACE", "CHOWN"]),
                                                                max_size=2)})}),
        "ports": st.lists(st.fixed_dictionaries({"containerPort": st.integers(1, 65535)}), max_size=2)})
pod_spec_st = st.fixed_dictionaries(
    {"containers": st.lists(container_st, min_size=1, max_size=3)},
    optional={"initContainers": st.lists(container_st, max_size=1), "hostNetwork": st.booleans(),
              "volumes": st.lists(st.one_of(
                  st.fixed_dictionaries({"name": st.just("h"), "hostPath": st.fixed_dictionaries(
                      {"path": st.sampled_from(["/", "/etc", "/var/run/docker.sock"])})}),
                  st.fixed_dictionaries({"name": st.just("e"), "emptyDir": st.just({})})), max_size=3)})


def _riskier_spec(spec: dict[str, Any], change: int, which: int, capability: str) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    container = spec["containers"][which % len(spec["containers"])]
    sc = container.setdefault("securityContext", {})
    match change:
        case 0:
            sc["privileged"] = True
        case 1:
            sc.setdefault("capabilities", {}).setdefault("add", []).append(capability)
        case _:
            spec.setdefault("volumes", []).append({"name": "new", "hostPath": {"path": f"/host/{capability.lower()}"}})
    return spec


def _workload_score(facts: dict[str, Any], kind: str, spec: dict[str, Any]) -> float:
    w = parse_workload(json.dumps(manifest(kind, spec)))
    return float(_decide({**facts, "deployment": msgspec.to_builtins(w.deployment)})["score"])


@settings(max_examples=60, deadline=None)
@given(facts=facts_st, kind=st.sampled_from(list(POD_SPEC_PATHS)), spec=pod_spec_st, change=st.integers(0, 2),
       which=st.integers(0, 2), capability=st.sampled_from(["SYS_ADMIN", "NET_RAW", "CHOWN"]))
def test_more_privilege_never_lowers_the_workload_score(facts: dict[str, Any], kind: str, spec: dict[str, Any],
                                                        change: int, which: int, capability: str) -> None:
    before = _workload_score(facts, kind, spec)
    assert _workload_score(facts, kind, _riskier_spec(spec, change, which, capability)) >= before


# ---------------------------------------------------------------------------
# The service, over real gRPC and NATS
# ---------------------------------------------------------------------------


def _deployment(ns: str, name: str, image: str, *, team: str = "", privileged: bool = False,
                host_network: bool = False, capabilities: tuple[str, ...] = ()) -> bytes:
    c: dict[str, Any] = {"name": "main", "image": image, "ports": [{"containerPort": 8080}],
                         "securityContext": {"privileged": privileged, "capabilities": {"add": list(capabilities)}}}
    doc = manifest("Deployment", {"containers": [c], "hostNetwork": host_network}, name=name, namespace=ns,
                   labels={"team": team} if team else {})
    return json.dumps(doc).encode()


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _svc(r: Any) -> RiskService:
    assert isinstance(r.service, RiskService)
    return r.service


async def _stored(svc: RiskService, ns: str, kind: str, name: str) -> WorkloadRecord:
    found = await svc._workload_record(workload_key(ns, kind, name))
    assert found is not None
    return found[0]


@contextlib.asynccontextmanager
async def _forgetting(risk_r: Any, *namespaces: str) -> AsyncIterator[None]:
    """Purge the test's workload entries and index keys afterwards: the bucket is shared on the machine's NATS."""
    try:
        yield
    finally:
        svc = _svc(risk_r)
        for ns in namespaces:
            for pattern in (f"wl.{key_token(ns)}.*.*", f"img.*.{key_token(ns)}.*.*"):
                for entry in await svc._entries(pattern, meta_only=True):
                    await svc.wkv.purge(entry.key)


@contextlib.asynccontextmanager
async def _risk_changes(bus: Any, workload: str) -> AsyncIterator[asyncio.Queue[events.Envelope[Any]]]:
    """``propolis.risk.changed`` events about ``workload``, as they arrive."""
    queue: asyncio.Queue[events.Envelope[Any]] = asyncio.Queue()

    async def on_changed(msg: Any) -> None:
        env = events.decode(msg.data)
        if env.data.workload == workload:
            queue.put_nowait(env)

    sub = await bus.nc.subscribe("propolis.risk.changed", cb=on_changed)
    try:
        yield queue
    finally:
        await sub.unsubscribe()


async def test_score_workload_adds_deployment_facts_to_the_image(
        nats_url: str, tmp_path: Path, vulndb: Path, airflow: Path) -> None:
    ns = _unique("wl")
    async with services(config(tmp_path, nats_url, vulndb)) as (_, scanner, risk_r, risk):
        async with _forgetting(risk_r, ns):
            scan = await _scan(scanner, airflow)
            digest = scan.image.digest
            image_score = (await risk.ScoreImage(risk_pb2.ScoreImageRequest(image=_image(digest)))).score
            ref = f"registry.local/airflow@{digest}"
            req = risk_pb2.ScoreWorkloadRequest(workload=common_pb2.WorkloadRef(namespace=ns, cluster="c1"),
                                                manifest_json=_deployment(ns, "api", ref, team="data", privileged=True))
            res = await risk.ScoreWorkload(req)
            assert (res.workload.cluster, res.workload.namespace, res.workload.kind, res.workload.name) == (
                "c1", ns, "Deployment", "api")
            assert res.score > image_score
            factors = {f.factor: f for f in res.factors}
            assert factors["privileged"].raw_value == 1 and factors["privileged"].contribution > 0
            assert factors["known_exploited"].raw_value == 1  # the image's findings count in the workload
            assert [(i.reference, i.digest) for i in res.images] == [(ref, digest)]
            assert res.decision.bundle_revision == _svc(risk_r).revision
            assert json.loads(res.decision.result_json)["score"] == res.score

            stored = await _stored(_svc(risk_r), ns, "Deployment", "api")
            assert stored.score == res.score and stored.team == "data" and stored.image_digest == digest
            assert stored.bundle_revision == res.decision.bundle_revision
            assert stored.workload is not None and stored.workload.deployment.privileged
            assert [f["factor"] for f in stored.top_factors][:1] == [res.factors[0].factor]

            # No manifest: the stored facts are scored again.
            again = await risk.ScoreWorkload(risk_pb2.ScoreWorkloadRequest(
                workload=common_pb2.WorkloadRef(namespace=ns, kind="deployment", name="api")))
            assert again.score == res.score and again.workload.kind == "Deployment"

            # An image without a stored scan is scored from the workload's facts alone, with a note.
            both = _deployment(ns, "two", ref, privileged=True).replace(
                b'"containers": [', b'"containers": [{"name": "side", "image": "busybox:1.36"}, ')
            res2 = await risk.ScoreWorkload(risk_pb2.ScoreWorkloadRequest(manifest_json=both))
            assert res2.score == res.score and [i.reference for i in res2.images] == ["busybox:1.36", ref]
            note = {f.factor: f for f in res2.factors}["unscanned_images"]
            assert note.contribution == 0 and "busybox:1.36: pinned by tag only" in note.detail

            for request, code, text in [
                (risk_pb2.ScoreWorkloadRequest(workload=common_pb2.WorkloadRef(namespace=ns, kind="Deployment",
                                                                               name="absent")),
                 grpc.StatusCode.NOT_FOUND, "no stored manifest"),
                (risk_pb2.ScoreWorkloadRequest(), grpc.StatusCode.INVALID_ARGUMENT, "manifest_json is empty"),
                (risk_pb2.ScoreWorkloadRequest(manifest_json=b"[]"), grpc.StatusCode.INVALID_ARGUMENT,
                 "must be a JSON object"),
                (risk_pb2.ScoreWorkloadRequest(manifest_json=b'{"kind": "Service", "metadata": {"name": "x"}}'),
                 grpc.StatusCode.INVALID_ARGUMENT, "unsupported kind 'Service'"),
                (risk_pb2.ScoreWorkloadRequest(workload=common_pb2.WorkloadRef(name="other"),
                                               manifest_json=_deployment(ns, "api", ref)),
                 grpc.StatusCode.INVALID_ARGUMENT, "workload.name 'other' differs"),
            ]:
                with pytest.raises(grpc.aio.AioRpcError) as exc:
                    await risk.ScoreWorkload(request)
                assert exc.value.code() == code and text in str(exc.value.details()), exc.value.details()


async def test_rank_workloads_orders_and_filters(nats_url: str, tmp_path: Path, vulndb: Path,
                                                 requests_image: Path) -> None:
    ns1, ns2, team_a, team_b = _unique("rank"), _unique("rank"), _unique("team"), _unique("team")
    cfg = config(tmp_path, nats_url, vulndb, consume_scans=False, consume_alerts=False)
    async with services(cfg) as (_, scanner, risk_r, risk):
        async with _forgetting(risk_r, ns1, ns2):
            ref = f"r.local/requests@{(await _scan(scanner, requests_image)).image.digest}"
            scores = {}
            for name, manifest_json in [
                ("plain", _deployment(ns1, "plain", ref, team=team_b)),
                ("zz-twin", _deployment(ns1, "zz-twin", ref, team=team_b)),  # equal scores: ordered by name
                ("a-twin", _deployment(ns1, "a-twin", ref, team=team_b)),
                ("root", _deployment(ns1, "root", ref, team=team_a, privileged=True, host_network=True)),
                ("caps", _deployment(ns2, "caps", ref, team=team_a, capabilities=("NET_ADMIN",))),
            ]:
                res = await risk.ScoreWorkload(risk_pb2.ScoreWorkloadRequest(manifest_json=manifest_json))
                scores[name] = res.score
            assert scores["root"] > scores["caps"] > scores["plain"]

            def view(r: risk_pb2.RankWorkloadsResponse) -> list[tuple[int, str, str, str, float]]:
                return [(w.rank, w.workload.namespace, w.workload.name, w.team, w.score) for w in r.workloads]

            in_ns1 = await risk.RankWorkloads(risk_pb2.RankWorkloadsRequest(namespace=ns1))
            assert scores["plain"] == scores["zz-twin"] == scores["a-twin"]
            assert view(in_ns1) == [(1, ns1, "root", team_a, scores["root"]),
                                    (2, ns1, "a-twin", team_b, scores["plain"]),
                                    (3, ns1, "plain", team_b, scores["plain"]),
                                    (4, ns1, "zz-twin", team_b, scores["plain"])]
            assert all(w.workload.kind == "Deployment" for w in in_ns1.workloads)
            top = in_ns1.workloads[0].top_factors
            assert top and {f.factor for f in top} >= {"privileged", "host_network"}
            assert all(f.contribution > 0 for f in top) and len(top) <= 5

            of_a = await risk.RankWorkloads(risk_pb2.RankWorkloadsRequest(team=team_a))
            assert view(of_a) == [(1, ns1, "root", team_a, scores["root"]), (2, ns2, "caps", team_a, scores["caps"])]
            both = await risk.RankWorkloads(risk_pb2.RankWorkloadsRequest(namespace=ns2, team=team_a, limit=5))
            assert view(both) == [(1, ns2, "caps", team_a, scores["caps"])]
            one = await risk.RankWorkloads(risk_pb2.RankWorkloadsRequest(team=team_a, limit=1))
            assert view(one) == view(of_a)[:1]
            assert not (await risk.RankWorkloads(risk_pb2.RankWorkloadsRequest(namespace=_unique("none")))).workloads


async def test_runtime_alert_and_scan_rescore_the_workload(nats_url: str, tmp_path: Path, vulndb: Path,
                                                           requests_image: Path) -> None:
    ns = _unique("alerts")
    wid = f"{ns}/Deployment/api"
    async with services(config(tmp_path, nats_url, vulndb)) as (scanner_r, scanner, risk_r, risk):
        async with _forgetting(risk_r, ns):
            scan = await _scan(scanner, requests_image)
            manifest_json = _deployment(ns, "api", f"r.local/requests@{scan.image.digest}")
            before = (await risk.ScoreWorkload(risk_pb2.ScoreWorkloadRequest(manifest_json=manifest_json))).score
            bus = scanner_r.ctx.bus
            assert bus is not None and bus.nc is not None
            async with _risk_changes(bus, wid) as changed:
                await bus.publish(events.RuntimeAlert(rule="shell in container", severity="Critical",
                                                      description="a shell was spawned", workload=wid), subject=wid)
                env = await asyncio.wait_for(changed.get(), timeout=20)
                data = env.data
                assert isinstance(data, events.RiskChanged) and env.subject == wid
                assert data.score > before and data.previous_score == before
                assert data.image_digest == scan.image.digest
                assert {f.factor: f.raw_value for f in data.factors}["runtime_alerts"] == 10
                assert env.policyrevision == _svc(risk_r).revision
                stored = await _stored(_svc(risk_r), ns, "Deployment", "api")
                assert stored.alerts == {"critical": 1} and stored.score == data.score

                # A new scan of the image rescores the workload that runs it (alerts still counted).
                await bus.publish(events.ScanCompleted(request_id=uuid.uuid4().hex, report_id=scan.scan_id,
                                                       image=events.ImageRef(reference=str(requests_image),
                                                                             digest=scan.image.digest)),
                                  subject=scan.scan_id)
                env = await asyncio.wait_for(changed.get(), timeout=20)
                assert env.data.score == data.score and env.data.previous_score == data.score

            ranked = await risk.RankWorkloads(risk_pb2.RankWorkloadsRequest(namespace=ns))
            assert [(w.workload.name, w.score) for w in ranked.workloads] == [("api", data.score)]

            # An alert for a workload never scored is counted, and used once its manifest arrives.
            other = f"{ns}/StatefulSet/db"
            await bus.publish(events.RuntimeAlert(rule="r", severity="warning", description="d", workload=other))
            for _ in range(100):
                found = await _svc(risk_r)._workload_record(workload_key(ns, "StatefulSet", "db"))
                if found is not None:
                    break
                await asyncio.sleep(0.2)
            assert found is not None and found[0].alerts == {"warning": 1} and found[0].score is None
            assert [w.workload.name for w in (await risk.RankWorkloads(
                risk_pb2.RankWorkloadsRequest(namespace=ns))).workloads] == ["api"]


async def test_score_image_and_checkpoint_keep_the_image_score(nats_url: str, tmp_path: Path, vulndb: Path,
                                                               requests_image: Path) -> None:
    cfg = config(tmp_path, nats_url, vulndb, consume_scans=False, consume_alerts=False)
    async with services(cfg) as (_, scanner, risk_r, risk):
        scan = await _scan(scanner, requests_image)
        svc = _svc(risk_r)
        res = await risk.ScoreImage(risk_pb2.ScoreImageRequest(image=_image(scan.image.digest)))
        stored = await svc.latest_score(scan.image.digest)
        assert stored is not None and stored["scan_id"] == scan.scan_id and stored["score"] == res.score
        assert stored["bundle_revision"] == res.decision.bundle_revision

        # With deployment context the verdict's score is higher, but the KV keeps the image's own score.
        ctx = {"deployment": {"privileged": True}}
        verdict = await risk.EvaluateCheckpoint(risk_pb2.EvaluateCheckpointRequest(
            checkpoint=risk_pb2.CHECKPOINT_DEPLOY, image=_image(scan.image.digest),
            context_json=json.dumps(ctx).encode()))
        assert verdict.score > res.score
        stored = await svc.latest_score(scan.image.digest)
        assert stored is not None and stored["score"] == res.score and stored["decision_id"] != res.decision.decision_id


async def test_inventory_context_rescores_and_removes_the_workload(nats_url: str, tmp_path: Path, vulndb: Path,
                                                                   requests_image: Path) -> None:
    """Deployment context arriving on ``propolis.inventory.changed``: a privileged revision of the manifest
    raises the score, a malformed one is refused without a retry storm, and removal drops the workload."""
    ns = _unique("inventory")
    wid = f"{ns}/Deployment/web"
    async with services(config(tmp_path, nats_url, vulndb)) as (scanner_r, scanner, risk_r, risk):
        async with _forgetting(risk_r, ns):
            scan = await _scan(scanner, requests_image)
            image = f"r.local/requests@{scan.image.digest}"
            bus = scanner_r.ctx.bus
            assert bus is not None and bus.nc is not None

            def asset(manifest: bytes | dict[str, Any], change: str = "updated") -> events.AssetChanged:
                doc = json.loads(manifest) if isinstance(manifest, bytes) else manifest
                return events.AssetChanged(kind="workload", asset_id=wid, change=change,  # type: ignore[arg-type]
                                           attributes={"manifest": doc})

            async with _risk_changes(bus, wid) as changed:
                await bus.publish(asset(_deployment(ns, "web", image), "added"), subject=wid)
                first = (await asyncio.wait_for(changed.get(), timeout=20)).data
                await bus.publish(asset({"kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
                                         "spec": "not a spec"}), subject=wid)
                await bus.publish(asset(_deployment(ns, "web", image, privileged=True, host_network=True)),
                                  subject=wid)
                second = (await asyncio.wait_for(changed.get(), timeout=20)).data
            assert second.score > first.score and second.previous_score == first.score
            factors = {f.factor: f.raw_value for f in second.factors}
            assert factors["privileged"] == 1 and factors["host_network"] == 1
            ranked = await risk.RankWorkloads(risk_pb2.RankWorkloadsRequest(namespace=ns))
            assert [(w.workload.name, w.score) for w in ranked.workloads] == [("web", second.score)]

            await bus.publish(events.AssetChanged(kind="workload", asset_id=wid, change="removed"), subject=wid)
            for _ in range(100):
                if not (await risk.RankWorkloads(risk_pb2.RankWorkloadsRequest(namespace=ns))).workloads:
                    break
                await asyncio.sleep(0.2)
            assert not (await risk.RankWorkloads(risk_pb2.RankWorkloadsRequest(namespace=ns))).workloads
