"""Strategies for the storage API group."""
