"""The reference server's metrics, in Prometheus' text format (through ``prometheus_client``).

Two kinds, so that what an orchestrator graphs is right however many workers
and hosts there are:

- what this process answered: ``pyscep_requests_total`` by operation and
  outcome, and ``pyscep_request_seconds`` (a histogram) by operation. Under
  gunicorn, set ``PROMETHEUS_MULTIPROC_DIR`` for every worker and the admin
  application: the workers' values are then added up at each scrape;
- what the shared store holds, counted at each scrape (`ServerStore.counts`),
  the same on every host: ``pyscep_pending_requests`` (the operator's queue),
  ``pyscep_certificates_issued_total``, ``pyscep_certificates_revoked_total``,
  ``pyscep_challenges_issued_total``, ``pyscep_challenges_consumed_total``.

Label values are bounded: an operation outside SCEP's is counted as ``other``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from .config import ServeConfigError
from .stores import ServerStore

__all__ = ["OPERATIONS", "ServerMetrics"]

#: The operation label's values (a GET of the CRL is ``crl``; anything else ``other``).
OPERATIONS = frozenset({"GetCACaps", "GetCACert", "GetNextCACert", "PKIOperation", "crl", "other"})


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError:
        raise ServeConfigError(
            "metrics need prometheus_client: pip install 'pyscep-sansio[server]'"
        ) from None
    return prometheus_client


class _StoreCollector:
    """The store's counts, read at each scrape."""

    def __init__(self, store: ServerStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        counts = self.store.counts()
        yield GaugeMetricFamily(
            "pyscep_pending_requests",
            "Requests waiting for a decision or being issued (the operator's queue).",
            value=counts.pending,
        )
        for name, text, value in (
            ("certificates_issued", "Certificates issued.", counts.issued),
            ("certificates_revoked", "Certificates revoked.", counts.revoked),
            ("challenges_issued", "One-time challenges made.", counts.challenges_issued),
            ("challenges_consumed", "One-time challenges used.", counts.challenges_consumed),
        ):
            yield CounterMetricFamily(f"pyscep_{name}", text, value=value)


class ServerMetrics:
    """The metrics of one `ReferenceServer`: what it answered, and what its store holds."""

    def __init__(self, store: ServerStore) -> None:
        prometheus = _prometheus()
        self.registry = prometheus.CollectorRegistry()
        self.requests = prometheus.Counter(
            "pyscep_requests",
            "Requests answered, by operation and outcome.",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.latency = prometheus.Histogram(
            "pyscep_request_seconds",
            "Time to answer a request, by operation.",
            ["operation"],
            registry=self.registry,
        )
        self.store_collector = _StoreCollector(store)
        self.registry.register(self.store_collector)

    def observe(self, operation: str, outcome: str, seconds: float) -> None:
        """One request answered."""
        label = operation if operation in OPERATIONS else "other"
        self.requests.labels(label, outcome).inc()
        self.latency.labels(label).observe(seconds)

    def exposition(self) -> tuple[str, bytes]:
        """The Content-Type and text of a scrape (every worker's values, in multiprocess
        mode)."""
        prometheus = _prometheus()
        registry = self.registry
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = prometheus.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            registry.register(self.store_collector)
        return prometheus.CONTENT_TYPE_LATEST, prometheus.generate_latest(registry)
