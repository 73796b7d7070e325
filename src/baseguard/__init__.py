"""baseguard: a governed catalog of hardened container base images."""

__version__ = "0.1.0"
