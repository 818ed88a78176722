"""Strategies for the batch API group."""
