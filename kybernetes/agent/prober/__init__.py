"""prober: liveness, readiness and startup probes of the node's containers, as upstream's pkg/kubelet/prober.

`probes` holds the actions (HTTP GET, TCP connect, exec in the container) that lifecycle hooks share,
and the `Prober` backends: `RuntimeProber` runs them for real, `SimulatedProber` answers success
for simulated nodes, whose pod IPs are on no interface. `worker` probes one container with one
probe; `results` caches each worker's verdict and reports only changes; `manager` starts and stops
the workers as pods come and go and answers the status and sync code's questions.
"""
