"""Admission webhook under load: latency at a constant request rate, and closed-loop throughput.

The service runs as its own process (``propolis serve admission``, default bundle ``policies/``:
Pod Security Standards baseline + restricted, the extra rules, image risk from the JetStream KV
bucket ``PROPOLIS_RISK_SCORES``; decision log on), over HTTPS with a serving certificate made like
the tests make it (``propolis.admission.domain.certs``: a CA and an ECDSA P-256 pair for
127.0.0.1). Before it starts, ``--scored`` images get risk scores in the KV bucket (and the
registry gate's bucket exists with a few records), so the risk rules read real facts.

(a) Open loop (``--rates 100,250,500 --duration 30``): a separate load-generator process (this
    file, ``_gen``; aiohttp, keep-alive connections, TLS verified against the CA) sends
    AdmissionReviews on a fixed schedule, request i at t0 + i/rate, whether or not earlier ones
    have been answered. Latency is measured from the *scheduled* send time to the end of the
    response body, so a stalled server or generator is charged in full (no coordinated omission).
    A warm-up (``--warmup`` s at the same rate) precedes every measured run.
(b) Closed loop: ``wrk`` (C, one thread, a Lua script cycling through the same bodies) with
    ``--connections 16,64`` keep-alive connections, as fast as the service answers: sustained
    req/s. If ``wrk`` is missing (``apt-get install wrk``) the same is done by the Python
    generator.

The request mix (weights in MIX): a compliant Deployment (allowed), a privileged Pod (denied by
PSS baseline), a compliant CronJob, pods pinned to digests whose KV score is above the deploy
block bar (denied), between the warn and block bars (allowed, warning), below the warn bar
(allowed), a digest never scored (a fresh digest per request, so each one is a KV miss read from
the bucket) and an image by tag only (unknown, no read).

Reference, same run: the in-process evaluation of the same decision inputs (the request plus the
image facts the service would gather), calling the engine directly (``RegorusEngine`` compiled
bundle, ``evaluate``) and through ``DecisionPoints.decide``; median per decision over the mix.
The ratio webhook p50 / raw decision p50 is the HTTP + TLS + service overhead.

``--profile S``: during one more open-loop run at ``--profile-rate``, ``py-spy record --gil`` samples
the service process for S seconds; the functions with the most samples (inclusive and own) are
printed, and the work directory (with the raw profile) is kept.

Usage: python loadtests/admission_load.py [--rates 100,250,500] [--duration 30] [--warmup 3]
       [--connections 16,64] [--closed-seconds 15] [--scored 600] [--nats URL] [--profile 10]
       [--profile-rate 150]
       [--json out.json]
A private embedded nats-server is used unless ``--nats`` is given. The generator and the service
share the machine's cores (2 on the project's machines): the generator's and the service's CPU
use are printed with each run. Everything runs on loopback and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import re
import resource
import secrets
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("RUST_LIB_BACKTRACE", "0")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REGISTRY = "registry.propolis.internal"
POLICIES = ROOT / "policies"
DECISION = "propolis/admission/decision"
FRESH = "@@FRESH_DIGEST@@"
UID = "@@UID@@"

#: (name, weight, expected allowed) of the request mix.
MIX = [
    ("deployment_compliant", 25, True),
    ("pod_privileged_denied", 10, False),
    ("cronjob_compliant", 10, True),
    ("pod_risk_blocked", 10, False),
    ("pod_risk_warn", 10, True),
    ("pod_risk_low", 15, True),
    ("pod_digest_unscored", 10, True),
    ("pod_tag_only", 10, True),
]


# ---------------------------------------------------------------------------------------- objects
def container(image: str, name: str = "app", **sc: Any) -> dict[str, Any]:
    return {"name": name, "image": image, "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "PORT", "value": "8080"}],
            "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5},
            "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
                                **sc}}


def pod_spec(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"automountServiceAccountToken": False, "serviceAccountName": "api",
            "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "fsGroup": 10001},
            "volumes": [{"name": "tmp", "emptyDir": {}}], "containers": list(containers)}


_GROUPS = {"Pod": ("", "v1", "pods"), "Deployment": ("apps", "v1", "deployments"),
           "CronJob": ("batch", "v1", "cronjobs")}


def workload(kind: str, spec: dict[str, Any], name: str, namespace: str) -> dict[str, Any]:
    meta = {"name": name, "namespace": namespace, "labels": {"app": name, "team": "payments"},
            "annotations": {"deploy.example/commit": "4f1c2a9"}}
    template = {"metadata": {"labels": {"app": name}}, "spec": spec}
    if kind == "Pod":
        body: dict[str, Any] = {"spec": spec}
    elif kind == "CronJob":
        body = {"spec": {"schedule": "*/5 * * * *", "concurrencyPolicy": "Forbid",
                         "jobTemplate": {"spec": {"backoffLimit": 2, "template": template}}}}
    else:
        body = {"spec": {"replicas": 3, "selector": {"matchLabels": {"app": name}}, "template": template}}
    group, version, _ = _GROUPS[kind]
    return {"apiVersion": f"{group}/{version}".lstrip("/"), "kind": kind, "metadata": meta, **body}


def review(obj: dict[str, Any]) -> dict[str, Any]:
    group, version, resource_ = _GROUPS[obj["kind"]]
    ns = obj["metadata"]["namespace"]
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": UID, "kind": {"group": group, "version": version, "kind": obj["kind"]},
        "resource": {"group": group, "version": version, "resource": resource_},
        "requestKind": {"group": group, "version": version, "kind": obj["kind"]},
        "requestResource": {"group": group, "version": version, "resource": resource_},
        "name": obj["metadata"]["name"], "namespace": ns, "operation": "CREATE",
        "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller",
                     "uid": "6a1e4c1e-2b8a-4c57-9d0f-1f4c4d1f0c11",
                     "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system",
                                "system:authenticated"]},
        "object": obj, "oldObject": None, "dryRun": False,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    }}


def digest() -> str:
    return "sha256:" + secrets.token_hex(32)


def scored_digests(n: int, seed: int = 7) -> dict[str, dict[str, float]]:
    """``{"blocked": {digest: score}, "warn": ..., "low": ...}``: a third of ``n`` each."""
    rnd = random.Random(seed)
    out: dict[str, dict[str, float]] = {"blocked": {}, "warn": {}, "low": {}}
    ranges = {"blocked": (61.0, 99.0), "warn": (31.0, 59.0), "low": (1.0, 29.0)}
    for i in range(n):
        band = ("blocked", "warn", "low")[i % 3]
        d = "sha256:" + "".join(rnd.choice("0123456789abcdef") for _ in range(64))
        out[band][d] = round(rnd.uniform(*ranges[band]), 1)
    return out


def templates(scores: dict[str, dict[str, float]]) -> dict[str, list[str]]:
    """Name → JSON bodies (with ``@@UID@@`` and, for unscored digests, ``@@FRESH_DIGEST@@``)."""
    ok = f"{REGISTRY}/payments/api:1.4.2"
    side = f"{REGISTRY}/platform/envoy:1.29.1"

    def pods(band: str) -> list[str]:
        return [json.dumps(review(workload("Pod", pod_spec(container(f"{REGISTRY}/payments/api@{d}")),
                                           f"api-{i}", "payments")))
                for i, d in enumerate(list(scores[band])[:50])]

    return {
        "deployment_compliant": [json.dumps(review(workload("Deployment", pod_spec(
            container(ok), container(side, name="proxy")), "api", "payments")))],
        "pod_privileged_denied": [json.dumps(review(workload("Pod", pod_spec(container(ok, privileged=True)),
                                                             "debug", "payments")))],
        "cronjob_compliant": [json.dumps(review(workload("CronJob", pod_spec(container(
            f"{REGISTRY}/payments/report:2.0.0")), "nightly-report", "batch")))],
        "pod_risk_blocked": pods("blocked"),
        "pod_risk_warn": pods("warn"),
        "pod_risk_low": pods("low"),
        "pod_digest_unscored": [json.dumps(review(workload("Pod", pod_spec(container(
            f"{REGISTRY}/payments/api@{FRESH}")), "api-new", "payments")))],
        "pod_tag_only": [json.dumps(review(workload("Pod", pod_spec(container(
            f"{REGISTRY}/payments/worker:3.1.0")), "worker", "payments")))],
    }


def schedule(n: int, seed: int = 11) -> list[str]:
    """``n`` mix names drawn by weight (the same sequence for every run)."""
    rnd = random.Random(seed)
    names, weights = [m[0] for m in MIX], [m[1] for m in MIX]
    return rnd.choices(names, weights, k=n)


def fill(body: str) -> str:
    body = body.replace(UID, str(uuid.uuid4()))
    return body.replace(FRESH, digest()) if FRESH in body else body


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))]


# ---------------------------------------------------------------------------------------- generator
async def _open_loop(url: str, ca: str, bodies: dict[str, list[str]], rate: float, duration: float,
                     warmup: float, connections: int) -> dict[str, Any]:
    import aiohttp

    ctx = ssl.create_default_context(cafile=ca)
    conn = aiohttp.TCPConnector(ssl=ctx, limit=connections, keepalive_timeout=120)
    lat: list[float] = []
    lag: list[float] = []
    by_kind: dict[str, list[float]] = collections.defaultdict(list)
    errors: collections.Counter[str] = collections.Counter()
    wrong: collections.Counter[str] = collections.Counter()
    expected = {m[0]: m[2] for m in MIX}
    headers = {"Content-Type": "application/json"}
    loop = asyncio.get_running_loop()
    last_done = 0.0

    async with aiohttp.ClientSession(connector=conn) as http:
        async def one(name: str, body: bytes, sched: float, measured: bool) -> None:
            nonlocal last_done
            if measured:
                lag.append(loop.time() - sched)
            try:
                async with http.post(url, data=body, headers=headers) as resp:
                    data = await resp.read()
                    status = resp.status
            except Exception as exc:  # counted, never raised
                errors[type(exc).__name__] += 1
                return
            done = loop.time()
            if not measured:
                return
            if status != 200:
                errors[f"http_{status}"] += 1
                return
            ms = (done - sched) * 1000
            lat.append(ms)
            by_kind[name].append(ms)
            last_done = max(last_done, done)
            if (b'"allowed": true' in data or b'"allowed":true' in data) != expected[name]:
                wrong[name] += 1

        async def phase(seconds: float, measured: bool) -> tuple[float, int]:
            n = int(rate * seconds)
            names = schedule(n, seed=11 if measured else 13)
            rnd = random.Random(5)
            prepared = [(nm, fill(rnd.choice(bodies[nm])).encode()) for nm in names]
            tasks = []
            t0 = loop.time() + 0.05
            for i, (nm, body) in enumerate(prepared):
                sched = t0 + i / rate
                delay = sched - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.ensure_future(one(nm, body, sched, measured)))
            await asyncio.gather(*tasks)
            return t0, n

        await phase(warmup, False)
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        t0, n = await phase(duration, True)
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    wall = max(last_done - t0, 1e-9)
    return {"mode": "open", "rate": rate, "duration": duration, "sent": n, "ok": len(lat),
            "errors": dict(errors), "wrong_verdicts": dict(wrong), "achieved_per_s": len(lat) / wall,
            "p50_ms": pct(lat, 0.50), "p90_ms": pct(lat, 0.90), "p99_ms": pct(lat, 0.99),
            "p999_ms": pct(lat, 0.999), "max_ms": max(lat) if lat else float("nan"),
            "mean_ms": statistics.fmean(lat) if lat else float("nan"),
            "send_lag_p99_ms": pct(lag, 0.99) * 1000, "send_lag_max_ms": max(lag) * 1000 if lag else 0.0,
            "generator_cpu_s": cpu, "generator_cores": cpu / wall,
            "p50_by_kind_ms": {k: round(pct(v, 0.5), 2) for k, v in sorted(by_kind.items())},
            "p99_by_kind_ms": {k: round(pct(v, 0.99), 2) for k, v in sorted(by_kind.items())}}


async def _closed_loop(url: str, ca: str, bodies: dict[str, list[str]], connections: int,
                       seconds: float) -> dict[str, Any]:
    import aiohttp

    ctx = ssl.create_default_context(cafile=ca)
    conn = aiohttp.TCPConnector(ssl=ctx, limit=connections, keepalive_timeout=120)
    names = schedule(100_000)
    lat: list[float] = []
    stop_at = 0.0
    errors = 0
    async with aiohttp.ClientSession(connector=conn) as http:
        async def worker(k: int) -> None:
            nonlocal errors
            i = k
            while time.perf_counter() < stop_at:
                body = fill(bodies[names[i % len(names)]][i % len(bodies[names[i % len(names)]])]).encode()
                s = time.perf_counter()
                async with http.post(url, data=body, headers={"Content-Type": "application/json"}) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors += 1
                lat.append((time.perf_counter() - s) * 1000)
                i += connections

        stop_at = time.perf_counter() + 2.0
        await asyncio.gather(*(worker(k) for k in range(connections)))  # warm-up, opens the connections
        lat.clear()
        t0 = time.perf_counter()
        stop_at = t0 + seconds
        await asyncio.gather(*(worker(k) for k in range(connections)))
        wall = time.perf_counter() - t0
    return {"mode": "closed", "tool": "python aiohttp", "connections": connections, "requests": len(lat),
            "errors": errors, "per_s": len(lat) / wall, "p50_ms": pct(lat, 0.5), "p99_ms": pct(lat, 0.99)}


def generator_main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--bodies", required=True)
    ap.add_argument("--mode", choices=["open", "closed"], default="open")
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--connections", type=int, default=64)
    a = ap.parse_args(argv)
    bodies = json.loads(Path(a.bodies).read_text())
    if a.mode == "open":
        out = asyncio.run(_open_loop(a.url, a.ca, bodies, a.rate, a.duration, a.warmup, a.connections))
    else:
        out = asyncio.run(_closed_loop(a.url, a.ca, bodies, a.connections, a.duration))
    print(json.dumps(out))


# ---------------------------------------------------------------------------------------- wrk
WRK_LUA = """
local bodies = {}
local i = 0
function init(args)
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do bodies[#bodies + 1] = line end
  f:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[(i % #bodies) + 1])
end
"""


def run_wrk(url: str, work: Path, bodies: dict[str, list[str]], connections: int, seconds: float,
            cpu: Callable[[], float]) -> dict[str, Any]:
    lines = work / "wrk-bodies.txt"
    rnd = random.Random(3)
    # Fresh digests and uids are baked in per line (wrk's Lua cannot cheaply make them): 20,000 lines
    # cycle, so the "unscored" digests are KV misses only on the first pass (then negatively cached).
    lines.write_text("\n".join(fill(rnd.choice(bodies[nm])) for nm in schedule(20_000)) + "\n")
    script = work / "post.lua"
    script.write_text(WRK_LUA)
    subprocess.run(["wrk", "-t1", f"-c{connections}", "-d2s", "-s", str(script), url, "--", str(lines)],
                   capture_output=True, check=True)  # warm-up
    cpu0 = cpu()
    p = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--latency", "-s", str(script), url,
                        "--", str(lines)], capture_output=True, text=True, check=True)
    cpu1 = cpu()
    out = p.stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockerr = re.search(r"Socket errors: (.*)", out)
    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+\w+)", out, re.M))
    return {"mode": "closed", "tool": "wrk", "connections": connections,
            "requests": int(total.group(1)) if total else 0,
            "per_s": float(m.group(1)) if m else float("nan"), "non_2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": sockerr.group(1) if sockerr else "", "p50": lat.get("50", ""), "p99": lat.get("99", ""),
            "service_cores": (cpu1 - cpu0) / seconds, "raw": out}


# ---------------------------------------------------------------------------------------- reference
def reference(bodies: dict[str, list[str]], scores: dict[str, dict[str, float]], n: int) -> dict[str, Any]:
    """Median per decision of the engine alone (and of DecisionPoints.decide) on the inputs the
    service evaluates: the request, the image facts it would gather, ``now``."""
    import msgspec

    from propolis.admission.adapters.facts import digest_of
    from propolis.admission.domain import review as rv
    from propolis.admission.service import now_rfc3339
    from propolis.policy.adapters.regorus_engine import RegorusEngine
    from propolis.policy.adapters.sources import DirectorySource
    from propolis.policy.domain.decision import DecisionPoints, InputLimits
    from propolis.policy.domain.manager import BundleManager

    flat = {d: s for band in scores.values() for d, s in band.items()}
    names = schedule(n, seed=17)
    rnd = random.Random(5)
    inputs: list[tuple[str, bytes]] = []
    for nm in names:
        request = json.loads(fill(rnd.choice(bodies[nm])))["request"]
        facts: dict[str, Any] = {}
        for image in rv.images_of(request):
            d = digest_of(image)
            fact: dict[str, Any] = {"score": flat[d], "digest": d} if d in flat else {"unknown": True}
            if d:
                fact["attested"] = False
            facts[image] = fact
        inputs.append((nm, msgspec.json.encode({"request": request, "risk": {"images": facts}, "now": now_rfc3339()})))
    compiled = RegorusEngine().compile(DirectorySource(POLICIES).fetch(), [DECISION])
    vm = RegorusEngine(use_vm=True).compile(DirectorySource(POLICIES).fetch(), [DECISION])
    mgr = BundleManager(DirectorySource(POLICIES), RegorusEngine())
    mgr.load_initial()
    pdp = DecisionPoints(mgr, mgr.points, InputLimits(4 * 1024 * 1024, 128))
    expected = {m[0]: m[2] for m in MIX}
    for nm, raw in inputs[:200]:  # warm-up, and the verdicts are the expected ones
        res = compiled.evaluate(DECISION, raw.decode())
        assert bool(res["enforcement"]["allowed"]) == expected[nm], (nm, res)
        pdp.decide("admission", raw)
    engine: list[float] = []
    decide: list[float] = []
    vm_lat: list[float] = []
    vm_disagree = 0
    by_kind: dict[str, list[float]] = collections.defaultdict(list)
    for nm, raw in inputs:
        text = raw.decode()
        s = time.perf_counter()
        compiled.evaluate(DECISION, text)
        e = time.perf_counter()
        pdp.decide("admission", raw)
        f = time.perf_counter()
        out_vm = vm.evaluate(DECISION, text)
        g = time.perf_counter()
        engine.append((e - s) * 1000)
        decide.append((f - e) * 1000)
        vm_lat.append((g - f) * 1000)
        vm_disagree += bool(out_vm["enforcement"]["allowed"]) != expected[nm]
        by_kind[nm].append((e - s) * 1000)
    return {"n": n, "engine_p50_ms": statistics.median(engine), "engine_p99_ms": pct(engine, 0.99),
            "decide_p50_ms": statistics.median(decide), "decide_p99_ms": pct(decide, 0.99),
            "vm_p50_ms": statistics.median(vm_lat), "vm_verdicts_differing": vm_disagree,
            "engine_p50_by_kind_ms": {k: round(statistics.median(v), 3) for k, v in sorted(by_kind.items())},
            "input_bytes_median": statistics.median(len(r) for _, r in inputs)}


# ---------------------------------------------------------------------------------------- service
def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def seed_kv(nats_url: str, scores: dict[str, dict[str, float]]) -> None:
    import nats

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        try:
            kv = await js.key_value("PROPOLIS_RISK_SCORES")
        except Exception:
            kv = await js.create_key_value(bucket="PROPOLIS_RISK_SCORES", history=5)
        for band in scores.values():
            for d, score in band.items():
                doc = {"digest": d, "reference": "", "score": score, "factors": [], "bundle_revision": "load",
                       "scored_at": time.time()}
                await kv.put(d.replace(":", "_"), json.dumps(doc).encode())
        try:
            gate = await js.key_value("PROPOLIS_REGISTRY_GATE")
        except Exception:
            gate = await js.create_key_value(bucket="PROPOLIS_REGISTRY_GATE", history=5)
        for d in list(scores["low"])[:10]:
            await gate.put(f"payments/other={d.replace(':', '_')}", json.dumps(
                {"registry": REGISTRY, "repository": "payments/other", "digest": d, "status": "allowed"}).encode())
    finally:
        await nc.close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    """``propolis serve admission`` in its own process; the webhook URL comes from the ready line."""

    def __init__(self, work: Path, nats_url: str, cert: Path, key: Path, processes: int = 1) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROPOLIS_")}
        # Several processes share one fixed webhook port (SO_REUSEPORT); one process takes any free port.
        port = str(_free_port()) if processes > 1 else "-1"
        env |= {"PROPOLIS_DATA_DIR": str(work / "var"), "PROPOLIS_LOG_LEVEL": "warning",
                "PROPOLIS_NATS__URL": nats_url, "PROPOLIS_GRPC__PORT": "-1", "PROPOLIS_METRICS__PORT": "-1",
                "PROPOLIS_POLICY__BUNDLE": str(POLICIES), "PROPOLIS_ADMISSION__WEBHOOK_PORT": port,
                "PROPOLIS_ADMISSION__PROCESSES": str(processes),
                "PROPOLIS_ADMISSION__TLS_CERT_FILE": str(cert), "PROPOLIS_ADMISSION__TLS_KEY_FILE": str(key)}
        self.log = work / "admission.log"
        self.procs: list[subprocess.Popen[bytes]] = []
        for i in range(processes):
            proc = subprocess.Popen([sys.executable, "-m", "propolis.cli", "serve", "admission"], cwd=ROOT, env=env,
                                    stdout=subprocess.PIPE, stderr=(work / f"admission-{i}.log").open("wb"))
            self.procs.append(proc)
            line: list[bytes] = []
            t = threading.Thread(target=lambda p=proc, out=line: out.append(p.stdout.readline()))  # type: ignore[misc,union-attr]
            t.start()
            t.join(60)
            if not line or b'"ready"' not in line[0]:
                self.stop()
                raise SystemExit(f"admission did not start: {(work / f'admission-{i}.log').read_text()[-2000:]}")
            self.url: str = json.loads(line[0])["endpoints"]["webhook"]
        self.proc = self.procs[0]
        self.log = work / "admission-0.log"

    def cpu(self) -> float:
        """CPU seconds of every service process."""
        return sum(proc_cpu(p.pid) for p in self.procs)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def generate(url: str, ca: Path, bodies_file: Path, mode: str, **kw: Any) -> dict[str, Any]:
    args = [sys.executable, __file__, "_gen", "--url", url, "--ca", str(ca), "--bodies", str(bodies_file),
            "--mode", mode] + [x for k, v in kw.items() for x in (f"--{k}", str(v))]
    p = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        raise SystemExit(f"generator failed: {p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def profile(pid: int, seconds: int, work: Path) -> dict[str, Any]:
    """py-spy samples of the service: the functions with the most samples, inclusive and own."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not spy:
        return {"error": "py-spy not found"}
    out = work / "profile.txt"
    p = subprocess.run([spy, "record", "-p", str(pid), "-d", str(seconds), "-r", "200", "-f", "raw", "-o", str(out),
                        "--nonblocking", "--gil"], capture_output=True, text=True)
    if p.returncode != 0 or not out.exists():
        return {"error": p.stderr[-1000:]}
    total = 0
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = [re.sub(r" \((.*?)(:\d+)?\)$", lambda m: f" ({Path(m.group(1)).name})", f)
                  for f in stack.split(";")]
        for f in set(frames):
            inclusive[f] += n
        own[frames[-1]] += n
    return {"samples": total, "file": str(out),
            "inclusive": [(f, round(100 * c / total, 1)) for f, c in inclusive.most_common(40)],
            "own": [(f, round(100 * c / total, 1)) for f, c in own.most_common(25)]}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_gen":
        generator_main(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", default="100,250,500")
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--gen-connections", type=int, default=64,
                    help="most keep-alive connections the open-loop generator opens")
    ap.add_argument("--connections", default="16,64", help="closed loop: concurrent keep-alive connections")
    ap.add_argument("--closed-seconds", type=float, default=15)
    ap.add_argument("--scored", type=int, default=600, help="images given a risk score in the KV bucket")
    ap.add_argument("--reference-n", type=int, default=3000)
    ap.add_argument("--nats", default="", help="NATS URL (default: a private embedded nats-server)")
    ap.add_argument("--profile", type=int, default=0, help="seconds of py-spy (--gil) on the service under load")
    ap.add_argument("--profile-rate", type=float, default=200, help="open-loop rate during the profile")
    ap.add_argument("--processes", type=int, default=1, help="admission webhook processes sharing the port")
    ap.add_argument("--json", default="")
    args = ap.parse_args()

    from propolis.admission.domain import certs
    from propolis.kernel.embedded_nats import EmbeddedNats

    work = Path(tempfile.mkdtemp(prefix="propolis-admission-load-"))
    tls = work / "tls"
    ca = certs.make_ca()
    certs.write_pair(tls, "ca", ca)
    cert, key = certs.write_pair(tls, "webhook", certs.make_serving_cert(ca, ["localhost"], ["127.0.0.1"]))
    embedded = None
    nats_url = args.nats
    if not nats_url:
        embedded = EmbeddedNats(work / "nats").start()
        nats_url = embedded.url
    scores = scored_digests(args.scored)
    bodies = templates(scores)
    bodies_file = work / "bodies.json"
    bodies_file.write_text(json.dumps(bodies))
    results: dict[str, Any] = {"cpus": os.cpu_count(), "nats": "embedded" if embedded else nats_url,
                               "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                               "loadavg_before": os.getloadavg()}
    svc = None
    try:
        asyncio.run(seed_kv(nats_url, scores))
        print(f"reference: in-process evaluation of {args.reference_n} decisions of the mix ...", flush=True)
        results["reference"] = ref = reference(bodies, scores, args.reference_n)
        print(f"  engine alone p50 {ref['engine_p50_ms']:.3f} ms p99 {ref['engine_p99_ms']:.3f} ms; "
              f"DecisionPoints.decide p50 {ref['decide_p50_ms']:.3f} ms; compiled VM (engine_vm, off by default) p50 "
              f"{ref['vm_p50_ms']:.3f} ms, {ref['vm_verdicts_differing']}/{ref['n']} verdicts wrong; "
              f"by kind {ref['engine_p50_by_kind_ms']}",
              flush=True)
        svc = Service(work, nats_url, cert, key, processes=args.processes)
        print(f"service pid {svc.proc.pid} at {svc.url}", flush=True)
        runs = []
        for rate in [float(r) for r in args.rates.split(",") if r]:
            cpu0, t0 = svc.cpu(), time.monotonic()
            r = generate(svc.url, tls / "ca.crt", bodies_file, "open", rate=rate, duration=args.duration,
                         warmup=args.warmup, connections=args.gen_connections)
            r["service_cores"] = (svc.cpu() - cpu0) / (time.monotonic() - t0)
            r["ratio_p50_to_engine"] = r["p50_ms"] / ref["engine_p50_ms"]
            runs.append(r)
            print(f"open loop {rate:.0f}/s: achieved {r['achieved_per_s']:.1f}/s, p50 {r['p50_ms']:.2f} "
                  f"p90 {r['p90_ms']:.2f} p99 {r['p99_ms']:.2f} p99.9 {r['p999_ms']:.2f} max {r['max_ms']:.2f} ms; "
                  f"errors {r['errors']} wrong {r['wrong_verdicts']}; send lag p99 {r['send_lag_p99_ms']:.2f} ms; "
                  f"service {r['service_cores']:.2f} cores (incl. warm-up), generator {r['generator_cores']:.2f}",
                  flush=True)
            print(f"  p50 by kind {r['p50_by_kind_ms']}\n  p99 by kind {r['p99_by_kind_ms']}", flush=True)
        results["open"] = runs
        closed = []
        for c in [int(x) for x in args.connections.split(",") if x]:
            if shutil.which("wrk"):
                w = run_wrk(svc.url, work, bodies, c, args.closed_seconds, svc.cpu)
                print(f"closed loop wrk -c{c}: {w['per_s']:.1f} req/s, p50 {w['p50']} p99 {w['p99']}, "
                      f"non-2xx {w['non_2xx']} {w['socket_errors']}; service {w['service_cores']:.2f} cores",
                      flush=True)
                closed.append({k: v for k, v in w.items() if k != "raw"})
            cpu0, t0 = svc.cpu(), time.monotonic()
            py = generate(svc.url, tls / "ca.crt", bodies_file, "closed", connections=c, duration=args.closed_seconds)
            py["service_cores"] = (svc.cpu() - cpu0) / (time.monotonic() - t0)
            print(f"closed loop python -c{c}: {py['per_s']:.1f} req/s, p50 {py['p50_ms']:.2f} ms "
                  f"p99 {py['p99_ms']:.2f} ms, errors {py['errors']}; service {py['service_cores']:.2f} cores",
                  flush=True)
            closed.append(py)
        results["closed"] = closed
        if args.profile:
            rate = args.profile_rate
            holder: dict[str, Any] = {}
            t = threading.Thread(target=lambda: holder.update(generate(
                svc.url, tls / "ca.crt", bodies_file, "open", rate=rate, duration=args.profile + 4, warmup=1,  # type: ignore[union-attr]
                connections=args.gen_connections)))
            t.start()
            time.sleep(2.5)
            results["profile"] = prof = profile(svc.proc.pid, args.profile, work)
            t.join()
            results["profile_run"] = holder
            print(f"profile ({prof.get('samples')} samples of the service at {rate:.0f}/s; "
                  f"that run's p99 {holder.get('p99_ms', float('nan')):.2f} ms):")
            for title in ("inclusive", "own"):
                print(f"  {title}:")
                for f, share in prof.get(title, []):
                    print(f"    {share:5.1f} %  {f}")
    finally:
        if svc is not None:
            svc.stop()
        if embedded is not None:
            embedded.stop()
        results["loadavg_after"] = os.getloadavg()
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1))
        shutil.rmtree(work, ignore_errors=True) if not args.profile else None
    print(f"\n{results['cpus']} CPUs, NATS {results['nats']}; generator and service share them; load average "
          f"{results['loadavg_before'][0]:.2f} before, {results['loadavg_after'][0]:.2f} after. Work dir {work}")


if __name__ == "__main__":
    main()
