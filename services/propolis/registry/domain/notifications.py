"""Registry push notifications (CNCF distribution's ``application/vnd.docker.distribution.events.v1+json``)
and which of their events the gate verifies.

The envelope is ``{"events": [{"id", "timestamp", "action", "target": {"mediaType", "digest",
"repository", "tag", "url", ...}, "request": {...}, ...}]}``. Only a manifest pushed under a tag is
an image arriving: blob pushes, pulls, mounts, pushes by digest (the children of an index) and the
gate's own writes (the quarantine repositories and the ``sha256-<hex>`` referrers tags) are not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import msgspec

CONTENT_TYPES = ("application/vnd.docker.distribution.events.v1+json", "application/json")
MANIFEST_TYPES = frozenset({
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
})
_REPO_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
_FALLBACK_TAG_RE = re.compile(r"^sha256-[a-f0-9]{64}$")
_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_HOST_RE = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?$")


class NotificationError(ValueError):
    """The body is not a distribution notification."""


class Target(msgspec.Struct, kw_only=True):
    mediaType: str = ""  # noqa: N815 - the wire name
    digest: str = ""
    repository: str = ""
    tag: str = ""
    url: str = ""
    size: int = 0


class RequestInfo(msgspec.Struct, kw_only=True):
    host: str = ""
    method: str = ""
    useragent: str = ""


class NotificationEvent(msgspec.Struct, kw_only=True):
    id: str
    action: str
    target: Target
    timestamp: str = ""
    request: RequestInfo = msgspec.field(default_factory=RequestInfo)


class Notification(msgspec.Struct, kw_only=True):
    events: list[NotificationEvent]


@dataclass(frozen=True)
class PushedImage:
    """A tagged manifest that arrived in a registry: what the gate verifies."""

    event_id: str
    registry: str
    repository: str
    tag: str
    digest: str
    media_type: str


@dataclass(frozen=True)
class Sorted:
    pushed: list[PushedImage]
    #: (event id, why it is not verified) for every other event.
    ignored: list[tuple[str, str]]
    received: int


_DECODER = msgspec.json.Decoder(Notification)


def parse(body: bytes) -> Notification:
    """Decode and type-check a notification body; :class:`NotificationError` says what is wrong."""
    try:
        return _DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise NotificationError(f"not a registry notification: {exc}") from None


def _registry_of(event: NotificationEvent) -> str:
    """The registry host the event is about: the host in the target URL the registry wrote, else the
    Host the pusher used."""
    host = urlsplit(event.target.url).netloc if event.target.url else ""
    return host or event.request.host


def sort_events(note: Notification, *, quarantine_prefix: str, allowed_hosts: tuple[str, ...] = ()) -> Sorted:
    """Split a notification into the pushes to verify and everything else (with the reason)."""
    pushed: list[PushedImage] = []
    ignored: list[tuple[str, str]] = []
    prefix = quarantine_prefix.strip("/") + "/"
    for ev in note.events:
        t = ev.target
        why = ""
        if not _ID_RE.match(ev.id):
            why = "event id is empty, too long or not printable"
        elif ev.action != "push":
            why = f"action {ev.action!r} is not a push"
        elif t.mediaType not in MANIFEST_TYPES:
            why = f"media type {t.mediaType!r} is not an image manifest"
        elif not t.tag:
            why = "pushed by digest, not under a tag"
        elif not _REPO_RE.match(t.repository) or len(t.repository) > 255:
            why = f"repository {t.repository[:80]!r} is not a valid repository name"
        elif not _TAG_RE.match(t.tag):
            why = f"tag {t.tag[:80]!r} is not a valid tag"
        elif not _DIGEST_RE.match(t.digest):
            why = f"digest {t.digest[:80]!r} is not a sha256 digest"
        elif (t.repository + "/").startswith(prefix):
            why = "a quarantine repository (the gate's own copy)"
        elif _FALLBACK_TAG_RE.match(t.tag):
            why = "an OCI referrers tag (the gate's own attestation index)"
        registry = _registry_of(ev)
        if not why and not _HOST_RE.match(registry):
            why = f"registry host {registry[:80]!r} is not a host[:port]"
        if not why and allowed_hosts and registry not in allowed_hosts:
            why = f"registry {registry} is not one the gate watches"
        if why:
            ignored.append((ev.id, why))
            continue
        pushed.append(PushedImage(event_id=ev.id, registry=registry, repository=t.repository, tag=t.tag,
                                  digest=t.digest, media_type=t.mediaType))
    return Sorted(pushed=pushed, ignored=ignored, received=len(note.events))
