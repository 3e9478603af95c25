"""The image's filesystem as layers build it up: whiteouts applied, links resolved.

Only the files catalogers want are held. Each file remembers the layer that last wrote it and
every earlier version, so a package can be attributed to the layer that introduced it.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from propolis.scanner.adapters.layers import LayerContent

MAX_LINK_HOPS = 40


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

    def _remove_under(self, root: str, keep_root: bool) -> None:
        prefix = root + "/" if root else ""
        for table in (self.files, self.symlinks, self.hardlinks):
            for p in [p for p in table if p.startswith(prefix) or (not keep_root and p == root)]:
                del table[p]

    def apply(self, layer: LayerContent, index: int) -> None:
        """Apply one layer on top: its whiteouts hide lower content, then its entries land."""
        for d in layer.opaque:
            self._remove_under(d, keep_root=True)
        for p in layer.deleted:
            self._remove_under(p, keep_root=False)
        for p, target in layer.symlinks.items():
            self.files.pop(p, None)
            self.hardlinks.pop(p, None)
            self.symlinks[p] = (target, index)
        for p, target in layer.hardlinks.items():
            self.files.pop(p, None)
            self.symlinks.pop(p, None)
            self.hardlinks[p] = (target, index)
        for p, content in layer.files.items():
            self.symlinks.pop(p, None)
            self.hardlinks.pop(p, None)
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
                cur = self.hardlinks[cur][0]
                seen += 1
                continue
            nxt = self._follow(cur)
            if nxt is None:
                return None
            cur = nxt
            seen += 1
        self.issues.append(f"{path}: more than {MAX_LINK_HOPS} symbolic links (a loop?); not read")
        return None

    def _follow(self, path: str) -> str | None:
        """Replace the longest symlinked prefix of ``path`` with its target."""
        parts = path.split("/")
        for i in range(len(parts), 0, -1):
            head = "/".join(parts[:i])
            if head in self.symlinks:
                target = self.symlinks[head][0]
                rest = "/".join(parts[i:])
                joined = posixpath.normpath(posixpath.join(target, rest)) if rest else target
                if joined.startswith("../") or joined == "..":
                    joined = joined.lstrip("./")  # links cannot leave the image root
                return joined
        return None

    def wanted_paths(self) -> set[str]:
        return set(self.files) | set(self.symlinks) | set(self.hardlinks)
