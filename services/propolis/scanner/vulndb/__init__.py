"""Vulnerability advisories: import OSV, Debian and Alpine sources into one local SQLite index.

``importers`` turn each source format into the normalised model (``model``); ``store`` builds the
index atomically and reads it read-only at scan time. Version matching lives elsewhere: the
index returns raw affected entries (range events, version lists, fixed versions, statuses).
"""

from propolis.scanner.vulndb.model import Advisory, AffectedEntry, Range, Status
from propolis.scanner.vulndb.store import SCHEMA_VERSION, DbInfo, VulnDB, VulnDBError, build

__all__ = ["SCHEMA_VERSION", "Advisory", "AffectedEntry", "DbInfo", "Range", "Status", "VulnDB", "VulnDBError",
           "build"]
