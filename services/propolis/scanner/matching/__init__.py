"""Vulnerability matching: catalogued packages × the advisory index → :class:`Finding` records.

``Matcher(path_or_vulndb).match(catalogue)`` is the entry point; see :mod:`.matcher` for the rules
(source packages per distro release, OSV ranges per ecosystem, alias merging, unverifiable versions).
"""

from propolis.scanner.matching.index import MatchIndex
from propolis.scanner.matching.matcher import OS_ECOSYSTEMS, Matcher, MatchResult, MatchStats, distro_release

__all__ = ["OS_ECOSYSTEMS", "MatchIndex", "MatchResult", "MatchStats", "Matcher", "distro_release"]
