"""`kubectl attach` and `kubectl run -i` through the API server to the node agent."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import Kubectl
from tests.e2e.streamingkit import IMAGE, argv, stop, wait_phase, wait_running


def test_attach_streams_the_main_process_output_from_now_on(e2e_kubectl: Kubectl) -> None:
    e2e_kubectl("run", "ticker", f"--image={IMAGE}", "--", "sh", "-c",
                "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done")
    wait_running(e2e_kubectl, "ticker")
    proc = subprocess.Popen(argv(e2e_kubectl, "attach", "ticker"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().decode() for _ in range(3)]
    finally:
        stop(proc)
    numbers = [int(m.group(1)) for m in (re.fullmatch(r"tick (\d+)\n", line) for line in lines) if m]
    assert len(numbers) == 3 and numbers == list(range(numbers[0], numbers[0] + 3)), lines


def test_attach_ends_when_the_container_does(e2e_kubectl: Kubectl) -> None:
    e2e_kubectl("run", "brief", f"--image={IMAGE}", "--restart=Never", "--", "sh", "-c",
                "sleep 2; echo last words; echo on stderr >&2")
    wait_running(e2e_kubectl, "brief")
    result = e2e_kubectl("attach", "brief", check=False)
    assert "last words\n" in result.stdout
    assert "on stderr" in result.stderr
    wait_phase(e2e_kubectl, "brief", "Succeeded")


def test_run_with_stdin_attaches_stdin(e2e_kubectl: Kubectl) -> None:
    result = e2e_kubectl("run", "reader", "-i", f"--image={IMAGE}", "--restart=Never", "--",
                         "sh", "-c", "read line; echo got: $line", input="hello over attach\n", timeout=120)
    assert "got: hello over attach" in result.stdout


def test_attach_to_a_pod_that_is_gone_or_done_fails_clearly(e2e_kubectl132: Kubectl) -> None:
    e2e_kubectl132("run", "finished", f"--image={IMAGE}", "--restart=Never", "--", "true")
    wait_phase(e2e_kubectl132, "finished", "Succeeded")
    result = e2e_kubectl132("attach", "finished", check=False)
    assert result.returncode != 0
    assert "cannot attach a container in a completed pod; current phase is Succeeded" in result.stderr
