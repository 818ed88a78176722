"""agent: the node agent that runs pods on this machine (kubelet's role)."""
