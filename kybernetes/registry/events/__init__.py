"""Strategies for the events API group."""
