"""Layer streaming, whiteouts, links and hostile layers, through real OCI layouts and archives."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from propolis.scanner.adapters.layers import LayerLimits, read_layer
from propolis.scanner.adapters.sources import open_docker_archive, open_image, open_oci_layout
from propolis.scanner.catalogers.interface import CatalogContext, CatalogOutput
from propolis.scanner.catalogue import catalogue_image
from propolis.scanner.domain.image import ImageError
from propolis.scanner.domain.model import Location, Package
from tests.scanner.images import WHITEOUT, Hard, Link, layer_tar, write_docker_archive, write_oci_layout


class ConfFiles:
    """Reports every ``*.conf`` file as a package named after it, version = its content."""

    name = "conf"
    max_file_bytes = 1024

    def wants(self, path: str) -> bool:
        return path.endswith(".conf")

    def catalog(self, files: Mapping[str, bytes], ctx: CatalogContext) -> CatalogOutput:
        return CatalogOutput(packages=[
            Package(name=p, version=c.decode(errors="replace"), ecosystem="generic", purl=f"pkg:generic/{p}",
                    locations=[Location(path=p)]) for p, c in files.items()])


def _names(cat: object) -> dict[str, str]:
    return {p.name: p.version for p in cat.packages}  # type: ignore[attr-defined]


LAYERS: list[dict[str, object]] = [
    {"etc/a.conf": b"1", "etc/b.conf": b"1", "opt/app/x.conf": b"1",
     "usr/lib/os-release": b'ID=debian\nVERSION_ID="12"\n', "etc/os-release": Link("../usr/lib/os-release")},
    {"etc/b.conf": WHITEOUT, "etc/c.conf": b"2", "opt/app/.wh..wh..opq": b"", "opt/app/y.conf": b"2"},
    {"etc/a.conf": b"3", "etc/d.conf": Link("/etc/c.conf"), "etc/e.conf": Hard("etc/c.conf")},
]


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_oci_layout_whiteouts_links_and_attribution(tmp_path: Path, compression: str) -> None:
    img = open_oci_layout(write_oci_layout(tmp_path / "oci", LAYERS, compression=compression), tag="latest")
    cat = catalogue_image(img, [ConfFiles()])  # type: ignore[list-item]
    assert _names(cat) == {"etc/a.conf": "3", "etc/c.conf": "2", "opt/app/y.conf": "2",
                           "etc/d.conf": "2", "etc/e.conf": "2"}
    by = {p.name: p.locations[0] for p in cat.packages}
    assert by["etc/a.conf"].diff_id == img.layers[2].diff_id and by["etc/a.conf"].created_by == "RUN step 2"
    assert by["etc/c.conf"].layer_digest == img.layers[1].digest
    assert cat.os is not None and cat.os.id == "debian" and cat.os.version_id == "12"
    assert not cat.partial, cat.issues


def test_docker_archive_and_cli_style_references(tmp_path: Path) -> None:
    path = write_docker_archive(tmp_path / "img.tar", LAYERS)
    cat = catalogue_image(open_docker_archive(path), [ConfFiles()])  # type: ignore[list-item]
    assert _names(cat)["etc/a.conf"] == "3" and "etc/b.conf" not in _names(cat)
    assert cat.reference == "propolis/test:1"
    write_oci_layout(tmp_path / "oci", LAYERS, tag="v1")
    assert open_image(str(tmp_path / "oci") + ":v1").reference.endswith(":v1")
    assert open_image(str(path)).reference == "propolis/test:1"
    with pytest.raises(ImageError, match="no manifest tagged"):
        open_image(str(tmp_path / "oci") + ":nope")
    with pytest.raises(ImageError, match="no such file"):
        open_image(str(tmp_path / "missing"))


def test_rootfs_directory(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "a.conf").write_text("9")
    (root / "etc" / "loop.conf").symlink_to("loop.conf")
    cat = catalogue_image(open_image(str(root)), [ConfFiles()])  # type: ignore[list-item]
    assert _names(cat) == {"etc/a.conf": "9"}
    assert any("symbolic links" in i for i in cat.issues)  # the loop is reported, not followed forever


def _walk(raw: bytes, **kw: object) -> object:
    return read_layer(io.BytesIO(raw), lambda p: 1024 if p.endswith(".conf") else 0, **kw)  # type: ignore[arg-type]


def test_entries_escaping_the_root_are_ignored() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name in ("../../etc/evil.conf", "/etc/abs.conf", "ok/./x.conf"):
            info = tarfile.TarInfo(name)
            info.size = 1
            t.addfile(info, io.BytesIO(b"x"))
        link = tarfile.TarInfo("etc/h.conf")
        link.type = tarfile.LNKTYPE
        link.linkname = "../../../etc/shadow"
        t.addfile(link)
    out = _walk(buf.getvalue())
    assert set(out.files) == {"etc/abs.conf", "ok/x.conf"}  # type: ignore[attr-defined]
    assert any("escapes the image root" in s for s in out.skipped)  # type: ignore[attr-defined]
    assert any("outside the image root" in s for s in out.skipped)  # type: ignore[attr-defined]


def test_corrupt_truncated_and_bomb_layers_are_partial() -> None:
    raw = layer_tar({f"d/{i}.conf": b"x" * 100 for i in range(50)})
    gz = gzip.compress(raw)
    out = _walk(gz[: len(gz) // 2])
    assert out.partial and "corrupt or truncated" in out.partial[0]  # type: ignore[attr-defined]
    out = _walk(b"\x1f\x8b\x08\x00garbage-not-deflate" * 20)
    assert out.partial  # type: ignore[attr-defined]
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))
    out = _walk(bomb, limits=LayerLimits(max_uncompressed_bytes=1024 * 1024))
    assert any("decompression bomb" in p for p in out.partial)  # type: ignore[attr-defined]
    out = _walk(raw, limits=LayerLimits(max_entries=10))
    assert any("more than 10 entries" in p for p in out.partial)  # type: ignore[attr-defined]
    big = layer_tar({"etc/huge.conf": b"x" * 5000})
    out = _walk(big)
    assert "etc/huge.conf" not in out.files and "larger than" in out.skipped[0]  # type: ignore[attr-defined]


def test_digest_mismatch_is_reported(tmp_path: Path) -> None:
    root = write_oci_layout(tmp_path / "oci", LAYERS[:1])
    img = open_oci_layout(root)
    blob = root / "blobs" / "sha256" / img.layers[0].digest.split(":")[1]
    data = bytearray(blob.read_bytes())
    good = gzip.decompress(bytes(data))
    blob.write_bytes(gzip.compress(good + b"\0" * 1024))  # same tar content, different blob
    cat = catalogue_image(open_oci_layout(root), [ConfFiles()])  # type: ignore[list-item]
    assert cat.partial and any("digest mismatch" in i for i in cat.issues)


def test_non_utf8_names_do_not_break_the_walk() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT, encoding="latin-1") as t:
        info = tarfile.TarInfo("etc/caf\xe9.conf")
        info.size = 1
        t.addfile(info, io.BytesIO(b"1"))
    out = _walk(buf.getvalue())
    assert len(out.files) == 1 and not out.partial  # type: ignore[attr-defined]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    out = _walk(raw)
    assert isinstance(out.files, dict)  # type: ignore[attr-defined]


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.integers(0, 2000))
def test_mutated_tar_streams_never_raise(noise: bytes, at: int) -> None:
    raw = bytearray(layer_tar({"etc/a.conf": b"1", "etc/b.conf": b"2", "x/y": b"3" * 700}))
    at = min(at, len(raw) - 1)
    raw[at: at + len(noise)] = noise
    out = _walk(bytes(raw))
    assert isinstance(out.partial, list)  # type: ignore[attr-defined]
