"""Strategies for the networking API group."""
