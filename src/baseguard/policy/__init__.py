"""Admission policies generated from the catalog (Kyverno, Gatekeeper, VAP, policy-controller).

The interface and registry are in :mod:`baseguard.policy.base`; each engine is one module.
"""

from baseguard.policy.base import (
    POLICY_GENERATORS,
    CompiledCatalog,
    Generated,
    PolicyGenerator,
    PolicyOptions,
    compile_catalog,
    generate,
    policy_generator,
)

__all__ = [
    "POLICY_GENERATORS",
    "CompiledCatalog",
    "Generated",
    "PolicyGenerator",
    "PolicyOptions",
    "compile_catalog",
    "generate",
    "policy_generator",
]
