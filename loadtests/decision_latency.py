"""Decision latency: in-process, through gRPC and through the OPA REST API.

Each figure comes with a reference measured in the same run on the same machine:
- in-process: the raw regorus interpreter call the issue quotes (``set_input_json`` +
  ``eval_rule_as_json``) on the same policy and input;
- gRPC ``Evaluate``: a gRPC health check against the same server (the transport floor);
- REST ``POST /v1/data``: ``GET /health`` on the same server (the HTTP floor).

Usage: python loadtests/decision_latency.py [--n 20000] [--concurrency 8] [--json out.json]
The service runs as its own process (``propolis serve policy``) with the embedded NATS and the
decision log on, as in production; the load generator is this process. Both share 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("RUST_LIB_BACKTRACE", "0")

import aiohttp  # noqa: E402
import grpc  # noqa: E402
import regorus  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

from propolis.policy.adapters.regorus_engine import RegorusEngine  # noqa: E402
from propolis.policy.adapters.sources import DirectorySource  # noqa: E402
from propolis.policy.domain.decision import DecisionPoints  # noqa: E402
from propolis.policy.domain.manager import BundleManager  # noqa: E402
from propolis.policy.v1 import policy_pb2, policy_pb2_grpc  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"

#: An admission-sized input: a Deployment with two containers and an init container.
INPUT = {"request": {"uid": "bench", "operation": "CREATE", "namespace": "shop",
                     "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
                     "object": {"apiVersion": "apps/v1", "kind": "Deployment",
                                "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
                                "spec": {"replicas": 3, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                                    "automountServiceAccountToken": False,
                                    "securityContext": {"runAsNonRoot": True},
                                    "initContainers": [{"name": "init", "image": "registry.propolis.internal/init:1.0",
                                                        "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}}],
                                    "containers": [
                                        {"name": "web", "image": "registry.propolis.internal/web@sha256:" + "a" * 64,
                                         "ports": [{"containerPort": 8080}],
                                         "securityContext": {"allowPrivilegeEscalation": False,
                                                             "capabilities": {"drop": ["ALL"]}},
                                         "resources": {"limits": {"cpu": "1", "memory": "256Mi"}}},
                                        {"name": "sidecar", "image": "docker.io/library/nginx:latest",
                                         "securityContext": {"privileged": True},
                                         "resources": {"limits": {"cpu": "100m"}}}]}}}}}}
INPUT_JSON = json.dumps(INPUT)


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def summary(name: str, lat_us: list[float], wall: float) -> dict[str, Any]:
    return {"name": name, "n": len(lat_us), "p50_us": round(pct(lat_us, 50), 1), "p99_us": round(pct(lat_us, 99), 1),
            "mean_us": round(statistics.fmean(lat_us), 1), "per_s": round(len(lat_us) / wall, 0)}


def bench_in_process(n: int) -> list[dict[str, Any]]:
    mgr = BundleManager(DirectorySource(POLICIES), RegorusEngine())
    mgr.load_initial()
    pdp = DecisionPoints(mgr, mgr.points)
    raw = INPUT_JSON.encode()
    out = []
    # Reference: the raw interpreter call, same policy, same input.
    eng = regorus.Engine()
    for name, text in sorted(mgr.active.bundle.modules.items()):
        eng.add_policy(name, text)
    eng.add_data_json(json.dumps(mgr.active.bundle.data))
    for _ in range(200):
        eng.set_input_json(INPUT_JSON)
        eng.eval_rule_as_json("data.propolis.admission.decision")
    lat = []
    t0 = time.perf_counter()
    for _ in range(n):
        s = time.perf_counter()
        eng.set_input_json(INPUT_JSON)
        eng.eval_rule_as_json("data.propolis.admission.decision")
        lat.append((time.perf_counter() - s) * 1e6)
    out.append(summary("reference: regorus interpreter (eval_rule_as_json)", lat, time.perf_counter() - t0))
    # Propolis: full decision (validation, canonical digest, interpreter, fallbacks, decision record).
    for _ in range(200):
        pdp.decide("admission", raw)
    lat = []
    t0 = time.perf_counter()
    for _ in range(n):
        s = time.perf_counter()
        d = pdp.decide("admission", raw)
        lat.append((time.perf_counter() - s) * 1e6)
    out.append(summary("propolis in-process decision (DecisionPoints.decide)", lat, time.perf_counter() - t0))
    assert d.result["allow"] is False and d.outcome == "evaluated"
    # The same decision with policy.engine_vm = true (regorus's compiled VM; off by default
    # because it does not always agree with the interpreter, see docs/policy.md).
    vm_mgr = BundleManager(DirectorySource(POLICIES), RegorusEngine(use_vm=True))
    vm_mgr.load_initial()
    vm_pdp = DecisionPoints(vm_mgr, vm_mgr.points)
    for _ in range(200):
        vm_pdp.decide("admission", raw)
    lat = []
    t0 = time.perf_counter()
    for _ in range(n):
        s = time.perf_counter()
        vm_pdp.decide("admission", raw)
        lat.append((time.perf_counter() - s) * 1e6)
    out.append(summary("propolis in-process, engine_vm=true (compiled VM)", lat, time.perf_counter() - t0))
    return out


async def _drive(n: int, concurrency: int, one: Any) -> tuple[list[float], float]:
    lat: list[float] = []
    per = n // concurrency

    async def worker() -> None:
        for _ in range(per):
            s = time.perf_counter()
            await one()
            lat.append((time.perf_counter() - s) * 1e6)

    t0 = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return lat, time.perf_counter() - t0


async def bench_remote(n: int, concurrency: int, grpc_target: str, rest_url: str) -> list[dict[str, Any]]:
    out = []
    raw = INPUT_JSON.encode()
    async with grpc.aio.insecure_channel(grpc_target) as ch:
        health = health_pb2_grpc.HealthStub(ch)
        stub = policy_pb2_grpc.PolicyServiceStub(ch)
        req = policy_pb2.EvaluateRequest(path="admission", input_json=raw)
        hreq = health_pb2.HealthCheckRequest()
        await _drive(500, concurrency, lambda: stub.Evaluate(req))
        lat, wall = await _drive(n, concurrency, lambda: health.Check(hreq))
        out.append(summary(f"reference: gRPC health check (c={concurrency})", lat, wall))
        lat, wall = await _drive(n, concurrency, lambda: stub.Evaluate(req))
        out.append(summary(f"propolis gRPC Evaluate (c={concurrency})", lat, wall))
    body = json.dumps({"input": INPUT}).encode()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        async def health_get() -> None:
            async with http.get(f"{rest_url}/health") as r:
                await r.read()

        async def data_post() -> None:
            async with http.post(f"{rest_url}/v1/data/propolis/admission/decision", data=body,
                                 headers={"Content-Type": "application/json"}) as r:
                await r.read()

        await _drive(500, concurrency, data_post)
        lat, wall = await _drive(n, concurrency, health_get)
        out.append(summary(f"reference: REST GET /health (c={concurrency})", lat, wall))
        lat, wall = await _drive(n, concurrency, data_post)
        out.append(summary(f"propolis REST POST /v1/data (c={concurrency})", lat, wall))
    return out


def start_service(tmp: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    env = {**os.environ, "PROPOLIS_DATA_DIR": str(tmp), "PROPOLIS_GRPC__PORT": "-1",
           "PROPOLIS_METRICS__PORT": "-1", "PROPOLIS_POLICY__REST_PORT": "-1",
           "PROPOLIS_POLICY__BUNDLE": str(POLICIES), "PROPOLIS_LOG_LEVEL": "warning"}
    env.pop("PROPOLIS_NATS__URL", None)
    p = subprocess.Popen([sys.executable, "-m", "propolis.cli", "serve", "policy"], env=env, text=True,
                         stdout=subprocess.PIPE)
    assert p.stdout is not None
    doc = json.loads(p.stdout.readline())
    return p, doc["endpoints"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    rows = bench_in_process(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        proc, ep = start_service(Path(tmp))
        try:
            rows += asyncio.run(bench_remote(args.n, args.concurrency, ep["grpc"].split("://")[1], ep["opa_rest"]))
        finally:
            proc.terminate()
            proc.wait(20)
    print(f"{'measurement':58} {'n':>6} {'p50 µs':>9} {'p99 µs':>9} {'mean µs':>9} {'per s':>8}")
    for r in rows:
        print(f"{r['name']:58} {r['n']:>6} {r['p50_us']:>9} {r['p99_us']:>9} {r['mean_us']:>9} {r['per_s']:>8.0f}")
    by = {r["name"].split(" (")[0]: r for r in rows}
    ratios = {
        "in-process p50 / interpreter p50": by["propolis in-process decision"]["p50_us"]
        / by["reference: regorus interpreter"]["p50_us"],
        "gRPC Evaluate p50 / gRPC health p50": by["propolis gRPC Evaluate"]["p50_us"]
        / by["reference: gRPC health check"]["p50_us"],
        "REST data p50 / REST health p50": by["propolis REST POST /v1/data"]["p50_us"]
        / by["reference: REST GET /health"]["p50_us"],
    }
    for k, v in ratios.items():
        print(f"ratio {k}: {v:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "ratios": ratios}, indent=2))


if __name__ == "__main__":
    main()
