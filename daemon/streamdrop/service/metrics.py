"""Prometheus metrics of the daemon, served on `[metrics] port` when it is set (off by default)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

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


def serve(host: str, port: int) -> None:
    """Serve /metrics in a background thread (prometheus_client's own server)."""
    start_http_server(port, addr=host)
