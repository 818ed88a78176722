"""Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) to and from JSON-shaped objects."""

from kybernetes.apiserver.protobuf.decode import decode_request
from kybernetes.apiserver.protobuf.encode import encode_request
from kybernetes.apiserver.protobuf.wire import ProtobufDecodeError

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

__all__ = ["CONTENT_TYPE", "ProtobufDecodeError", "decode_request", "encode_request"]
