"""How many CPUs this process may really use: the affinity mask, capped by a cgroup CPU quota.

    cpu_quota_jobs(root="/sys/fs/cgroup", proc_cgroup="/proc/self/cgroup") -> int | None
    available_cpus() -> int

A container limited to 2 CPUs still sees every core of the node in its affinity mask; its quota
sits in the cgroup: `cpu.max` ("200000 100000", or "max ...") under cgroup v2, and
`cpu.cfs_quota_us` / `cpu.cfs_period_us` (-1 for none) under v1. The cgroup's own folder is
found through /proc/self/cgroup (in a container with its own cgroup namespace that is the root)
and every ancestor up to the root is read, since a parent's quota binds its children too.
Fractional quotas round up: 1.5 CPUs run two workers, each throttled a little.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = "/sys/fs/cgroup"
PROC_CGROUP = "/proc/self/cgroup"


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, ValueError):
        return None


def _cpus(quota: float, period: float) -> float | None:
    return quota / period if quota > 0 and period > 0 else None


def _v2(folder: Path) -> float | None:
    text = _read(folder / "cpu.max")
    if not text:
        return None
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        return _cpus(float(parts[0]), float(parts[1]))
    except ValueError:
        return None


def _v1(folder: Path) -> float | None:
    quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
    try:
        return _cpus(float(quota), float(period)) if quota and period else None
    except ValueError:
        return None


def _own_paths(proc_cgroup: Path) -> tuple[str | None, str | None]:
    """This process's cgroup path under v2 ("0::/path") and under v1's cpu controller."""
    v2 = v1 = None
    for line in (_read(proc_cgroup) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            v2 = path
        elif "cpu" in controllers.split(","):
            v1 = path
    return v2, v1


def _chain(base: Path, own: str | None) -> list[Path]:
    """`base/own`, then each ancestor up to `base` (paths outside our view are skipped)."""
    folders = []
    if own and own != "/":
        folder = base / own.lstrip("/")
        while folder != base and base in folder.parents:
            folders.append(folder)
            folder = folder.parent
    folders.append(base)
    return folders


def cpu_quota(root: str | Path = CGROUP_ROOT, proc_cgroup: str | Path = PROC_CGROUP) -> float | None:
    """The tightest CPU quota (in CPUs) of this process's cgroup and its ancestors, or None."""
    root, proc = Path(root), Path(proc_cgroup)
    own_v2, own_v1 = _own_paths(proc)
    found: list[float] = []
    if (root / "cgroup.controllers").exists() or (root / "cpu.max").exists():  # v2, unified
        found += [q for f in _chain(root, own_v2) if (q := _v2(f)) is not None]
    else:
        for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
            base = root / name
            if base.is_dir():
                found += [q for f in _chain(base, own_v1) if (q := _v1(f)) is not None]
                break
    return min(found) if found else None


def cpu_quota_jobs(root: str | Path = CGROUP_ROOT, proc_cgroup: str | Path = PROC_CGROUP) -> int | None:
    """Workers the cgroup CPU quota pays for (at least 1), or None when there is no quota."""
    quota = cpu_quota(root, proc_cgroup)
    return None if quota is None else max(1, math.ceil(quota - 1e-9))


def available_cpus() -> int:
    """The affinity mask's CPUs, capped by the cgroup quota: the default worker count."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = cpu_quota_jobs()
    return max(1, min(cpus, quota) if quota else cpus)
