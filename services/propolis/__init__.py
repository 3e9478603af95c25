"""Propolis: container security across the whole lifecycle.

One distribution, one subpackage per service (``propolis.policy``, ``propolis.scanner``, ...)
plus ``propolis.kernel``, the service kernel every service is built on.
"""

__version__ = "0.1.0"
