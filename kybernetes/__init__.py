"""Kybernetes: Kubernetes implemented in Python, in the spirit of k3s."""

__version__ = "0.1.0"
