"""The contract every ecosystem's version scheme keeps.

A scheme parses text once into a :class:`Version` whose ``key`` is totally ordered; every
comparison after that is a comparison of keys (tuples for most schemes), so matching a package
against an advisory costs a few tuple comparisons rather than a re-parse. Native range syntaxes
(npm ranges, PEP 440 specifiers, Maven brackets, ...) parse into a :class:`Constraint` once.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from typing import Any, Protocol, runtime_checkable


class InvalidVersion(ValueError):
    """Text that the ecosystem does not accept as a version; names the ecosystem and why."""

    def __init__(self, ecosystem: str, text: object, reason: str) -> None:
        self.ecosystem = ecosystem
        self.text = text
        self.reason = reason
        super().__init__(f"invalid {ecosystem} version {text!r}: {reason}")


class InvalidRange(ValueError):
    """A range or constraint expression the ecosystem's grammar rejects."""

    def __init__(self, ecosystem: str, text: object, reason: str) -> None:
        self.ecosystem = ecosystem
        self.text = text
        self.reason = reason
        super().__init__(f"invalid {ecosystem} range {text!r}: {reason}")


class Version:
    """One parsed version: the original text plus an ordering key private to its scheme.

    Equality and hashing follow the key, so spellings a scheme treats as equal (``1.0`` and
    ``1.0.0`` in Maven, ``1.0`` and ``1.0-0`` in dpkg) are equal here too. Versions of two
    different ecosystems never compare.
    """

    __slots__ = ("ecosystem", "text", "key")

    def __init__(self, ecosystem: str, text: str, key: Any) -> None:
        self.ecosystem = ecosystem
        self.text = text
        self.key = key

    def _other(self, other: object) -> Any:
        if not isinstance(other, Version):
            return NotImplemented
        if other.ecosystem != self.ecosystem:
            raise TypeError(f"cannot compare a {self.ecosystem} version with a {other.ecosystem} version")
        return other.key

    def __lt__(self, other: object) -> bool:
        k = self._other(other)
        return NotImplemented if k is NotImplemented else bool(self.key < k)

    def __le__(self, other: object) -> bool:
        k = self._other(other)
        return NotImplemented if k is NotImplemented else bool(self.key <= k)

    def __gt__(self, other: object) -> bool:
        k = self._other(other)
        return NotImplemented if k is NotImplemented else bool(self.key > k)

    def __ge__(self, other: object) -> bool:
        k = self._other(other)
        return NotImplemented if k is NotImplemented else bool(self.key >= k)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version) or other.ecosystem != self.ecosystem:
            return False
        return bool(self.key == other.key)

    def __hash__(self) -> int:
        return hash((self.ecosystem, self.key))

    def __repr__(self) -> str:
        return f"Version({self.ecosystem!r}, {self.text!r})"

    def __str__(self) -> str:
        return self.text


@runtime_checkable
class Constraint(Protocol):
    """A parsed native range expression: answers whether a version lies inside it."""

    def contains(self, version: Version) -> bool: ...


class Scheme(ABC):
    """One ecosystem's version rules. Subclasses implement ``_parse`` and, where advisories
    use a native range syntax, ``_constraint``; parsing is cached per scheme instance."""

    ecosystem: str = ""
    #: cache size of parsed versions and constraints; both are immutable so sharing is safe
    cache_size: int = 65536

    def __init__(self) -> None:
        self._parse_cached = functools.lru_cache(maxsize=self.cache_size)(self._parse_checked)
        self._constraint_cached = functools.lru_cache(maxsize=4096)(self._constraint_checked)

    @abstractmethod
    def _parse(self, text: str) -> Version:
        """Parse ``text`` (a ``str``) or raise :class:`InvalidVersion`."""

    def _constraint(self, text: str) -> Constraint:
        raise InvalidRange(self.ecosystem, text, "this ecosystem has no native range syntax")

    def invalid(self, text: object, reason: str) -> InvalidVersion:
        return InvalidVersion(self.ecosystem, text, reason)

    def _parse_checked(self, text: str) -> Version:
        try:
            return self._parse(text)
        except InvalidVersion:
            raise
        except (ValueError, TypeError, IndexError, OverflowError, RecursionError) as exc:  # defensive: never leak
            raise self.invalid(text, f"unparsable ({type(exc).__name__})") from exc

    def _constraint_checked(self, text: str) -> Constraint:
        try:
            return self._constraint(text)
        except InvalidRange:
            raise
        except InvalidVersion as exc:
            raise InvalidRange(self.ecosystem, text, exc.reason) from exc
        except (ValueError, TypeError, IndexError, OverflowError, RecursionError) as exc:
            raise InvalidRange(self.ecosystem, text, f"unparsable ({type(exc).__name__})") from exc

    def parse(self, text: str | Version) -> Version:
        """Parse once (cached); a :class:`Version` of this ecosystem passes through unchanged."""
        if isinstance(text, Version):
            if text.ecosystem != self.ecosystem:
                raise self.invalid(text.text, f"is a {text.ecosystem} version")
            return text
        if not isinstance(text, str):
            raise self.invalid(text, f"expected str, got {type(text).__name__}")
        return self._parse_cached(text)

    def compare(self, a: str | Version, b: str | Version) -> int:
        """-1, 0 or 1 as ``a`` sorts before, equal to or after ``b``."""
        ka = self.parse(a).key
        kb = self.parse(b).key
        return -1 if ka < kb else (1 if kb < ka else 0)

    def constraint(self, text: str) -> Constraint:
        """Parse a native range expression (cached), raising :class:`InvalidRange`."""
        if not isinstance(text, str):
            raise InvalidRange(self.ecosystem, text, f"expected str, got {type(text).__name__}")
        return self._constraint_cached(text)

    def satisfies(self, version: str | Version, constraint: str | Constraint) -> bool:
        """Whether ``version`` lies inside the native range ``constraint``."""
        c = self.constraint(constraint) if isinstance(constraint, str) else constraint
        return c.contains(self.parse(version))
