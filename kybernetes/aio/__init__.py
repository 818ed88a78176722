"""Async plumbing shared by every component: an injectable clock and backoff; no domain code."""
