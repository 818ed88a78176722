"""exec, logs and port-forward with the kubectl versions between the ones the other streaming tests use.

1.28 and 1.29 speak SPDY (1.29 offering v5 first); 1.30 moved exec to WebSocket v5 and 1.31
tunnels port-forward's SPDY inside a WebSocket: each takes a different path through the agent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Kubectl
from tests.e2e.conftest import EXAMPLE_IMAGE, Cluster, wait_for
from tests.e2e.streamingkit import fetch, port_forward


@pytest.mark.parametrize("version", ["1.28", "1.29", "1.30", "1.31"])
def test_exec_logs_and_port_forward(cluster: Cluster, tmp_path: Path, version: str) -> None:
    kubectl: Kubectl = cluster.kubectl(version, tmp_path)
    kubectl("run", "web", f"--image={EXAMPLE_IMAGE}", "--", "httpd", "-f", "-v", "-p", "8080", "-h", "/www")
    wait_for(lambda: json.loads(kubectl("get", "pod", "web", "-o", "json").stdout)["status"].get("phase") == "Running",
             30, "pod web Running")
    failed = kubectl("exec", "web", "--", "sh", "-c", "echo out; echo err >&2; exit 4", check=False)
    assert (failed.returncode, failed.stdout, failed.stderr.strip()) == (4, "out\n", "err\ncommand terminated with exit code 4")
    assert kubectl("exec", "-i", "web", "--", "cat", input="from stdin\n").stdout == "from stdin\n"
    with port_forward(kubectl, "pod/web", 8080) as (local, _):
        assert "Hello from an image built by" in fetch(local)
    assert "response:200" in kubectl("logs", "web", "--tail=5").stdout
