"""Inventory: every image reference an estate uses, from files, registries and clusters."""
