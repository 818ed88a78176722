"""streaming: the wire protocols of logs' neighbours — exec, attach and port-forward — between clients and the node agent."""
