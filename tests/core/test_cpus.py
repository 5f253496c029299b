"""The default worker count honours cgroup CPU quotas (v2 cpu.max, v1 CFS), read from fake trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from maldoc.cpus import available_cpus, cpu_quota, cpu_quota_jobs


def _v2(tmp_path: Path, files: dict[str, str], own: str = "/") -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    (root).mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(f"0::{own}\n")
    return root, proc


@pytest.mark.parametrize(("cpu_max", "jobs"), [("200000 100000", 2), ("150000 100000", 2), ("50000 100000", 1),
                                               ("400000 50000", 8), ("max 100000", None)])
def test_cgroup_v2_cpu_max(tmp_path, cpu_max, jobs):
    root, proc = _v2(tmp_path, {"cpu.max": cpu_max + "\n"})
    assert cpu_quota_jobs(root, proc) == jobs


def test_cgroup_v2_takes_the_tightest_of_the_process_cgroup_and_its_ancestors(tmp_path):
    root, proc = _v2(tmp_path, {"kubepods/cpu.max": "300000 100000\n", "kubepods/pod1/cpu.max": "max 100000\n",
                                "kubepods/pod1/ctr/cpu.max": "500000 100000\n"}, own="/kubepods/pod1/ctr")
    assert cpu_quota(root, proc) == 3.0
    assert cpu_quota_jobs(root, proc) == 3


def test_cgroup_v1_cfs_quota(tmp_path):
    root = tmp_path / "cgroup"
    cpu = root / "cpu,cpuacct" / "docker" / "abc"
    cpu.mkdir(parents=True)
    (cpu / "cpu.cfs_quota_us").write_text("250000\n")
    (cpu / "cpu.cfs_period_us").write_text("100000\n")
    (root / "cpu,cpuacct" / "cpu.cfs_quota_us").write_text("-1\n")
    (root / "cpu,cpuacct" / "cpu.cfs_period_us").write_text("100000\n")
    proc = tmp_path / "proc"
    proc.write_text("12:cpu,cpuacct:/docker/abc\n11:memory:/docker/abc\n0::/\n")
    assert cpu_quota_jobs(root, proc) == 3
    (cpu / "cpu.cfs_quota_us").write_text("-1\n")
    assert cpu_quota_jobs(root, proc) is None


def test_no_cgroup_or_garbage_means_no_quota(tmp_path):
    assert cpu_quota_jobs(tmp_path / "absent", tmp_path / "absent-proc") is None
    root, proc = _v2(tmp_path, {"cpu.max": "lots of cpus\n"})
    assert cpu_quota_jobs(root, proc) is None


def test_available_cpus_is_capped_by_the_quota(tmp_path, monkeypatch):
    import os

    import maldoc.cpus as cpus

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.setattr(cpus, "cpu_quota_jobs", lambda: 2)
    assert available_cpus() == 2
    monkeypatch.setattr(cpus, "cpu_quota_jobs", lambda: None)
    assert available_cpus() == 16
    monkeypatch.setattr(cpus, "cpu_quota_jobs", lambda: 64)
    assert available_cpus() == 16
