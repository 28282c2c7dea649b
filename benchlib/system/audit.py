"""The machine's noise audit: what can move a benchmark number without the code changing.

Read-only, like pyperf's ``system show``: CPU steal time (a virtual machine's host running other
guests), cgroup CPU throttling (a container's quota), the frequency governor, current and limit
frequencies, turbo/boost, SMT siblings of the usable cores, and swap activity. Each fact comes
from the kernel (``/proc``, ``/sys``); where the kernel does not expose one (many virtual
machines have no ``cpufreq``), the fact is ``None`` and the advice says so. Nothing here changes
the machine.

:func:`counters` is the cheap snapshot taken before and after every timed loop (see
:class:`benchlib.engine.cpu.CpuWindow`); :func:`audit` is the full report shown by
``benchlib env``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CPU_SYS = Path("/sys/devices/system/cpu")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _affinity() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def _cgroup_cpu_stat() -> dict[str, int]:
    """``nr_periods``, ``nr_throttled``, ``throttled_usec`` of this process's cgroup (v2 or v1), or {}."""
    from benchlib.system.env import cgroup_dirs

    for version, directory in cgroup_dirs():
        text = _read(directory / "cpu.stat")
        if not text:
            continue
        stat: dict[str, int] = {}
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if value.strip().isdigit():
                stat[key] = int(value)
        if version == 1 and "throttled_time" in stat:  # v1 counts nanoseconds
            stat["throttled_usec"] = stat["throttled_time"] // 1000
        if "nr_throttled" in stat:
            return stat
    return {}


def counters(cpus: list[int] | None = None) -> dict[str, float | int | None]:
    """Cumulative counters to difference around a timed loop: steal seconds of ``cpus`` (default:
    the affinity CPUs), cgroup throttled periods and seconds, swap bytes in and out."""
    import psutil

    cpus = cpus if cpus is not None else _affinity()
    steal = None
    try:
        per_cpu = psutil.cpu_times(percpu=True)
        steal = sum(getattr(per_cpu[i], "steal", 0.0) for i in cpus if i < len(per_cpu))
    except (OSError, AttributeError):
        pass
    stat = _cgroup_cpu_stat()
    try:
        swap = psutil.swap_memory()
        swap_io = int(swap.sin + swap.sout)
    except (OSError, RuntimeError):
        swap_io = None
    return {"steal_s": steal, "nr_throttled": stat.get("nr_throttled"),
            "throttled_s": stat["throttled_usec"] / 1e6 if "throttled_usec" in stat else None,
            "swap_io_bytes": swap_io}


def difference(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float | int | None]:
    """``after - before`` for every counter both snapshots have (``None`` where either lacks it)."""
    return {key: (after[key] - before[key]) if after.get(key) is not None and before.get(key) is not None
            else None for key in before}


def loop_warnings(delta: dict[str, Any], wall_s: float, cores: int) -> list[str]:
    """Warnings for a timed loop whose number these counters can have moved (steal, throttling, swap)."""
    warnings = []
    steal = delta.get("steal_s")
    if steal is not None and wall_s > 0 and steal > 0.01 * wall_s * cores:
        warnings.append(f"CPU steal: the hypervisor gave {steal:.3f} s of this process's CPUs to other guests "
                        f"during the {wall_s:.2f} s timed loop ({100 * steal / wall_s / cores:.1f}% of the time)")
    if delta.get("nr_throttled"):
        warnings.append(f"CPU throttling: the cgroup quota stopped this container {delta['nr_throttled']} time(s) "
                        f"({delta.get('throttled_s') or 0:.3f} s) during the timed loop")
    if delta.get("swap_io_bytes"):
        warnings.append(f"swap activity: {delta['swap_io_bytes'] / 2**20:.1f} MiB swapped during the timed loop")
    return warnings


def _per_cpu(name: str, cpus: list[int]) -> dict[int, str | None]:
    return {cpu: _read(CPU_SYS / f"cpu{cpu}" / "cpufreq" / name) for cpu in cpus}


def audit() -> dict[str, Any]:
    """Every noise source this machine exposes, with ``advice`` sentences (nothing is changed)."""
    import psutil

    cpus = _affinity()
    governors = _per_cpu("scaling_governor", cpus)
    current = {cpu: int(v) // 1000 if v and v.isdigit() else None for cpu, v in _per_cpu("scaling_cur_freq",
                                                                                         cpus).items()}
    limits = {cpu: (_read(CPU_SYS / f"cpu{cpu}" / "cpufreq" / "scaling_min_freq"),
                    _read(CPU_SYS / f"cpu{cpu}" / "cpufreq" / "scaling_max_freq")) for cpu in cpus}
    siblings = {cpu: _read(CPU_SYS / f"cpu{cpu}" / "topology" / "thread_siblings_list") for cpu in cpus}
    shared = sorted({s for s in siblings.values() if s and ("," in s or "-" in s)})
    boost = _read(CPU_SYS / "cpufreq" / "boost")
    no_turbo = _read(CPU_SYS / "intel_pstate" / "no_turbo")
    now = counters(cpus)
    swap = psutil.swap_memory()
    try:
        mhz = psutil.cpu_freq(percpu=False)
        reported_mhz = round(mhz.current) if mhz else None
    except (OSError, NotImplementedError, AttributeError):
        reported_mhz = None
    facts: dict[str, Any] = {
        "cpus": cpus,
        "governor": governors if any(governors.values()) else None,
        "frequency_mhz": current if any(current.values()) else None,
        "frequency_limits_khz": limits if any(a or b for a, b in limits.values()) else None,
        "reported_mhz": reported_mhz,
        "boost": boost if boost is not None else (None if no_turbo is None else str(1 - int(no_turbo))),
        "smt_active": _read(CPU_SYS / "smt" / "active"),
        "smt_sibling_groups": shared,
        "steal_s_since_boot": now["steal_s"],
        "cgroup_throttled": {"nr_throttled": now["nr_throttled"], "throttled_s": now["throttled_s"]},
        "swap_used_mb": round(swap.used / 2**20, 1),
    }
    facts["advice"] = advice(facts)
    return facts


def advice(facts: dict[str, Any]) -> list[str]:
    """What to do about each noise source the audit found (or that it could not check)."""
    tips = []
    governors = {g for g in (facts.get("governor") or {}).values() if g}
    if not governors:
        tips.append("frequency governor not exposed (common in virtual machines): frequency changes cannot be "
                    "ruled out; compare medians of repeated runs and use `benchlib compare`")
    elif governors != {"performance"}:
        tips.append(f"governor {', '.join(sorted(governors))}: the clock ramps with load; for stable numbers an "
                    "administrator can set 'performance' (cpupower frequency-set -g performance)")
    if facts.get("boost") == "1":
        tips.append("turbo/boost is on: clocks depend on temperature and on the other cores' load")
    if facts.get("smt_sibling_groups"):
        tips.append(f"SMT siblings share cores ({'; '.join(facts['smt_sibling_groups'])}): two threads on one "
                    "core compete; thread counts above the physical cores add little")
    if facts.get("steal_s_since_boot"):
        tips.append(f"this is a virtual machine whose host has taken {facts['steal_s_since_boot']:.0f} s of CPU "
                    "(steal) since boot: every record reports the steal during its own timed loop")
    throttled = (facts.get("cgroup_throttled") or {}).get("nr_throttled")
    if throttled:
        tips.append(f"the container's CPU quota has throttled it {throttled} time(s): use fewer threads than "
                    "the quota's cores, or raise the quota")
    if facts.get("swap_used_mb"):
        tips.append(f"{facts['swap_used_mb']:.0f} MB of swap in use: memory pressure can stall a run")
    return tips
