"""The public surface of kybernetes.client is pinned: changing it is a decision, not an accident."""

import kybernetes.client


def test_exported_members() -> None:
    assert sorted(kybernetes.client.__all__) == sorted([
        "APIStatusError", "AlreadyExistsError", "Client", "ClientError", "Config", "ConflictError",
        "ForbiddenError", "GoneError", "Handlers", "Informer", "InvalidError", "NotFoundError", "Request",
        "ResourceRef", "Response", "SHUTDOWN", "SharedInformerFactory", "Store", "Transport", "TransportError",
        "WatchEvent", "WorkQueue", "load_kubeconfig",
    ])
    for name in kybernetes.client.__all__:
        assert getattr(kybernetes.client, name) is not None
