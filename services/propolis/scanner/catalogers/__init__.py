"""Every cataloger: each module in this package exports ``CATALOGERS``, a list of instances."""

from __future__ import annotations

import importlib
import pkgutil

from propolis.scanner.catalogers.interface import Cataloger


def all_catalogers() -> list[Cataloger]:
    found: list[Cataloger] = []
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name in ("interface",) or mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        found.extend(getattr(module, "CATALOGERS", []))
    names = [c.name for c in found]
    if len(names) != len(set(names)):
        raise RuntimeError(f"duplicate cataloger names: {sorted(names)}")
    return found
