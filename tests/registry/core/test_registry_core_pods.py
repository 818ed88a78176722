"""Pods: defaults, admission defaults, validation messages, update rules, status writes and the Table row."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.errors import APIError
from kybernetes.registry.core.pods import STRATEGY, qos_class

Obj = dict[str, Any]


def pod(**spec: Any) -> Obj:
    body: Obj = {"containers": [{"name": "web", "image": "nginx:1.25"}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"}, "spec": body}


def test_pods_are_catalogued_as_upstream() -> None:
    assert (STRATEGY.kind, STRATEGY.plural, STRATEGY.singular, STRATEGY.namespaced) == ("Pod", "pods", "pod", True)
    assert STRATEGY.short_names == ("po",)
    assert STRATEGY.categories == ("all",)
    assert set(STRATEGY.subresources) == {
        "status", "binding", "eviction", "log", "exec", "attach", "portforward", "proxy", "ephemeralcontainers",
    }
    assert [(c.name, c.type, c.priority) for c in STRATEGY.columns] == [
        ("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "string", 0),
        ("Age", "string", 0), ("IP", "string", 1), ("Node", "string", 1), ("Nominated Node", "string", 1),
        ("Readiness Gates", "string", 1),
    ]
    assert all(c.description for c in STRATEGY.columns)


def test_a_minimal_pod_gets_upstreams_defaults(create) -> None:
    obj, errors = create(STRATEGY, pod())
    assert errors == []
    assert obj["spec"] == {
        "containers": [
            {
                "name": "web",
                "image": "nginx:1.25",
                "imagePullPolicy": "IfNotPresent",
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "resources": {},
            }
        ],
        "enableServiceLinks": True,
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": "Always",
        "securityContext": {},
        "terminationGracePeriodSeconds": 30,
        "schedulerName": "default-scheduler",
        "serviceAccountName": "default",
        "serviceAccount": "default",
        "priority": 0,
        "preemptionPolicy": "PreemptLowerPriority",
        "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        ],
    }
    assert obj["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("registry.local:5000/team/app", "Always"),
        ("registry.local:5000/team/app:v2", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:latest@sha256:" + "a" * 64, "Always"),
        ("NotAValidReference", "IfNotPresent"),
    ],
    ids=["no-tag", "latest", "tag", "registry-port-no-tag", "registry-port-tag", "digest", "latest-and-digest", "invalid"],
)
def test_image_pull_policy_follows_the_tag(create, image: str, policy: str) -> None:
    obj, _ = create(STRATEGY, pod(containers=[{"name": "web", "image": image}]))
    assert obj["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_probes_handlers_and_downward_refs_are_defaulted(create) -> None:
    container = {
        "name": "web",
        "image": "nginx",
        "ports": [{"containerPort": 80}],
        "readinessProbe": {"httpGet": {"port": 80}},
        "lifecycle": {"preStop": {"httpGet": {"port": "http"}}},
        "env": [
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
        ],
    }
    obj, errors = create(STRATEGY, pod(containers=[container]))
    assert errors == []
    c = obj["spec"]["containers"][0]
    assert c["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert c["readinessProbe"] == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert c["lifecycle"]["preStop"]["httpGet"] == {"port": "http", "path": "/", "scheme": "HTTP"}
    assert c["env"][0]["valueFrom"]["fieldRef"] == {"fieldPath": "metadata.name", "apiVersion": "v1"}
    assert c["env"][1]["valueFrom"]["resourceFieldRef"] == {"resource": "limits.cpu", "divisor": "0"}


def test_volumes_get_their_source_defaults(create) -> None:
    volumes = [
        {"name": "scratch"},
        {"name": "host", "hostPath": {"path": "/var/log"}},
        {"name": "cfg", "configMap": {"name": "settings"}},
        {"name": "creds", "secret": {"secretName": "creds"}},
        {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},
        {"name": "cache", "emptyDir": {"sizeLimit": "0.5Gi"}},
    ]
    obj, errors = create(STRATEGY, pod(volumes=volumes))
    assert errors == []
    got = {v["name"]: v for v in obj["spec"]["volumes"]}
    assert got["scratch"] == {"name": "scratch", "emptyDir": {}}
    assert got["host"]["hostPath"] == {"path": "/var/log", "type": ""}
    assert got["cfg"]["configMap"]["defaultMode"] == 420
    assert got["creds"]["secret"]["defaultMode"] == 420
    assert got["info"]["downwardAPI"]["defaultMode"] == 420
    assert got["info"]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"] == "v1"
    assert got["token"]["projected"] == {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}], "defaultMode": 420}
    assert got["cache"]["emptyDir"] == {"sizeLimit": "512Mi"}


def test_limits_become_requests_and_quantities_are_canonical(create) -> None:
    container = {"name": "web", "image": "nginx", "resources": {"limits": {"cpu": "0.5", "memory": "1024Mi"}, "requests": {"cpu": "100m"}}}
    obj, errors = create(STRATEGY, pod(containers=[container]))
    assert errors == []
    assert obj["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "500m", "memory": "1Gi"},
        "requests": {"cpu": "100m", "memory": "1Gi"},
    }
    assert obj["status"]["qosClass"] == "Burstable"


def test_host_network_mirrors_container_ports_to_host_ports(create) -> None:
    obj, errors = create(STRATEGY, pod(hostNetwork=True, containers=[{"name": "web", "image": "nginx", "ports": [{"containerPort": 8080}]}]))
    assert errors == []
    assert obj["spec"]["containers"][0]["ports"][0]["hostPort"] == 8080


def test_existing_tolerations_are_not_duplicated(create) -> None:
    tolerations = [{"operator": "Exists"}]
    obj, _ = create(STRATEGY, pod(tolerations=tolerations))
    assert obj["spec"]["tolerations"] == [{"operator": "Exists"}]


def test_system_priority_classes_set_their_priority(create) -> None:
    obj, _ = create(STRATEGY, pod(priorityClassName="system-node-critical"))
    assert obj["spec"]["priority"] == 2000001000
    assert obj["spec"]["preemptionPolicy"] == "PreemptLowerPriority"


def test_scheduling_gates_add_the_gated_condition(create) -> None:
    obj, errors = create(STRATEGY, pod(schedulingGates=[{"name": "example.com/wait"}]))
    assert errors == []
    assert obj["status"]["conditions"] == [
        {
            "type": "PodScheduled",
            "status": "False",
            "lastProbeTime": None,
            "lastTransitionTime": None,
            "reason": "SchedulingGated",
            "message": "Scheduling is blocked due to non-empty scheduling gates",
        }
    ]


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        ([{}], "BestEffort"),
        ([{"limits": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed"),
        ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}], "Burstable"),
        ([{"limits": {"cpu": "1"}}], "Burstable"),
        ([{"limits": {"cpu": "1", "memory": "1Gi"}}, {}], "Burstable"),
        ([{"requests": {"nvidia.com/gpu": "1"}}], "BestEffort"),
    ],
    ids=["nothing", "limits-only", "requests-below-limits", "cpu-only", "one-container-unbounded", "extended-only"],
)
def test_qos_class_is_computed_as_upstream(resources: list[Obj], qos: str) -> None:
    spec = {"containers": [{"name": f"c{i}", "image": "x", "resources": r} for i, r in enumerate(resources)]}
    STRATEGY.default({"spec": spec})
    assert qos_class(spec) == qos


BAD_PODS = [
    (
        "no-containers",
        {"containers": []},
        ["spec.containers: Required value"],
    ),
    (
        "duplicate-and-missing-image",
        {"containers": [{"name": "web", "image": "nginx"}, {"name": "web"}]},
        ["spec.containers[1].image: Required value", 'spec.containers[1].name: Duplicate value: "web"'],
    ),
    (
        "bad-container-name",
        {"containers": [{"name": "Web_1", "image": "nginx"}]},
        [
            'spec.containers[0].name: Invalid value: "Web_1": a lowercase RFC 1123 label must consist of lower case '
            "alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  "
            "or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        ],
    ),
    (
        "ports",
        {"containers": [{"name": "web", "image": "nginx", "ports": [
            {"containerPort": 0},
            {"containerPort": 70000, "name": "http", "protocol": "FOO"},
            {"containerPort": 81, "name": "http"},
            {"containerPort": 82, "name": "Bad Name"},
        ]}]},
        [
            "spec.containers[0].ports[0].containerPort: Required value",
            "spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            'spec.containers[0].ports[1].protocol: Unsupported value: "FOO": supported values: "SCTP", "TCP", "UDP"',
            'spec.containers[0].ports[2].name: Duplicate value: "http"',
            'spec.containers[0].ports[3].name: Invalid value: "Bad Name": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
        ],
    ),
    (
        "env",
        {"containers": [{"name": "web", "image": "nginx", "env": [
            {"value": "x"},
            {"name": "A=B"},
            {"name": "C", "valueFrom": {}},
            {"name": "D", "value": "v", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "E", "valueFrom": {"fieldRef": {"fieldPath": "spec.restartPolicy"}}},
        ]}]},
        [
            "spec.containers[0].env[0].name: Required value",
            "spec.containers[0].env[1].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
            'spec.containers[0].env[2].valueFrom: Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`',
            'spec.containers[0].env[3].valueFrom: Invalid value: "": may not be specified when `value` is not empty',
            'spec.containers[0].env[4].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.restartPolicy": supported values: '
            '"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", '
            '"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"',
        ],
    ),
    (
        "volumes-and-mounts",
        {
            "containers": [{"name": "web", "image": "nginx", "volumeMounts": [
                {"name": "data", "mountPath": "/data"},
                {"name": "cfg", "mountPath": "/data"},
            ]}],
            "volumes": [
                {"name": "cfg", "configMap": {"name": "c"}},
                {"name": "cfg", "secret": {"secretName": "s"}},
                {"name": "two", "emptyDir": {}, "hostPath": {"path": "/x"}},
                {"name": "nosecret", "secret": {}},
            ],
        },
        [
            'spec.volumes[1].name: Duplicate value: "cfg"',
            "spec.volumes[2].hostPath: Forbidden: may not specify more than 1 volume type",
            "spec.volumes[3].secret.secretName: Required value",
            'spec.containers[0].volumeMounts[0].name: Not found: "data"',
            'spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/data": must be unique',
        ],
    ),
    (
        "resources",
        {"containers": [{"name": "web", "image": "nginx", "resources": {
            "limits": {"cpu": "1", "gpu": "1"},
            "requests": {"cpu": "2", "example.com/dongle": "1"},
        }}]},
        [
            'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource type or fully qualified',
            'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource for containers',
            'spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1',
            "spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources",
            # The gpu limit was copied into requests by defaulting, so it is reported there too.
            'spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard resource type or fully qualified',
            'spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard resource for containers',
        ],
    ),
    (
        "probes",
        {"containers": [{"name": "web", "image": "nginx",
                         "livenessProbe": {"periodSeconds": -1, "successThreshold": 2},
                         "readinessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}}]},
        [
            "spec.containers[0].livenessProbe: Required value: must specify a handler type",
            "spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0",
            "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
            "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
        ],
    ),
    (
        "policies-and-node-selector",
        {"restartPolicy": "Sometimes", "dnsPolicy": "Nearest", "nodeSelector": {"disk": "fast ssd"}},
        [
            'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
            'spec.dnsPolicy: Unsupported value: "Nearest": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"',
            "spec.nodeSelector: Invalid value: \"fast ssd\": a valid label must be an empty string or consist of alphanumeric "
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
            "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ],
    ),
    (
        "init-container-probe",
        {"initContainers": [{"name": "setup", "image": "busybox", "readinessProbe": {"exec": {"command": ["true"]}}}]},
        ["spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"],
    ),
    (
        "tolerations",
        {"tolerations": [{"key": "a", "operator": "Exists", "value": "x"}, {"operator": "Equal", "value": "y"}]},
        [
            'spec.tolerations[0].operator: Invalid value: "x": value must be empty when `operator` is \'Exists\'',
            'spec.tolerations[1].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys"',
        ],
    ),
    (
        "image-whitespace",
        {"containers": [{"name": "web", "image": " nginx"}]},
        ['spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace'],
    ),
    (
        "ephemeral-on-create",
        {"ephemeralContainers": [{"name": "debug", "image": "busybox"}]},
        ["spec.ephemeralContainers: Forbidden: cannot be set on create"],
    ),
]


@pytest.mark.parametrize(("spec", "expected"), [case[1:] for case in BAD_PODS], ids=[case[0] for case in BAD_PODS])
def test_bad_pods_report_every_error_with_upstreams_path_and_message(create, spec: Obj, expected: list[str]) -> None:
    _, errors = create(STRATEGY, pod(**spec))
    assert errors == expected


def test_an_unparsable_quantity_is_a_bad_request(create) -> None:
    with pytest.raises(APIError) as info:
        create(STRATEGY, pod(containers=[{"name": "web", "image": "nginx", "resources": {"limits": {"cpu": "lots"}}}]))
    assert info.value.code == 400
    assert info.value.message == (
        'Pod in version "v1" cannot be handled as a Pod: quantities must match the regular expression '
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


@pytest.fixture
def stored(create) -> Obj:
    obj, errors = create(STRATEGY, pod(activeDeadlineSeconds=100))
    assert errors == []
    obj["metadata"].update({"uid": "u1", "resourceVersion": "5", "creationTimestamp": "2024-05-01T11:00:00Z"})
    obj["status"]["phase"] = "Running"
    return obj


def test_an_update_may_change_images_and_shorten_the_deadline(update, stored: Obj) -> None:
    new = copy.deepcopy(stored)
    new["spec"]["containers"][0]["image"] = "nginx:1.26"
    new["spec"]["activeDeadlineSeconds"] = 50
    new["spec"]["tolerations"].append({"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"})
    new["status"] = {"phase": "Failed"}
    result, errors = update(STRATEGY, new, stored)
    assert errors == []
    assert result["status"]["phase"] == "Running"


def test_an_update_of_other_fields_is_forbidden_with_upstreams_text(update, stored: Obj) -> None:
    new = copy.deepcopy(stored)
    new["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
    _, errors = update(STRATEGY, new, stored)
    assert len(errors) == 1
    first_line, *diff = errors[0].split("\n")
    assert first_line == (
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
        "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
    )
    assert diff == ['- spec.containers[0].ports: <unset>', '+ spec.containers[0].ports: [{"containerPort":80,"protocol":"TCP"}]']


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: s["containers"].append({"name": "b", "image": "busybox"}), ["spec.containers: Forbidden: pod updates may not add or remove containers"]),
        (lambda s: s.update(activeDeadlineSeconds=200), ["spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value"]),
        (lambda s: s.pop("activeDeadlineSeconds"), ["spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer to nil value"]),
        (lambda s: s["tolerations"].pop(), ["spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"]),
        (lambda s: s.update(schedulingGates=[{"name": "late"}]), ["spec.schedulingGates[0].name: Forbidden: only deletion is allowed, but found new scheduling gate 'late'"]),
    ],
    ids=["add-container", "longer-deadline", "drop-deadline", "remove-toleration", "add-gate"],
)
def test_restricted_pod_updates_report_upstreams_errors(update, stored: Obj, change, expected: list[str]) -> None:
    new = copy.deepcopy(stored)
    change(new["spec"])
    _, errors = update(STRATEGY, new, stored)
    assert errors == expected


def test_a_status_write_keeps_spec_and_backfills_the_qos_class(status_update, stored: Obj) -> None:
    new = copy.deepcopy(stored)
    new["spec"]["nodeName"] = "elsewhere"
    new["status"] = {"phase": "Running", "podIP": "10.244.0.5"}
    result, errors = status_update(STRATEGY, new, stored)
    assert errors == []
    assert "nodeName" not in result["spec"]
    assert result["status"] == {"phase": "Running", "podIP": "10.244.0.5", "qosClass": "BestEffort", "podIPs": [{"ip": "10.244.0.5"}]}


def test_a_status_write_may_not_change_the_qos_class_or_revive_a_finished_container(status_update, stored: Obj) -> None:
    old = copy.deepcopy(stored)
    old["spec"]["restartPolicy"] = "Never"
    old["status"]["containerStatuses"] = [{"name": "web", "state": {"terminated": {"exitCode": 0}}}]
    new = copy.deepcopy(old)
    new["status"]["qosClass"] = "Guaranteed"
    new["status"]["containerStatuses"] = [{"name": "web", "state": {"running": {}}}]
    new["status"]["podIPs"] = [{"ip": "nope"}]
    _, errors = status_update(STRATEGY, new, old)
    assert errors == [
        'status.qosClass: Invalid value: "Guaranteed": field is immutable',
        "status.containerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state",
        'status.podIPs[0]: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
    ]


def running(name: str = "web", restarts: int = 0, ready: bool = True, **extra: Any) -> Obj:
    status = {"name": name, "ready": ready, "restartCount": restarts, "image": "nginx", "imageID": "", "state": {"running": {"startedAt": "2024-05-01T11:00:00Z"}}}
    status.update(extra)
    return status


ROWS = [
    ("pending", {"phase": "Pending"}, {}, ("0/1", "Pending", "0")),
    ("running", {"phase": "Running", "containerStatuses": [running()]}, {}, ("1/1", "Running", "0")),
    ("creating", {"phase": "Pending", "containerStatuses": [running(ready=False, state={"waiting": {"reason": "ContainerCreating"}})]}, {}, ("0/1", "ContainerCreating", "0")),
    (
        "crash-loop",
        {"phase": "Running", "containerStatuses": [running(ready=False, restarts=3, state={"waiting": {"reason": "CrashLoopBackOff"}},
                                                          lastState={"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:55:00Z"}})]},
        {},
        ("0/1", "CrashLoopBackOff", "3 (5m ago)"),
    ),
    ("completed", {"phase": "Succeeded", "containerStatuses": [running(ready=False, state={"terminated": {"exitCode": 0, "reason": "Completed"}})]}, {}, ("0/1", "Completed", "0")),
    ("exit-code", {"phase": "Failed", "containerStatuses": [running(ready=False, state={"terminated": {"exitCode": 2}})]}, {}, ("0/1", "ExitCode:2", "0")),
    ("init-progress", {"phase": "Pending", "initContainerStatuses": [running(name="init", ready=False, state={"waiting": {"reason": "PodInitializing"}})]}, {"init": True}, ("0/1", "Init:0/1", "0")),
    ("init-error", {"phase": "Pending", "initContainerStatuses": [running(name="init", ready=False, state={"terminated": {"exitCode": 1, "reason": "Error"}})]}, {"init": True}, ("0/1", "Init:Error", "0")),
    ("terminating", {"phase": "Running", "containerStatuses": [running()]}, {"deleting": True}, ("1/1", "Terminating", "0")),
    ("node-lost", {"phase": "Running", "reason": "NodeLost"}, {"deleting": True}, ("0/1", "Unknown", "0")),
    ("gated", {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}, {}, ("0/1", "SchedulingGated", "0")),
    (
        "completed-but-one-running",
        {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
         "containerStatuses": [running(name="a", ready=False, state={"terminated": {"exitCode": 0, "reason": "Completed"}}), running(name="b")]},
        {"two": True},
        ("1/2", "NotReady", "0"),
    ),
]


@pytest.mark.parametrize(("status", "shape", "cells"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_ready_status_and_restarts_follow_upstreams_printer(clock, status: Obj, shape: Obj, cells: tuple[str, str, str]) -> None:
    obj = pod()
    obj["metadata"]["creationTimestamp"] = "2024-05-01T11:00:00Z"
    if shape.get("init"):
        obj["spec"]["initContainers"] = [{"name": "init", "image": "busybox"}]
    if shape.get("two"):
        obj["spec"]["containers"] = [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]
    if shape.get("deleting"):
        obj["metadata"]["deletionTimestamp"] = "2024-05-01T11:59:00Z"
    obj["status"] = status
    assert tuple(STRATEGY.row(obj)[1:4]) == cells


def test_a_full_row_has_a_cell_per_column(clock) -> None:
    obj = pod(nodeName="node-1", readinessGates=[{"conditionType": "example.com/ready"}])
    obj["metadata"]["creationTimestamp"] = "2024-05-01T11:57:00Z"
    obj["status"] = {
        "phase": "Running",
        "podIPs": [{"ip": "10.244.0.5"}],
        "conditions": [{"type": "example.com/ready", "status": "True"}],
        "containerStatuses": [running()],
    }
    assert STRATEGY.row(obj) == ["web", "1/1", "Running", "0", "3m", "10.244.0.5", "node-1", "<none>", "1/1"]
    assert len(STRATEGY.row(obj)) == len(STRATEGY.columns)


def test_selectable_fields_are_upstreams_whitelist(create) -> None:
    obj, _ = create(STRATEGY, pod(nodeName="node-1"))
    obj["status"].update({"podIP": "10.244.0.5", "podIPs": [{"ip": "10.244.0.5"}]})
    assert STRATEGY.selectable_fields(obj) == {
        "spec.nodeName": "node-1",
        "spec.restartPolicy": "Always",
        "spec.schedulerName": "default-scheduler",
        "spec.serviceAccountName": "default",
        "spec.hostNetwork": "false",
        "status.phase": "Pending",
        "status.podIP": "10.244.0.5",
        "status.nominatedNodeName": "",
    }
