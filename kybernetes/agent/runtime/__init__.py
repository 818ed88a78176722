"""runtime: the container runtime behind the agent: pod sandboxes, containers, logs and exec.

Importing this package stays cheap on purpose: the per-container shim process imports
`kybernetes.agent.runtime.logs` and pays for every module loaded on the way.
"""
