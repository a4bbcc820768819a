"""Prometheus metrics of the daemon, served at /metrics by `service.http` (`[metrics] port`)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

TASKS_FINISHED = Counter("streamdrop_tasks_finished_total",
                         "Tasks that reached a final state", ["target", "state"])
TASK_SECONDS = Histogram("streamdrop_task_seconds",
                         "Seconds from the file being found to its task's final state",
                         ["target", "state"],
                         buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400))
UPLOADED_BYTES = Counter("streamdrop_uploaded_bytes_total", "Bytes uploaded to Stream",
                         ["target"])


def task_finished(target: str, state: str, seconds: float) -> None:
    TASKS_FINISHED.labels(target, state).inc()
    TASK_SECONDS.labels(target, state).observe(max(seconds, 0.0))


def uploaded(target: str, size: int) -> None:
    UPLOADED_BYTES.labels(target).inc(size)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus's text format, and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST
