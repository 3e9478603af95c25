"""Errors the kernel raises; each carries one line that a person can act on."""


class PropolisError(Exception):
    """Base class: ``str(err)`` is one clear line, suitable for a CLI's stderr."""


class ConfigError(PropolisError):
    """Configuration that does not validate; the message names the offending key."""
