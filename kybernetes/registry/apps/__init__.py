"""Strategies for the apps API group."""
