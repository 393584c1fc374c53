"""Replicas into whole instances: providers rent instances, not GPUs.

A replica of g GPUs on an instance of n GPUs: when g <= n, floor(n / g) replicas share one instance;
when g > n, one replica spans ceil(g / n) instances. Either way the bill is instances x n x price.
"""

from __future__ import annotations


def packing(gpus_per_replica: int, gpus_per_instance: int) -> tuple[int, int]:
    """(instances per replica, replicas per instance); one of the two is 1."""
    if gpus_per_replica <= gpus_per_instance:
        return 1, gpus_per_instance // gpus_per_replica
    return -(-gpus_per_replica // gpus_per_instance), 1


def instances_for(replicas: int, instances_per_replica: int, replicas_per_instance: int) -> int:
    """The fewest whole instances that hold ``replicas``."""
    return -(-replicas * instances_per_replica // replicas_per_instance)
