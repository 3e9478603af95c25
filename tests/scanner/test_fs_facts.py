"""Filesystem facts: setuid/setgid files and world-writable paths of the FINAL image, each with the layer
that put it there, through real layer tars (whiteouts, opaque directories and re-added entries included)."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import msgspec
import pytest

from propolis.scanner.adapters.layers import LayerContent, LayerLimits, ModeEntry, read_layer
from propolis.scanner.adapters.sources import open_image
from propolis.scanner.catalogue import Catalogue, catalogue_image
from propolis.scanner.domain.filesystem import FileView
from tests.conftest import propolis_cli
from tests.scanner.images import write_oci_layout

DIR, FILE, SYM, HARD = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE


def tar(*entries: tuple[str, bytes, int] | tuple[str, bytes, int, str]) -> bytes:
    """A layer tar from (name, type, mode[, link target]) entries, exactly as given (no implied parents)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, mode, *link in entries:
            info = tarfile.TarInfo(name)
            info.type, info.mode = kind, mode
            data = b""
            if kind == FILE:
                data = b"#!/bin/true\n" if not name.endswith(".env") else SECRET_FILE
                info.size = len(data)
            if link:
                info.linkname = link[0]
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


SECRET_FILE = ("GH=" + "gh" + "p_" + "a1B2c3D4" * 4 + "e5F6" + "\n").encode()

LAYERS = [
    tar(("bin", DIR, 0o755), ("bin/su", FILE, 0o4755), ("bin/ls", FILE, 0o755),
        ("usr", DIR, 0o755), ("usr/bin", DIR, 0o755), ("usr/bin/passwd", FILE, 0o4755),
        ("usr/bin/wall", FILE, 0o2755), ("usr/bin/chage", HARD, 0o4755, "usr/bin/passwd"),
        ("usr/local", DIR, 0o2775),  # setgid directory: common and not a regular file, so not a fact
        ("etc", DIR, 0o755), ("etc/shared.conf", FILE, 0o666), ("etc/any", SYM, 0o777, "shared.conf"),
        ("tmp", DIR, 0o1777), ("var", DIR, 0o755), ("var/drop", DIR, 0o777),
        ("opt", DIR, 0o755), ("opt/tool", FILE, 0o4711), ("srv", DIR, 0o755), ("srv/data", FILE, 0o666)),
    tar(("bin/.wh.su", FILE, 0o644),  # removes one setuid file
        ("usr/bin/passwd", FILE, 0o755),  # re-added without setuid (chmod u-s)
        ("usr/bin/wall", FILE, 0o6755),  # re-added with setuid as well as setgid
        (".wh.opt", FILE, 0o644),  # the whole directory is whited out
        ("srv/.wh..wh..opq", FILE, 0o644),  # opaque: lower content of srv is hidden
        ("srv/app", DIR, 0o755), ("srv/app/.env", FILE, 0o600)),
    tar(("usr/bin/newgrp", FILE, 0o4755), ("srv/app/cache", DIR, 0o777)),
]


def _image(tmp_path: Path) -> Path:
    return write_oci_layout(tmp_path / "oci", [], raw_layers=[gzip.compress(raw, mtime=0) for raw in LAYERS])


@pytest.fixture(scope="module")
def cat(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    return catalogue_image(open_image(str(_image(tmp_path_factory.mktemp("img")))))


def _facts(items: list[object]) -> list[tuple[object, ...]]:
    return [(f.path, f.mode, f.kind, f.layer_index, f.sticky) for f in items]  # type: ignore[attr-defined]


def test_final_facts_are_exact_with_their_layer(cat: Catalogue) -> None:
    facts = cat.facts
    assert facts is not None
    assert not cat.partial, cat.issues  # the hard link to a kept-by-nobody executable is no problem
    assert _facts(facts.setuid_files) == [
        ("usr/bin/chage", "4755", "file", 0, False),  # a hard link shares the setuid inode
        ("usr/bin/newgrp", "4755", "file", 2, False),
        ("usr/bin/wall", "6755", "file", 1, False),
    ]
    assert _facts(facts.setgid_files) == [("usr/bin/wall", "6755", "file", 1, False)]
    assert _facts(facts.world_writable) == [
        ("etc/shared.conf", "0666", "file", 0, False),
        ("srv/app/cache", "0777", "dir", 2, False),
        ("tmp", "1777", "dir", 0, True),
        ("var/drop", "0777", "dir", 0, False),
    ]
    diff_ids = [la.diff_id for la in cat.layers]
    assert all(f.diff_id == diff_ids[f.layer_index] for f in facts.setuid_files + facts.world_writable)


def test_facts_travel_in_the_json_catalogue(cat: Catalogue) -> None:
    doc = json.loads(msgspec.json.encode(cat))
    assert [f["path"] for f in doc["facts"]["setuid_files"]] == ["usr/bin/chage", "usr/bin/newgrp", "usr/bin/wall"]
    tmp = next(f for f in doc["facts"]["world_writable"] if f["path"] == "tmp")
    assert tmp == {"path": "tmp", "mode": "1777", "kind": "dir", "layer_index": 0,
                   "diff_id": cat.layers[0].diff_id, "sticky": True}
    back = msgspec.json.decode(msgspec.json.encode(cat), type=Catalogue)
    assert back.facts == cat.facts


def test_layer_content_records_modes_and_survives_msgspec() -> None:
    """The per-layer cache stores LayerContent with msgspec: the mode facts and written keys must round-trip."""
    content = read_layer(io.BytesIO(LAYERS[0]), lambda p: 0)
    assert sorted((m.path, oct(m.mode), m.kind) for m in content.modes) == [
        ("bin/su", "0o4755", "file"), ("etc/shared.conf", "0o666", "file"), ("opt/tool", "0o4711", "file"),
        ("srv/data", "0o666", "file"), ("tmp", "0o1777", "dir"), ("usr/bin/chage", "0o4755", "file"),
        ("usr/bin/passwd", "0o4755", "file"), ("usr/bin/wall", "0o2755", "file"), ("var/drop", "0o777", "dir"),
    ]
    assert len(content.written) == 8 * content.entries
    for codec in (msgspec.json, msgspec.msgpack):
        back = codec.decode(codec.encode(content), type=LayerContent)
        assert back.modes == content.modes and back.written == content.written
    views = []
    for decode in (False, True):
        view = FileView()
        for i, raw in enumerate(LAYERS):
            c = read_layer(io.BytesIO(raw), lambda p: 0)
            view.apply(msgspec.msgpack.decode(msgspec.msgpack.encode(c), type=LayerContent) if decode else c, i)
        views.append({p: (m.mode, i) for p, (m, i) in view.modes.items()})
    assert views[0] == views[1] and "usr/bin/passwd" not in views[0] and views[0]["usr/bin/wall"] == (0o6755, 1)


def test_mode_entries_are_bounded() -> None:
    raw = tar(*[(f"f{i}", FILE, 0o4755) for i in range(5)])
    out = read_layer(io.BytesIO(raw), lambda p: 0, limits=LayerLimits(max_mode_entries=2))
    assert [m.path for m in out.modes] == ["f0", "f1"]
    assert out.partial == ["more than 2 setuid/setgid/world-writable entries; the rest were not recorded"]
    assert ModeEntry(path="f0", mode=0o4755, kind="file") in out.modes


def test_rootfs_directory_facts(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "ping").write_bytes(b"x")
    os.chmod(root / "usr" / "bin" / "ping", 0o4755)
    (root / "tmp").mkdir()
    os.chmod(root / "tmp", 0o1777)
    (root / "etc").mkdir()
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    cat = catalogue_image(open_image(str(root)))
    assert cat.facts is not None
    assert _facts(cat.facts.setuid_files) == [("usr/bin/ping", "4755", "file", 0, False)]
    assert _facts(cat.facts.world_writable) == [("tmp", "1777", "dir", 0, True)]


def test_table_shows_secrets_and_facts(tmp_path: Path) -> None:
    root = _image(tmp_path)
    p = propolis_cli("sbom", str(root), "--format", "table", env={"COLUMNS": "200"})
    out = p.stdout.decode()
    assert p.returncode == 0, p.stderr.decode()
    assert "Secrets (1)" in out and "github-token" in out and "srv/app/.env:1" in out
    assert "a1B2c3D4" not in out  # redacted: only the first characters are shown
    assert "setuid files" in out and "world-writable paths" in out and "4 (2 directories without sticky)" in out
    assert "runs as root" in out
