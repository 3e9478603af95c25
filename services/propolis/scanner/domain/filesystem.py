"""The image's filesystem as layers build it up: whiteouts applied, links resolved.

Only the files catalogers want are held. Each file remembers the layer that last wrote it and
every earlier version, so a package can be attributed to the layer that introduced it.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from propolis.scanner.adapters.layers import LayerContent, ModeEntry, path_key

MAX_LINK_HOPS = 40
#: Links kept in the view over all layers (about 100 bytes each; each layer adds at most
#: ``LayerLimits.max_links``), and bytes of wanted-file content kept, every version included: a
#: small image of many layers, each expanding to its 512 MiB of wanted files, must not add up.
MAX_VIEW_LINKS = 2_000_000
MAX_VIEW_BYTES = 2 * 1024**3
MAX_VIEW_ISSUES = 200


@dataclass
class FileVersion:
    layer: int
    content: bytes


@dataclass
class FileView:
    files: dict[str, FileVersion] = field(default_factory=dict)
    #: Earlier versions of each wanted path, oldest first (deleted versions included).
    history: dict[str, list[FileVersion]] = field(default_factory=dict)
    symlinks: dict[str, tuple[str, int]] = field(default_factory=dict)
    hardlinks: dict[str, tuple[str, int]] = field(default_factory=dict)
    issues: list[str] = field(default_factory=list)
    #: setuid/setgid/world-writable entries of the final view → (entry, index of the layer that wrote it).
    modes: dict[str, tuple[ModeEntry, int]] = field(default_factory=dict)
    #: Bytes of file content held (``files`` and ``history``).
    held_bytes: int = 0
    #: Hard links whose target no entry of their own layer wrote (tar hard links name an earlier entry).
    dangling: set[str] = field(default_factory=set)

    def _remove_under(self, roots: set[str], keep_root: bool) -> None:
        """Drop every path below one of ``roots`` (and the roots themselves unless ``keep_root``).

        One pass over the tables looking up each path's ancestors, not one pass per root: a layer
        of many whiteouts over a view of many links would otherwise take their product.
        """
        if not roots:
            return

        def doomed(p: str) -> bool:
            if "" in roots or (not keep_root and p in roots):
                return True
            i = p.find("/")
            while i != -1:
                if p[:i] in roots:
                    return True
                i = p.find("/", i + 1)
            return False

        for table in (self.files, self.symlinks, self.hardlinks, self.modes):
            for p in [p for p in table if doomed(p)]:
                del table[p]

    def apply(self, layer: LayerContent, index: int) -> None:
        """Apply one layer on top: its whiteouts hide lower content, then its entries land."""
        self._remove_under(set(layer.opaque), keep_root=True)
        self._remove_under(set(layer.deleted), keep_root=False)
        if self.modes and layer.written:
            # A path this layer writes again takes the new entry's mode, harmless or not.
            keys = {path_key(p): p for p in self.modes}
            for k in set(keys).intersection(memoryview(layer.written).cast("Q")):
                del self.modes[keys[k]]
        for m in layer.modes:
            self.modes[m.path] = (m, index)
        for p, target in layer.symlinks.items():
            self.files.pop(p, None)
            self.hardlinks.pop(p, None)
            if p not in self.symlinks and len(self.symlinks) + len(self.hardlinks) >= MAX_VIEW_LINKS:
                self._issue(f"more than {MAX_VIEW_LINKS} links in the image; the rest were not recorded")
                continue
            self.symlinks[p] = (target, index)
        written = set()
        if layer.hardlinks and layer.written:
            keys = {path_key(t) for t in layer.hardlinks.values()}
            written = keys.intersection(memoryview(layer.written).cast("Q"))
        for p, target in layer.hardlinks.items():
            self.files.pop(p, None)
            self.symlinks.pop(p, None)
            self.dangling.discard(p)
            if layer.written and path_key(target) not in written:
                self.dangling.add(p)
            if p not in self.hardlinks and len(self.symlinks) + len(self.hardlinks) >= MAX_VIEW_LINKS:
                self._issue(f"more than {MAX_VIEW_LINKS} links in the image; the rest were not recorded")
                continue
            self.hardlinks[p] = (target, index)
        for p, content in layer.files.items():
            self.symlinks.pop(p, None)
            self.hardlinks.pop(p, None)
            if self.held_bytes + len(content) > MAX_VIEW_BYTES:
                self.files.pop(p, None)  # an older version is not the final content: drop it too
                self._issue(f"wanted files of all layers exceed {MAX_VIEW_BYTES} bytes; the rest were not read")
                continue
            self.held_bytes += len(content)
            v = FileVersion(index, content)
            self.files[p] = v
            self.history.setdefault(p, []).append(v)

    def resolve(self, path: str) -> FileVersion | None:
        """The content at ``path`` following symlinks (also through linked directories)."""
        seen = 0
        cur = path
        while seen <= MAX_LINK_HOPS:
            if cur in self.files:
                return self.files[cur]
            if cur in self.hardlinks:
                target = self.hardlinks[cur][0]
                if cur in self.dangling and target not in self.files and target not in self.hardlinks \
                        and self._follow(target) is None:
                    # (A target that exists but no cataloger keeps is simply not read, as before.)
                    self._issue(f"{path}: hard link to {target}, which is not in its layer; not read")
                    return None
                cur = target
                seen += 1
                continue
            nxt = self._follow(cur)
            if nxt is None:
                return None
            cur = nxt
            seen += 1
        self._issue(f"{path}: more than {MAX_LINK_HOPS} symbolic links (a loop?); not read")
        return None

    def _issue(self, message: str) -> None:
        """Each problem once (a path is resolved for every cataloger that wants it), and a bounded number."""
        if message in self.issues:
            return
        if len(self.issues) < MAX_VIEW_ISSUES:
            self.issues.append(message)
        elif len(self.issues) == MAX_VIEW_ISSUES:
            self.issues.append("further problems with links and files were not listed")

    def _follow(self, path: str) -> str | None:
        """Replace the longest symlinked prefix of ``path`` with its target."""
        parts = path.split("/")
        for i in range(len(parts), 0, -1):
            head = "/".join(parts[:i])
            if head in self.symlinks:
                target = self.symlinks[head][0]
                rest = "/".join(parts[i:])
                joined = posixpath.normpath(posixpath.join(target, rest)) if rest else target
                while joined.startswith("../"):  # links cannot leave the image root: ".." there stays there
                    joined = joined[3:]
                return "." if joined == ".." else joined
        return None

    def wanted_paths(self) -> set[str]:
        return set(self.files) | set(self.symlinks) | set(self.hardlinks)
