"""The shared pod-template pieces: template defaults, template validation and the CONTAINERS/IMAGES cells."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.api.errors import APIError
from kybernetes.api.quantity import QuantityError
from kybernetes.registry.core.podtemplate import (
    decoding,
    default_pod_template,
    pod_containers_images,
    validate_pod_template,
)

Obj = dict[str, Any]


def template(labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    body: Obj = {"containers": [{"name": "web", "image": "nginx"}, {"name": "sidecar", "image": "busybox:1.36"}]}
    body.update(spec)
    return {"metadata": {"labels": labels if labels is not None else {"app": "web"}}, "spec": body}


def test_templates_get_pod_spec_defaults_but_not_pod_only_ones() -> None:
    obj = template(containers=[{"name": "web", "image": "nginx", "resources": {"limits": {"cpu": "1"}}}])
    default_pod_template(obj)
    assert obj["metadata"] == {"labels": {"app": "web"}, "creationTimestamp": None}
    spec = obj["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert "enableServiceLinks" not in spec
    assert "serviceAccountName" not in spec
    assert "tolerations" not in spec
    # Requests are only copied from limits in Pods, not in templates.
    assert spec["containers"][0]["resources"] == {"limits": {"cpu": "1"}}


def test_a_template_without_metadata_gets_a_null_creation_timestamp() -> None:
    obj: Obj = {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}
    default_pod_template(obj)
    assert obj["metadata"] == {"creationTimestamp": None}


@pytest.mark.parametrize(
    "selector",
    [{"matchLabels": {"app": "api"}}, {"matchExpressions": [{"key": "app", "operator": "In", "values": ["api"]}]}, {"app": "api"}],
    ids=["label-selector", "expressions", "plain-map"],
)
def test_a_selector_that_does_not_match_is_reported_at_the_template_labels(selector: Obj) -> None:
    obj = template()
    default_pod_template(obj)
    errors = [str(e) for e in validate_pod_template(obj, "spec.template", selector=selector)]
    assert errors == ['spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`']


@pytest.mark.parametrize("selector", [None, {}, {"matchLabels": {"app": "web"}}, {"app": "web"}], ids=["none", "empty", "matching", "matching-map"])
def test_matching_or_empty_selectors_pass(selector: Obj | None) -> None:
    obj = template()
    default_pod_template(obj)
    assert validate_pod_template(obj, "spec.template", selector=selector) == []


def test_template_labels_and_pod_spec_errors_use_the_template_paths() -> None:
    obj = template(labels={"bad key!": "x"}, containers=[{"name": "web"}], ephemeralContainers=[{"name": "d", "image": "busybox"}])
    default_pod_template(obj)
    errors = [str(e) for e in validate_pod_template(obj, "spec.template", selector=None)]
    assert errors[0].startswith('spec.template.labels: Invalid value: "bad key!": name part must consist of')
    assert "spec.template.spec.containers[0].image: Required value" in errors
    assert errors[-1] == "spec.template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template"


def test_a_missing_template_is_required() -> None:
    assert [str(e) for e in validate_pod_template(None, "spec.template", selector=None)] == ["spec.template: Required value"]


def test_containers_and_images_are_joined_for_wide_output() -> None:
    assert pod_containers_images(template()) == ("web,sidecar", "nginx,busybox:1.36")
    assert pod_containers_images(None) == ("", "")


def test_decoding_turns_a_bad_quantity_into_a_400_for_the_kind() -> None:
    with pytest.raises(APIError) as info:
        with decoding("Deployment", "apps/v1"):
            raise QuantityError("unable to parse quantity's suffix")
    assert info.value.code == 400
    assert info.value.message == "Deployment in version \"apps/v1\" cannot be handled as a Deployment: unable to parse quantity's suffix"
