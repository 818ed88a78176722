"""Strategies for the discovery API group."""
