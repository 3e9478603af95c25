"""Red Hat, Fedora, SUSE, Mariner… packages from the rpm database, in its three formats.

* **SQLite** (``rpmdb.sqlite``, rpm ≥ 4.16): table ``Packages(hnum, blob)``.
* **Berkeley DB hash** (``Packages``, older rpm): every hash page's key/data pairs; the data
  (an rpm header, usually larger than a page) lives inline or in a chain of overflow pages.
* **NDB** (``Packages.db``, SUSE): a header, slot pages (package index → block offset and
  count) and, at each slot's offset, a blob framed by a head and a tail.

The format is recognised from the content, not the file name. Each blob is an rpm header
without lead or magic: an index of ``(tag, type, offset, count)`` entries and a data store; the
tags read are NAME, EPOCH, VERSION, RELEASE, LICENSE, VENDOR, ARCH and SOURCERPM.

rpm keeps only one database per directory, but a converted image can hold a stale file of an
older format next to the current one: per directory only the newest format present is read
(SQLite, then NDB, then Berkeley DB). ``gpg-pubkey`` entries are imported signing keys, not
software, and are skipped.
"""

from __future__ import annotations

import os
import posixpath
import sqlite3
import struct
import tempfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import ClassVar

from packageurl import PackageURL

from propolis.scanner.catalogers._common import MAX_ISSUES_PER_FILE as MAX_ISSUES_PER_FILE
from propolis.scanner.catalogers._common import Problems, read_each
from propolis.scanner.catalogers.interface import CatalogContext, CatalogOutput
from propolis.scanner.domain.model import Location, OSRelease, Package

RPMDB_DIRS = ("var/lib/rpm", "usr/lib/sysimage/rpm")
#: File names, most recent format first (the per-directory preference).
RPMDB_FILES = ("rpmdb.sqlite", "Packages.db", "Packages")
#: Packages that are not software (rpm stores imported GPG keys as pseudo-packages).
PSEUDO_PACKAGES = frozenset({"gpg-pubkey"})

# --- rpm header ---------------------------------------------------------------------------------

TAG_NAME = 1000
TAG_VERSION = 1001
TAG_RELEASE = 1002
TAG_EPOCH = 1003
TAG_VENDOR = 1011
TAG_LICENSE = 1014
TAG_ARCH = 1022
TAG_SOURCERPM = 1044

TYPE_NULL, TYPE_CHAR, TYPE_INT8, TYPE_INT16, TYPE_INT32, TYPE_INT64 = 0, 1, 2, 3, 4, 5
TYPE_STRING, TYPE_BIN, TYPE_STRING_ARRAY, TYPE_I18NSTRING = 6, 7, 8, 9
_STRING_TYPES = frozenset({TYPE_STRING, TYPE_STRING_ARRAY, TYPE_I18NSTRING})
_TAG_NAMES = {TAG_NAME: "NAME", TAG_VERSION: "VERSION", TAG_RELEASE: "RELEASE", TAG_EPOCH: "EPOCH",
              TAG_VENDOR: "VENDOR", TAG_LICENSE: "LICENSE", TAG_ARCH: "ARCH", TAG_SOURCERPM: "SOURCERPM"}
_STRING_TAGS = frozenset(_TAG_NAMES) - {TAG_EPOCH}

#: rpm's own limits on a header (lib/header.c): index entries and data-store bytes.
HEADER_MAX_INDEX = 0xFFFF
HEADER_MAX_DATA = 256 * 1024 * 1024


class HeaderError(ValueError):
    """An rpm header blob that cannot be read; the message says why."""


@dataclass(frozen=True)
class RpmHeader:
    name: str = ""
    epoch: int | None = None
    version: str = ""
    release: str = ""
    arch: str = ""
    license: str = ""
    vendor: str = ""
    source_rpm: str = ""


def parse_header(blob: bytes) -> RpmHeader:
    """The wanted tags of one header blob (``il``, ``dl``, index, data store). Raises :class:`HeaderError`."""
    size = len(blob)
    if size < 8:
        raise HeaderError(f"header is {size} bytes, shorter than its 8-byte index/data counts")
    il, dl = struct.unpack_from(">II", blob, 0)
    if il == 0 or il > HEADER_MAX_INDEX:
        raise HeaderError(f"header has {il} index entries (expected 1 to {HEADER_MAX_INDEX})")
    if dl > HEADER_MAX_DATA:
        raise HeaderError(f"header data store of {dl} bytes is over the {HEADER_MAX_DATA}-byte limit")
    data_start = 8 + il * 16
    need = data_start + dl
    if need > size:
        raise HeaderError(f"header is truncated: {il} index entries and {dl} data bytes need {need} bytes, "
                          f"the blob has {size}")
    values: dict[str, object] = {}
    for i in range(il):
        tag, typ, offset, count = struct.unpack_from(">IIiI", blob, 8 + i * 16)
        if tag not in _TAG_NAMES or _TAG_NAMES[tag].lower() in values:
            continue
        tag_name = _TAG_NAMES[tag]
        if offset < 0 or offset >= dl:
            raise HeaderError(f"tag {tag_name} ({tag}) points at offset {offset}, outside the {dl}-byte data store")
        if tag == TAG_EPOCH:
            if typ != TYPE_INT32 or count < 1:
                raise HeaderError(f"tag EPOCH ({tag}) has type {typ} and count {count}, expected an INT32")
            if offset + 4 > dl:
                raise HeaderError(f"tag EPOCH ({tag}) at offset {offset} runs past the {dl}-byte data store")
            values["epoch"] = struct.unpack_from(">I", blob, data_start + offset)[0]
            continue
        if typ not in _STRING_TYPES:
            raise HeaderError(f"tag {tag_name} ({tag}) has type {typ}, expected a string")
        end = blob.find(b"\x00", data_start + offset, need)
        if end < 0:
            raise HeaderError(f"string of tag {tag_name} ({tag}) at offset {offset} is not NUL-terminated "
                              "within the data store")
        values[tag_name.lower()] = blob[data_start + offset:end].decode("utf-8", errors="replace")
    return RpmHeader(
        name=str(values.get("name", "")),
        epoch=values.get("epoch"),  # type: ignore[arg-type]
        version=str(values.get("version", "")),
        release=str(values.get("release", "")),
        arch=str(values.get("arch", "")),
        license=str(values.get("license", "")),
        vendor=str(values.get("vendor", "")),
        source_rpm=str(values.get("sourcerpm", "")),
    )


# --- databases ----------------------------------------------------------------------------------


class DatabaseError(ValueError):
    """A database file that cannot be read at all."""


SQLITE_MAGIC = b"SQLite format 3\x00"
NDB_MAGIC = b"RpmP"
BDB_HASH_MAGIC = 0x061561
BDB_BTREE_MAGIC = 0x053162


def detect_format(data: bytes) -> str:
    """``sqlite``, ``ndb``, ``bdb`` or ``""`` from the first bytes."""
    if data.startswith(SQLITE_MAGIC):
        return "sqlite"
    if data.startswith(NDB_MAGIC):
        return "ndb"
    if len(data) >= 16:
        for order in "<>":
            if struct.unpack_from(order + "I", data, 12)[0] in (BDB_HASH_MAGIC, BDB_BTREE_MAGIC):
                return "bdb"
    return ""


# SQLite ------------------------------------------------------------------------------------------


def sqlite_blobs(data: bytes, problems: Problems) -> Iterator[tuple[int, bytes]]:
    """``(hnum, blob)`` rows of the ``Packages`` table, read from bytes without touching the image."""
    image = bytearray(data)
    if len(image) >= 20 and image[18] == 2 and image[19] == 2:
        # WAL mode: without the -wal file the main file is complete up to the last checkpoint; read it
        # as a rollback-journal database so that no WAL index is needed.
        image[18] = image[19] = 1
    conn: sqlite3.Connection | None = None
    tmpdir: tempfile.TemporaryDirectory[str] | None = None
    try:
        try:
            conn = _open_sqlite(bytes(image))
        except sqlite3.Error:
            # No in-memory deserialisation in this SQLite build: a private temporary copy.
            tmpdir = tempfile.TemporaryDirectory(prefix="propolis-rpmdb-")
            db_path = os.path.join(tmpdir.name, "rpmdb.sqlite")
            with open(db_path, "wb") as fh:
                fh.write(image)
            conn = sqlite3.connect(f"file:{db_path}?mode=ro&immutable=1", uri=True)
        try:
            conn.execute("PRAGMA query_only = 1")
            cur = conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum")
        except sqlite3.Error as exc:
            raise DatabaseError(f"not a readable SQLite rpm database: {exc}") from exc
        while True:
            try:
                row = cur.fetchone()
            except sqlite3.Error as exc:
                problems.add(f"SQLite database is corrupt; rows after this point not read: {exc}")
                return
            if row is None:
                return
            hnum, blob = row
            if not isinstance(blob, bytes):
                problems.add(f"package {hnum}: blob column holds {type(blob).__name__}, not a header; skipped")
                continue
            yield (hnum if isinstance(hnum, int) else -1), blob
    except sqlite3.Error as exc:
        raise DatabaseError(f"not a readable SQLite rpm database: {exc}") from exc
    finally:
        if conn is not None:
            conn.close()
        if tmpdir is not None:
            tmpdir.cleanup()


def _open_sqlite(image: bytes) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    try:
        deserialize = getattr(conn, "deserialize", None)
        if deserialize is None:
            raise sqlite3.NotSupportedError("sqlite3 lacks deserialize")
        deserialize(image)
    except BaseException:
        conn.close()
        raise
    return conn


# Berkeley DB hash -------------------------------------------------------------------------------

BDB_PAGE_HEADER = 26  # lsn 8, pgno 4, prev 4, next 4, entries 2, hf_offset 2, level 1, type 1
P_HASH_UNSORTED, P_OVERFLOW, P_HASHMETA, P_HASH = 2, 7, 8, 13
H_KEYDATA, H_DUPLICATE, H_OFFPAGE, H_OFFDUP = 1, 2, 3, 4
DBMETA_CHKSUM = 0x01


def bdb_blobs(data: bytes, problems: Problems) -> Iterator[tuple[int, bytes]]:
    """Every ``(instance, header)`` pair of a Berkeley DB hash ``Packages`` file."""
    if len(data) < 512:
        raise DatabaseError(f"Berkeley DB file is {len(data)} bytes, shorter than a metadata page")
    order = "<" if struct.unpack_from("<I", data, 12)[0] in (BDB_HASH_MAGIC, BDB_BTREE_MAGIC) else ">"
    magic, version, pagesize = struct.unpack_from(order + "III", data, 12)
    encrypt_alg, page_type, metaflags = data[24], data[25], data[26]
    if magic != BDB_HASH_MAGIC:
        raise DatabaseError(f"Berkeley DB file is not a hash database (magic {magic:#x}, meta page type {page_type})")
    if page_type != P_HASHMETA:
        raise DatabaseError(f"Berkeley DB hash metadata page has type {page_type}, expected {P_HASHMETA}")
    if version not in (8, 9, 10):
        raise DatabaseError(f"Berkeley DB hash version {version} is not supported (8 to 10 are)")
    if pagesize < 512 or pagesize > 65536 or pagesize & (pagesize - 1):
        raise DatabaseError(f"Berkeley DB page size {pagesize} is invalid")
    if encrypt_alg:
        raise DatabaseError("Berkeley DB file is encrypted; not read")
    if metaflags & DBMETA_CHKSUM:
        raise DatabaseError("Berkeley DB file has page checksums, a layout not supported; not read")
    npages = len(data) // pagesize
    if len(data) % pagesize:
        problems.add(f"file size {len(data)} is not a multiple of the {pagesize}-byte page size; "
                     "the last partial page is ignored")
    last_pgno = struct.unpack_from(order + "I", data, 32)[0]
    if last_pgno + 1 > npages:
        problems.add(f"database is truncated: the metadata says {last_pgno + 1} pages, the file holds {npages}")
    head = struct.Struct(order + "IIIHHBB")
    claimed: set[int] = set()
    for pgno in range(1, npages):
        base = pgno * pagesize
        _pg, _prev, _next, entries, _hf, _level, ptype = head.unpack_from(data, base + 8)
        if ptype not in (P_HASH, P_HASH_UNSORTED):
            continue
        page = data[base:base + pagesize]
        if BDB_PAGE_HEADER + entries * 2 > pagesize:
            problems.add(f"hash page {pgno} claims {entries} entries, more than fit in a page; skipped")
            continue
        offsets = list(struct.unpack_from(f"{order}{entries}H", page, BDB_PAGE_HEADER))
        if entries % 2:
            problems.add(f"hash page {pgno} has an odd number of entries ({entries}); the last is ignored")
        ends = _item_ends(offsets, pagesize)
        for i in range(0, entries - 1, 2):
            where = f"hash page {pgno} pair {i // 2}"
            k_off, v_off = offsets[i], offsets[i + 1]
            if not (BDB_PAGE_HEADER <= k_off < pagesize and BDB_PAGE_HEADER <= v_off < pagesize):
                problems.add(f"{where}: item offset outside the page; skipped")
                continue
            if page[k_off] != H_KEYDATA:
                problems.add(f"{where}: key item has type {page[k_off]}, expected inline data; skipped")
                continue
            key_bytes = page[k_off + 1:ends[k_off]]
            key = struct.unpack_from(order + "I", key_bytes)[0] if len(key_bytes) == 4 else -1
            if key == 0:
                continue  # instance 0 holds rpm's next-instance counter, not a header
            vtype = page[v_off]
            if vtype == H_KEYDATA:
                value = page[v_off + 1:ends[v_off]]
            elif vtype == H_OFFPAGE:
                if v_off + 12 > pagesize:
                    problems.add(f"{where}: overflow reference runs past the page end; skipped")
                    continue
                start, total = struct.unpack_from(order + "II", page, v_off + 4)
                try:
                    value = _bdb_overflow(data, order, pagesize, npages, start, total, claimed)
                except DatabaseError as exc:
                    problems.add(f"{where} (package {key}): {exc}; skipped")
                    continue
            elif vtype in (H_DUPLICATE, H_OFFDUP):
                problems.add(f"{where} (package {key}): duplicate data items are not used by rpm; skipped")
                continue
            else:
                problems.add(f"{where} (package {key}): unknown data item type {vtype}; skipped")
                continue
            yield key, value


def _item_ends(offsets: list[int], pagesize: int) -> dict[int, int]:
    """Items fill the page from its end down: each ends where the next higher item starts."""
    ends: dict[int, int] = {}
    ordered = sorted(set(offsets))
    for j, off in enumerate(ordered):
        ends[off] = ordered[j + 1] if j + 1 < len(ordered) else pagesize
    return ends


def _bdb_overflow(data: bytes, order: str, pagesize: int, npages: int, start: int, total: int,
                  claimed: set[int] | None = None) -> bytes:
    """The item stored in the overflow chain from ``start``. ``claimed`` holds the overflow pages
    earlier items walked: a page belongs to one item only, so items sharing pages (a crafted file
    making thousands of items re-read one long chain) are refused instead of read again."""
    if total > len(data):
        raise DatabaseError(f"overflow item claims {total} bytes, more than the whole file")
    chunks: list[bytes] = []
    have = 0
    pgno = start
    seen: set[int] = set()
    head = struct.Struct(order + "IIIHHBB")
    while have < total:
        if pgno == 0:
            raise DatabaseError(f"overflow chain from page {start} ends after {have} of {total} bytes")
        if pgno >= npages:
            raise DatabaseError(f"overflow chain from page {start} points at page {pgno}, past the end of the file")
        if pgno in seen:
            raise DatabaseError(f"overflow chain from page {start} loops at page {pgno}")
        if claimed is not None:
            if pgno in claimed:
                raise DatabaseError(f"overflow chain from page {start} reaches page {pgno}, part of another item")
            claimed.add(pgno)
        seen.add(pgno)
        base = pgno * pagesize
        _pg, _prev, nxt, _entries, used, _level, ptype = head.unpack_from(data, base + 8)
        if ptype != P_OVERFLOW:
            raise DatabaseError(f"overflow chain from page {start} reaches page {pgno} of type {ptype}")
        if used > pagesize - BDB_PAGE_HEADER:
            raise DatabaseError(f"overflow page {pgno} claims {used} bytes, more than a page holds")
        chunks.append(data[base + BDB_PAGE_HEADER:base + BDB_PAGE_HEADER + used])
        have += used
        pgno = nxt
    return b"".join(chunks)[:total]


# NDB ---------------------------------------------------------------------------------------------

NDB_PAGE = 4096
NDB_HEADER = 32  # magic, version, generation, slot pages, next package index, reserved
NDB_SLOT = 16  # magic, package index, block offset, block count
NDB_BLOCK = 16
NDB_SLOT_MAGIC = b"Slot"
NDB_BLOB_HEAD_MAGIC = b"BlbS"
NDB_BLOB_TAIL_MAGIC = b"BlbE"
NDB_BLOB_HEAD = 16  # magic, package index, generation, length
NDB_BLOB_TAIL = 12  # adler32 of head, data and padding; length; magic


def ndb_blobs(data: bytes, problems: Problems) -> Iterator[tuple[int, bytes]]:
    """``(package index, header)`` for every used slot of an NDB ``Packages.db``, in slot order."""
    if len(data) < NDB_HEADER:
        raise DatabaseError(f"NDB file is {len(data)} bytes, shorter than its {NDB_HEADER}-byte header")
    _magic, version, _generation, slot_pages = struct.unpack_from("<4sIII", data, 0)
    if version != 0:
        raise DatabaseError(f"NDB version {version} is not supported (0 is)")
    if slot_pages == 0 or slot_pages * NDB_PAGE > len(data):
        raise DatabaseError(f"NDB header says {slot_pages} slot pages; the file holds {len(data) // NDB_PAGE} pages")
    nslots = slot_pages * NDB_PAGE // NDB_SLOT
    named: set[int] = set()
    for slot in range(NDB_HEADER // NDB_SLOT, nslots):
        off = slot * NDB_SLOT
        smagic, pkgidx, blkoff, blkcnt = struct.unpack_from("<4sIII", data, off)
        if smagic != NDB_SLOT_MAGIC:
            problems.add(f"slot {slot} has magic {smagic!r}, expected {NDB_SLOT_MAGIC!r}; skipped")
            continue
        if pkgidx == 0:
            continue  # a free slot
        where = f"slot {slot} (package {pkgidx})"
        if pkgidx in named:
            # rpm gives each package one slot; repeats would re-read (and checksum) one blob many times.
            problems.add(f"{where}: an earlier slot names the same package; skipped")
            continue
        named.add(pkgidx)
        start, length = blkoff * NDB_BLOCK, blkcnt * NDB_BLOCK
        if blkoff < slot_pages * NDB_PAGE // NDB_BLOCK or start + length > len(data):
            problems.add(f"{where}: blob at byte {start} of {length} bytes lies outside the blob area; skipped")
            continue
        if length < NDB_BLOB_HEAD + NDB_BLOB_TAIL:
            problems.add(f"{where}: blob of {length} bytes is too small to hold a head and a tail; skipped")
            continue
        hmagic, hidx, _hgen, blen = struct.unpack_from("<4sIII", data, start)
        if hmagic != NDB_BLOB_HEAD_MAGIC:
            problems.add(f"{where}: blob head has magic {hmagic!r}, expected {NDB_BLOB_HEAD_MAGIC!r}; skipped")
            continue
        if hidx != pkgidx:
            problems.add(f"{where}: blob head names package {hidx}; skipped")
            continue
        if NDB_BLOB_HEAD + blen + NDB_BLOB_TAIL > length:
            problems.add(f"{where}: blob claims {blen} bytes, more than its {length}-byte extent holds; skipped")
            continue
        checksum, tlen, tmagic = struct.unpack_from("<II4s", data, start + length - NDB_BLOB_TAIL)
        if tmagic != NDB_BLOB_TAIL_MAGIC or tlen != blen:
            problems.add(f"{where}: blob tail is damaged (magic {tmagic!r}, length {tlen} vs {blen}); skipped")
            continue
        actual = zlib.adler32(memoryview(data)[start:start + length - NDB_BLOB_TAIL])
        if actual != checksum:
            problems.add(f"{where}: blob checksum mismatch (adler32 {actual:#010x}, tail says {checksum:#010x}); "
                         "skipped")
            continue
        yield pkgidx, data[start + NDB_BLOB_HEAD:start + NDB_BLOB_HEAD + blen]


# --- packages -----------------------------------------------------------------------------------


def split_source_rpm(source_rpm: str) -> tuple[str, str, str]:
    """``name-version-release.src.rpm`` → ``(name, version, release)``; empty strings when malformed."""
    base = source_rpm
    for suffix in (".src.rpm", ".nosrc.rpm"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    else:
        return "", "", ""
    parts = base.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return "", "", ""
    return parts[0], parts[1], parts[2]


def _evr(epoch: int | None, version: str, release: str) -> str:
    vr = f"{version}-{release}" if release else version
    return f"{epoch}:{vr}" if epoch is not None else vr


def _purl(h: RpmHeader, os: OSRelease | None) -> str:
    qualifiers: dict[str, str] = {}
    if h.arch:
        qualifiers["arch"] = h.arch
    if h.epoch is not None:
        qualifiers["epoch"] = str(h.epoch)
    if os is not None and os.version_id:
        qualifiers["distro"] = f"{os.id}-{os.version_id}"
    return PackageURL(type="rpm", namespace=os.id if os is not None else None, name=h.name,
                      version=_evr(None, h.version, h.release), qualifiers=qualifiers).to_string()


def package_from_header(h: RpmHeader, path: str, os: OSRelease | None) -> Package:
    src_name, src_version, src_release = split_source_rpm(h.source_rpm)
    metadata: dict[str, object] = {}
    if h.source_rpm:
        metadata["source_rpm"] = h.source_rpm
    if h.vendor:
        metadata["vendor"] = h.vendor
    if h.epoch is not None:
        metadata["epoch"] = h.epoch
    return Package(
        name=h.name,
        version=_evr(h.epoch, h.version, h.release),
        ecosystem="rpm",
        purl=_purl(h, os),
        source_name=src_name,
        source_version=_evr(h.epoch, src_version, src_release) if src_name else "",
        licenses=[h.license] if h.license else [],
        locations=[Location(path=path)],
        arch=h.arch,
        metadata=metadata,
    )


_READERS = {"sqlite": sqlite_blobs, "bdb": bdb_blobs, "ndb": ndb_blobs}


class RpmCataloger:
    name: ClassVar[str] = "rpm"
    max_file_bytes: ClassVar[int] = 64 * 1024 * 1024

    def wants(self, path: str) -> bool:
        directory, base = posixpath.split(path)
        return directory in RPMDB_DIRS and base in RPMDB_FILES

    def catalog(self, files: Mapping[str, bytes], ctx: CatalogContext) -> CatalogOutput:
        packages, issues = read_each(self.name, self._preferred(files), files,
                                     lambda path, data, problems: self._catalog_file(path, data, ctx, problems))
        return CatalogOutput(packages=packages, issues=issues)

    @staticmethod
    def _preferred(files: Mapping[str, bytes]) -> list[str]:
        by_dir: dict[str, list[str]] = {}
        for path in files:
            by_dir.setdefault(posixpath.dirname(path), []).append(path)
        chosen: list[str] = []
        for directory in sorted(by_dir):
            paths = by_dir[directory]
            rank = {name: i for i, name in enumerate(RPMDB_FILES)}
            paths.sort(key=lambda p: (rank.get(posixpath.basename(p), len(rank)), p))
            known = [p for p in paths if posixpath.basename(p) in rank]
            chosen.extend(known[:1] + [p for p in paths if p not in known])
        return chosen

    def _catalog_file(self, path: str, data: bytes, ctx: CatalogContext, problems: Problems) -> list[Package]:
        if len(data) > self.max_file_bytes:
            problems.add(f"file is {len(data)} bytes, over the {self.max_file_bytes}-byte limit; not read")
            return []
        data = bytes(data)
        fmt = detect_format(data)
        if not fmt:
            problems.add(f"not an rpm database: no SQLite, NDB or Berkeley DB signature (first bytes {data[:16]!r})")
            return []
        found: list[tuple[int, Package]] = []
        try:
            for key, blob in _READERS[fmt](data, problems):
                try:
                    header = parse_header(blob)
                except HeaderError as exc:
                    problems.add(f"package {key}: {exc}; skipped")
                    continue
                if not header.name:
                    problems.add(f"package {key}: header has no NAME tag; skipped")
                    continue
                if header.name in PSEUDO_PACKAGES:
                    continue
                if any(c.isspace() or c == "/" or ord(c) < 0x20 or ord(c) == 0x7F for c in header.name):
                    problems.add(f"package {key}: name {header.name!r} contains whitespace, '/' or control "
                                 "characters; skipped")
                    continue
                if not header.version:
                    problems.add(f"package {key} ({header.name}): header has no VERSION tag; skipped")
                    continue
                found.append((key, package_from_header(header, path, ctx.os)))
        except DatabaseError as exc:
            problems.add(str(exc))
        if fmt == "bdb":
            # Hash order is arbitrary; rpm's instance numbers follow installation order.
            found.sort(key=lambda kp: kp[0])
        return [p for _, p in found]


CATALOGERS = [RpmCataloger()]
