"""Build: `kyb build`, Dockerfiles built straight into the node's image store (parser, context, cache, RUN on runc)."""
