"""Inventory sources, registered by name; adding one is a module and a line here."""

from __future__ import annotations

from baseguard.inventory.sources.base import InventorySource
from baseguard.inventory.sources.compose import ComposeSource
from baseguard.inventory.sources.dockerfile import DockerfileSource
from baseguard.inventory.sources.kubernetes import KubernetesSource

FILE_SOURCES: dict[str, type[InventorySource]] = {
    "dockerfile": DockerfileSource,
    "compose": ComposeSource,
    "kubernetes": KubernetesSource,
}
