"""The SCEP message layer: every pkiMessage, CertRep and CA payload, built and parsed."""

from __future__ import annotations

from .attributes import ScepAttributes, decode_attributes, encode_attributes

__all__ = ["ScepAttributes", "decode_attributes", "encode_attributes"]
