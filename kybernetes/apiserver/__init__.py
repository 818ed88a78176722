"""The Kubernetes API server: HTTP routing, generic CRUD over the store, watch, patch, auth."""
