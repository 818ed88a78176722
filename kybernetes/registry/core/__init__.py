"""Strategies for the core API group."""
