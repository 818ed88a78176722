"""Images: the node's image store, pulls from registries, and `docker save`/OCI archive import and export."""
