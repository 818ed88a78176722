"""Strategies for the coordination API group."""
