"""Scheduler: assigns pending pods to nodes with a framework of small filter and score plugins (upstream's kube-scheduler)."""

from kybernetes.scheduler.scheduler import DEFAULT_SCHEDULER, Scheduler, Settings, run

__all__ = ["DEFAULT_SCHEDULER", "Scheduler", "Settings", "run"]
