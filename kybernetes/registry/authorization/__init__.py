"""Strategies for the authorization.k8s.io API group."""
