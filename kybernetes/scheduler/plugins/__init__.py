"""Plugins: one module per scheduling concern, each with NAME, a pure check or score, and a factory."""
