"""Secret detection in image files and configuration."""

from propolis.scanner.secrets.scanner import (
    SecretFinding,
    SecretRule,
    load_rules,
    scan_env,
    scan_text,
    wants,
)

__all__ = ["SecretFinding", "SecretRule", "load_rules", "scan_env", "scan_text", "wants"]
