"""Certificates for the admission webhook and its ``ValidatingWebhookConfiguration``.

The API server calls webhooks over HTTPS only and checks the serving certificate against the
``caBundle`` of the webhook configuration, by the DNS name of the Service
(``NAME.NS.svc``). :func:`make_ca` and :func:`make_serving_cert` make that pair (ECDSA P-256);
:func:`self_signed` is the fallback ``propolis up`` uses when no certificate is configured.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: Every kind the admission policy reads a pod spec from, with its API group, version and resource.
WORKLOAD_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]},
    {"apiGroups": ["apps"], "apiVersions": ["v1"],
     "resources": ["deployments", "replicasets", "statefulsets", "daemonsets"]},
    {"apiGroups": ["batch"], "apiVersions": ["v1"], "resources": ["jobs", "cronjobs"]},
    {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["replicationcontrollers"]},
]

WEBHOOK_NAME = "validate.propolis.dev"


@dataclass(frozen=True)
class KeyPair:
    cert_pem: bytes
    key_pem: bytes


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)  # some clock skew between hosts


def make_ca(common_name: str = "propolis-admission-ca", days: int = 3650) -> KeyPair:
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(_now())
            .not_valid_after(_now() + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))


def service_names(service: str, namespace: str) -> list[str]:
    """The DNS names the API server uses to reach a webhook Service."""
    return [f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]


def _sans(dns: list[str], ips: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dict.fromkeys(dns)]
    for ip in dict.fromkeys(ips):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(ip)))
        except ValueError:
            raise ValueError(f"{ip!r} is not an IP address") from None
    return x509.SubjectAlternativeName(names)


def make_serving_cert(ca: KeyPair, dns: list[str], ips: list[str] | None = None, days: int = 825) -> KeyPair:
    """A serving certificate for ``dns`` and ``ips`` signed by ``ca``."""
    ips = list(ips or [])
    if not dns and not ips:
        raise ValueError("a serving certificate needs at least one DNS name or IP address")
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key is not an ECDSA key")
    key = _key()
    cn = (list(dns) or list(ips))[0]
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(_now())
            .not_valid_after(_now() + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                         crl_sign=False, content_commitment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(_sans(list(dns), list(ips)), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))


def self_signed(dns: list[str], ips: list[str]) -> tuple[KeyPair, KeyPair]:
    """(CA, serving pair) for local use: a throwaway CA signs the serving certificate."""
    ca = make_ca("propolis-admission-local-ca", days=365)
    return ca, make_serving_cert(ca, dns, ips, days=365)


def write_pair(directory: Path, name: str, pair: KeyPair) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    cert.write_bytes(pair.cert_pem)
    key.touch(mode=0o600)
    key.write_bytes(pair.key_pem)
    return cert, key


def webhook_configuration(*, ca_pem: bytes, service: str, namespace: str, path: str = "/validate",
                          port: int = 443, timeout_seconds: int = 5, failure_policy: str = "Fail",
                          name: str = "propolis-admission", url: str = "") -> str:
    """A ``ValidatingWebhookConfiguration`` (admissionregistration.k8s.io/v1) as YAML.

    The API server prefixes each audit annotation key the webhook returns with the webhook's name,
    so the decision id appears in the audit log as ``validate.propolis.dev/decision-id``.
    """
    if failure_policy not in ("Fail", "Ignore"):
        raise ValueError(f"failurePolicy must be Fail or Ignore, not {failure_policy!r}")
    if not 1 <= timeout_seconds <= 30:
        raise ValueError("timeoutSeconds must be between 1 and 30")
    client: dict[str, Any] = {"caBundle": base64.b64encode(ca_pem).decode()}
    if url:
        client["url"] = url
    else:
        client["service"] = {"name": service, "namespace": namespace, "path": path, "port": port}
    doc = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "propolis-admission"}},
        "webhooks": [{
            "name": WEBHOOK_NAME,
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "timeoutSeconds": timeout_seconds,
            "failurePolicy": failure_policy,
            "matchPolicy": "Equivalent",
            "clientConfig": client,
            "rules": [{"operations": ["CREATE", "UPDATE"], "scope": "*", **r} for r in WORKLOAD_RULES],
            # The webhook's own namespace is never judged by itself (it could not start otherwise).
            "namespaceSelector": {"matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": [namespace]}]},
        }],
    }
    return str(yaml.safe_dump(doc, sort_keys=False))
