"""Generator of kybernetes/apiserver/protobuf/messages.py from the descriptors embedded in kubectl.

kubectl is built with gogo-protobuf, which registers every ``generated.proto`` as a gzipped
FileDescriptorProto inside the binary. Those descriptors carry the field numbers, the types and the
gogoproto options; ``nullable=false`` says the Go field is not a pointer, which decides how the
decoder treats zero values. What the descriptors cannot tell (JSON ``omitempty``, inlined structs,
renamed fields) is listed below by hand.

Regenerate (loopback-free, reads local binaries only):

    cd /work/main && PYTHONPATH=. .venv/bin/python tests/apiserver/protobuf/gen_messages.py
"""

from __future__ import annotations

import re
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from kybernetes.apiserver.protobuf.wire import VARINT, iter_fields

ROOT = Path(__file__).resolve().parents[3]
OUTPUT = ROOT / "kybernetes" / "apiserver" / "protobuf" / "messages.py"
# Newest first: a field number present in any of them is tabled (upstream never reuses numbers).
BINARIES = [f"/usr/lib/google-cloud-sdk/bin/kubectl.1.{minor}" for minor in (33, 32)]

# apiVersion → (proto package, kinds). Kinds kubectl's generators send plus their close relatives.
KINDS: dict[str, tuple[str, list[str]]] = {
    "v1": ("k8s.io.api.core.v1", ["ConfigMap", "Namespace", "Pod", "PodTemplate", "ReplicationController",
                                  "ResourceQuota", "Secret", "Service", "ServiceAccount"]),
    "apps/v1": ("k8s.io.api.apps.v1", ["DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"]),
    "batch/v1": ("k8s.io.api.batch.v1", ["CronJob", "Job"]),
    "networking.k8s.io/v1": ("k8s.io.api.networking.v1", ["Ingress"]),
    "autoscaling/v1": ("k8s.io.api.autoscaling.v1", ["HorizontalPodAutoscaler", "Scale"]),
    "autoscaling/v2": ("k8s.io.api.autoscaling.v2", ["HorizontalPodAutoscaler"]),
    "policy/v1": ("k8s.io.api.policy.v1", ["Eviction", "PodDisruptionBudget"]),
    "scheduling.k8s.io/v1": ("k8s.io.api.scheduling.v1", ["PriorityClass"]),
    "rbac.authorization.k8s.io/v1": ("k8s.io.api.rbac.v1", ["ClusterRole", "ClusterRoleBinding", "Role",
                                                            "RoleBinding"]),
    "authorization.k8s.io/v1": ("k8s.io.api.authorization.v1", [
        "LocalSubjectAccessReview", "SelfSubjectAccessReview", "SelfSubjectRulesReview", "SubjectAccessReview"]),
    "authentication.k8s.io/v1": ("k8s.io.api.authentication.v1", ["SelfSubjectReview", "TokenRequest",
                                                                  "TokenReview"]),
}

# Types the decoder converts itself (Go types with their own protobuf and JSON marshalling).
LEAVES = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time": "meta.v1.Time",
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": "meta.v1.MicroTime",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Duration": "meta.v1.Duration",
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": "meta.v1.FieldsV1",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": "runtime.RawExtension",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "intstr.IntOrString",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "resource.Quantity",
    # Go `type ExtraValue []string`: a message with `repeated string items = 1` on the wire, a list in JSON.
    "k8s.io.api.authentication.v1.ExtraValue": "[]string",
    "k8s.io.api.authorization.v1.ExtraValue": "[]string",
}

# Go structs embedded with `json:",inline"` that protobuf nests as a field: merged into the parent.
INLINE = {
    ("core.v1.ConfigMapEnvSource", "localObjectReference"),
    ("core.v1.ConfigMapKeySelector", "localObjectReference"),
    ("core.v1.ConfigMapProjection", "localObjectReference"),
    ("core.v1.ConfigMapVolumeSource", "localObjectReference"),
    ("core.v1.EphemeralContainer", "ephemeralContainerCommon"),
    ("core.v1.PersistentVolumeSpec", "persistentVolumeSource"),
    ("core.v1.Probe", "handler"),
    ("core.v1.SecretEnvSource", "localObjectReference"),
    ("core.v1.SecretKeySelector", "localObjectReference"),
    ("core.v1.SecretProjection", "localObjectReference"),
    ("core.v1.Volume", "volumeSource"),
    ("networking.v1.IngressRule", "ingressRuleValue"),
}

# Protobuf names that differ from the JSON names.
RENAME = {("authentication.v1.BoundObjectReference", "uID"): "uid"}

# Non-pointer numbers/bools whose Go JSON tag has no omitempty: a zero is written by the Go JSON
# encoder and is meaningful (e.g. a port, a priority value of 0), so the decoder keeps it. All
# other non-pointer zeros come from omitempty fields and are dropped.
KEEP = {
    ("apps.v1.DaemonSetStatus", "currentNumberScheduled"),
    ("apps.v1.DaemonSetStatus", "desiredNumberScheduled"),
    ("apps.v1.DaemonSetStatus", "numberMisscheduled"),
    ("apps.v1.DaemonSetStatus", "numberReady"),
    ("apps.v1.ReplicaSetStatus", "replicas"),
    ("apps.v1.StatefulSetStatus", "replicas"),
    ("authorization.v1.SubjectAccessReviewStatus", "allowed"),
    ("authorization.v1.SubjectRulesReviewStatus", "incomplete"),
    ("autoscaling.v1.HorizontalPodAutoscalerSpec", "maxReplicas"),
    ("autoscaling.v1.HorizontalPodAutoscalerStatus", "currentReplicas"),
    ("autoscaling.v1.HorizontalPodAutoscalerStatus", "desiredReplicas"),
    ("autoscaling.v1.ScaleStatus", "replicas"),
    ("autoscaling.v2.HPAScalingPolicy", "periodSeconds"),
    ("autoscaling.v2.HPAScalingPolicy", "value"),
    ("autoscaling.v2.HorizontalPodAutoscalerSpec", "maxReplicas"),
    ("autoscaling.v2.HorizontalPodAutoscalerStatus", "desiredReplicas"),
    ("core.v1.ContainerPort", "containerPort"),
    ("core.v1.ContainerStatus", "ready"),
    ("core.v1.GRPCAction", "port"),
    ("core.v1.ISCSIVolumeSource", "lun"),
    ("core.v1.LinuxContainerUser", "gid"),
    ("core.v1.LinuxContainerUser", "uid"),
    ("core.v1.ContainerStatus", "restartCount"),
    ("core.v1.ContainerStateTerminated", "exitCode"),
    ("core.v1.PortStatus", "port"),
    ("core.v1.PreferredSchedulingTerm", "weight"),
    ("core.v1.ReplicationControllerStatus", "replicas"),
    ("core.v1.ServicePort", "port"),
    ("core.v1.SleepAction", "seconds"),
    ("core.v1.TopologySpreadConstraint", "maxSkew"),
    ("core.v1.WeightedPodAffinityTerm", "weight"),
    ("networking.v1.IngressPortStatus", "port"),
    ("policy.v1.PodDisruptionBudgetStatus", "currentHealthy"),
    ("policy.v1.PodDisruptionBudgetStatus", "desiredHealthy"),
    ("policy.v1.PodDisruptionBudgetStatus", "disruptionsAllowed"),
    ("policy.v1.PodDisruptionBudgetStatus", "expectedPods"),
    ("scheduling.v1.PriorityClass", "value"),
}

SCALARS = {1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64", 7: "fixed32",
           8: "bool", 9: "string", 12: "bytes", 13: "uint32", 14: "int32", 15: "sfixed32", 16: "sfixed64",
           17: "sint32", 18: "sint64"}
_NULLABLE = 65001
_CUSTOMNAME = 65004
_PREFIXES = ("k8s.io.apimachinery.pkg.apis.", "k8s.io.apimachinery.pkg.util.", "k8s.io.apimachinery.pkg.api.",
             "k8s.io.apimachinery.pkg.", "k8s.io.api.")


@dataclass
class FieldDesc:
    """FieldDesc is what a FieldDescriptorProto (plus gogoproto options) says about one field."""

    name: str
    number: int
    repeated: bool
    type: int
    type_name: str
    nullable: bool
    go_name: str


@dataclass
class MessageDesc:
    """MessageDesc is one message (or map entry) with its fields by number."""

    name: str
    fields: dict[int, FieldDesc] = field(default_factory=dict)
    map_entry: bool = False


def short(proto_name: str) -> str:
    """Return the table name of a message: 'k8s.io.api.core.v1.Pod' → 'core.v1.Pod'."""
    proto_name = proto_name.lstrip(".")
    if proto_name in LEAVES:
        return LEAVES[proto_name]
    for prefix in _PREFIXES:
        if proto_name.startswith(prefix):
            return proto_name[len(prefix):]
    return proto_name


def _options(raw: bytes) -> tuple[bool, str]:
    nullable, go_name = True, ""
    for number, wire_type, value in iter_fields(raw):
        if number == _NULLABLE and wire_type == VARINT:
            nullable = bool(value)
        elif number == _CUSTOMNAME and isinstance(value, bytes):
            go_name = value.decode()
    return nullable, go_name


def _message(raw: bytes, scope: str, out: dict[str, MessageDesc]) -> None:
    msg = MessageDesc(name="")
    nested: list[bytes] = []
    for number, _, value in iter_fields(raw):
        assert isinstance(value, (bytes, int))
        if number == 1 and isinstance(value, bytes):
            msg.name = f"{scope}.{value.decode()}"
        elif number == 2 and isinstance(value, bytes):
            f = {n: v for n, _, v in iter_fields(value)}
            nullable, go_name = _options(f.get(8, b""))  # type: ignore[arg-type]
            desc = FieldDesc(name=f[1].decode(), number=f[3], repeated=f.get(4) == 3, type=f[5],  # type: ignore
                             type_name=f.get(6, b"").decode(), nullable=nullable, go_name=go_name)  # type: ignore
            msg.fields[desc.number] = desc
        elif number == 3 and isinstance(value, bytes):
            nested.append(value)
        elif number == 7 and isinstance(value, bytes):
            msg.map_entry = any(n == 7 and v == 1 for n, _, v in iter_fields(value))
    existing = out.setdefault(msg.name, MessageDesc(msg.name, map_entry=msg.map_entry))
    for number, desc in msg.fields.items():
        existing.fields.setdefault(number, desc)
    for raw_nested in nested:
        _message(raw_nested, msg.name, out)


def load(binaries: list[str]) -> dict[str, MessageDesc]:
    """Collect every k8s.io message descriptor from the binaries (first binary wins per field)."""
    out: dict[str, MessageDesc] = {}
    for path in binaries:
        data = Path(path).read_bytes()
        for match in re.finditer(rb"\x1f\x8b\x08\x00\x00[\x00\x09]", data):
            try:
                text = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[match.start():match.start() + (1 << 21)])
            except zlib.error:
                continue
            if b"k8s.io" not in text[:200]:
                continue
            fields = list(iter_fields(text))
            package = next((v.decode() for n, _, v in fields if n == 2 and isinstance(v, bytes)), "")
            for number, _, value in fields:
                if number == 4 and isinstance(value, bytes):
                    _message(value, package, out)
    return out


def _type_of(f: FieldDesc, messages: dict[str, MessageDesc]) -> tuple[str, list[str]]:
    """Return the table type of a field and the messages it refers to."""
    if f.type != 11:
        return SCALARS[f.type], []
    target = f.type_name.lstrip(".")
    entry = messages.get(target)
    if entry is not None and entry.map_entry:
        key, value = entry.fields[1], entry.fields[2]
        value_type, refs = _type_of(value, messages)
        return f"map<{SCALARS[key.type]},{value_type}>", refs
    if target in LEAVES:
        return LEAVES[target], []
    return short(target), [target]


def _zero_mode(owner: str, f: FieldDesc, json_name: str) -> str:
    if (owner, f.name) in INLINE:
        return "INLINE"
    if f.repeated:
        return ""
    if f.nullable:
        return "PTR"
    if (owner, json_name) in KEEP:
        return "KEEP"
    return ""


def render(messages: dict[str, MessageDesc]) -> str:
    """Render messages.py for the closure of KINDS."""
    roots = [(api_version, kind, f"{package}.{kind}")
             for api_version, (package, kinds) in KINDS.items() for kind in kinds]
    order: list[str] = []
    todo = [proto for _, _, proto in roots]
    seen: set[str] = set()
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.add(name)
        order.append(name)
        for f in sorted(messages[name].fields.values(), key=lambda d: d.number):
            todo.extend(_type_of(f, messages)[1])
    used_keep = set()
    lines = [
        '"""Protobuf field tables of the API kinds kubectl may send, as data: message → number → Field."""',
        "",
        "# Generated by tests/apiserver/protobuf/gen_messages.py from the descriptors embedded in kubectl",
        "# (upstream generated.proto); change the overrides there and regenerate rather than editing here.",
        "#",
        "# Each entry is (JSON name, type[, repeated[, zero]]). type is a scalar ('string', 'int32', ...),",
        "# 'map<K,V>', a leaf the decoder converts itself (meta.v1.Time, intstr.IntOrString,",
        "# resource.Quantity, '[]string', ...) or a message of this table. zero says what the decoder does",
        "# with a value equal to its zero (0, false, '', an empty message):",
        "#   OMIT   non-pointer Go field with json omitempty, or a struct: the protobuf encoder always writes",
        "#          it but Go's JSON would not, so a zero is dropped (generation: 0, hostPort: 0, stdin: false).",
        "#   KEEP   non-pointer number/bool without omitempty (ports, a priority value, status counters whose",
        "#          zero Go's JSON writes): a zero is kept. Marked '# no omitempty' below.",
        "#   PTR    Go pointer: written only when set, so whatever arrives is kept (replicas: 0, emptyDir: {},",
        "#          optional: false, a pointer string that is '').",
        "#   INLINE Go struct inlined in JSON but nested in protobuf: its fields are merged into the parent.",
        "# Empty strings are dropped unless PTR; empty repeated fields and maps are dropped; map values and",
        "# list elements are kept as they are (data: {k: ''}, apiGroups: ['']). The decoder also drops a",
        "# top-level status made only of zeros, which the API server resets on create (see decode.py).",
        "",
        "from __future__ import annotations",
        "",
        "from typing import NamedTuple",
        "",
        'OMIT = ""',
        'KEEP = "keep"',
        'PTR = "ptr"',
        'INLINE = "inline"',
        "",
        "",
        "class Field(NamedTuple):",
        '    """Field is one protobuf field: JSON name, type, whether repeated, and its zero-value rule."""',
        "",
        "    name: str",
        "    type: str",
        "    repeated: bool = False",
        "    zero: str = OMIT",
        "",
        "",
        "# (apiVersion, kind) → message.",
        "KINDS: dict[tuple[str, str], str] = {",
    ]
    for api_version, kind, proto in roots:
        lines.append(f"    ({api_version!r}, {kind!r}): {short(proto)!r},")
    lines += ["}", "", "_TABLE: dict[str, dict[int, tuple]] = {"]
    for name in sorted(order, key=short):
        owner = short(name)
        lines.append(f"    {owner!r}: {{")
        for f in sorted(messages[name].fields.values(), key=lambda d: d.number):
            json_name = RENAME.get((owner, f.name), f.name)
            type_name, _ = _type_of(f, messages)
            mode = _zero_mode(owner, f, json_name)
            if mode == "KEEP":
                used_keep.add((owner, json_name))
            if mode == "INLINE" and (f.nullable or f.go_name != f.type_name.rsplit(".", 1)[-1]):
                print(f"warning: {owner}.{f.name} is not an embedded struct", file=sys.stderr)
            args = [repr(json_name), repr(type_name)]
            if f.repeated and not type_name.startswith("map<"):
                args.append("True")
            if mode:
                if len(args) == 2:
                    args.append("False")
                args.append(mode)
            comment = {"KEEP": "  # no omitempty", "INLINE": '  # json:",inline"'}.get(mode, "")
            lines.append(f"        {f.number}: ({', '.join(args)}),{comment}")
        lines.append("    },")
    lines += ["}", "",
              "MESSAGES: dict[str, dict[int, Field]] = {",
              "    message: {number: Field(*entry) for number, entry in fields.items()}",
              "    for message, fields in _TABLE.items()",
              "}",
              ""]
    del lines[-1]
    lines.append("")
    missing = KEEP - used_keep
    for item in sorted(missing):
        print(f"warning: override not used: {item}", file=sys.stderr)
    return "\n".join(lines)


def main() -> int:
    """Write messages.py."""
    binaries = [b for b in BINARIES if Path(b).exists()]
    if not binaries:
        print("no kubectl binary found", file=sys.stderr)
        return 1
    OUTPUT.write_text(render(load(binaries)))
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
