"""Client: the one API client and informer library every component uses to talk to the API server."""

from kybernetes.client.cache import Store
from kybernetes.client.config import Config, load_kubeconfig
from kybernetes.client.errors import (
    AlreadyExistsError,
    APIStatusError,
    ClientError,
    ConflictError,
    ForbiddenError,
    GoneError,
    InvalidError,
    NotFoundError,
    TransportError,
)
from kybernetes.client.informer import Handlers, Informer, SharedInformerFactory
from kybernetes.client.rest import Client, Request, ResourceRef, Response, Transport, WatchEvent
from kybernetes.client.workqueue import SHUTDOWN, WorkQueue

__all__ = [
    "APIStatusError",
    "AlreadyExistsError",
    "Client",
    "ClientError",
    "Config",
    "ConflictError",
    "ForbiddenError",
    "GoneError",
    "Handlers",
    "Informer",
    "InvalidError",
    "NotFoundError",
    "Request",
    "ResourceRef",
    "Response",
    "SHUTDOWN",
    "SharedInformerFactory",
    "Store",
    "Transport",
    "TransportError",
    "WatchEvent",
    "WorkQueue",
    "load_kubeconfig",
]
