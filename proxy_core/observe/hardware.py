"""Hardware sampling with psutil, off the event loop.

:meth:`HardwareMonitor.sample` is synchronous and runs in an executor. NVIDIA GPUs are
read through NVML when its Python binding (``pynvml``, from nvidia-ml-py) is installed:
microseconds per read, inside the sample. Without it, ``nvidia-smi`` runs as an asyncio
subprocess, every few seconds only (each run costs tens of milliseconds of CPU).
Everything the OS may refuse or not know (network counters, link speed, disk kind,
another user's process, a GPU) becomes ``None`` or an explicit status, never an exception.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil

from .specs import Assessment, Machine, assess

log = logging.getLogger(__name__)

OLLAMA_NAMES = frozenset({"ollama", "ollama.exe", "ollama app", "ollama app.exe"})
OLLAMA_RESCAN_SECONDS = 10.0  # scanning every process is the costly part; not every tick
NVIDIA_QUERY = (
    "--query-gpu=name,utilization.gpu,memory.used,memory.total",
    "--format=csv,noheader,nounits",
)


@dataclasses.dataclass(frozen=True, slots=True)
class ProcessUsage:
    status: str  # "running", "not found", "no permission"
    cpu_percent: float | None = None  # of one core, like top
    rss: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class GpuUsage:
    name: str
    utilization_percent: float
    memory_used: int
    memory_total: int


@dataclasses.dataclass(frozen=True, slots=True)
class HardwareSample:
    taken: float  # time.monotonic()
    cpu_percent: float
    per_core: tuple[float, ...]
    load: tuple[float, float, float] | None
    cores: int | None
    ram_total: int
    ram_used: int
    ram_available: int
    swap_total: int
    swap_used: int
    net_rx_mbps: float | None  # None: no counters, or first sample
    net_tx_mbps: float | None
    link_mbps: float | None  # fastest up, non-loopback link the OS reports
    ssd: bool | None  # disk holding the data dir; None when not detectable
    proxy: ProcessUsage
    ollama: ProcessUsage
    gpus: tuple[GpuUsage, ...]  # empty: no GPU data
    assessment: Assessment


def disk_is_ssd(path: Path, sys_root: Path = Path("/sys")) -> bool | None:
    """Whether the block device holding ``path`` is non-rotational (Linux sysfs)."""
    try:
        dev = os.stat(path).st_dev
        node = (sys_root / "dev" / "block" / f"{os.major(dev)}:{os.minor(dev)}").resolve(
            strict=True
        )
        for candidate in (node, node.parent):  # a partition's queue/ is on its disk
            flag = candidate / "queue" / "rotational"
            if flag.exists():
                return flag.read_text().strip() == "0"
    except (OSError, ValueError):
        pass
    return None


class HardwareMonitor:
    """Samples the machine; ``ps`` is psutil unless a test hands in a fake module."""

    def __init__(
        self,
        data_dir: Path,
        *,
        ps: ModuleType | Any = psutil,
        clock: Callable[[], float] = time.monotonic,
        nvidia_smi: str | None = None,
        nvml: ModuleType | Any | None = None,
    ) -> None:
        self._ps = ps
        self._clock = clock
        self._ssd = disk_is_ssd(data_dir)
        self._nvml = nvml if nvml is not None else _load_nvml()
        self._nvml = self._nvml if self._nvml is not None and _nvml_init(self._nvml) else None
        self._nvidia_smi = (
            None
            if self._nvml is not None
            else (nvidia_smi if nvidia_smi is not None else shutil.which("nvidia-smi"))
        )
        self._me = ps.Process()
        self._ollama: Any = None
        self._ollama_scanned = float("-inf")
        self._last_net: tuple[float, int, int] | None = None
        self.gpus: tuple[GpuUsage, ...] = ()
        ps.cpu_percent(interval=None)  # prime: the first non-blocking reading is meaningless
        self._me.cpu_percent(interval=None)

    # synchronous part: run in an executor ----------------------------------------------
    def sample(self) -> HardwareSample:
        ps = self._ps
        now = self._clock()
        per_core = tuple(float(v) for v in ps.cpu_percent(interval=None, percpu=True))
        total = sum(per_core) / len(per_core) if per_core else 0.0
        memory = ps.virtual_memory()
        swap = ps.swap_memory()
        rx, tx = self._network_rates(now)
        cores = ps.cpu_count(logical=True)
        link = self._link_speed()
        machine = Machine(
            cores=cores,
            ram_total=memory.total,
            link_mbps=link,
            ssd=self._ssd,
            ram_available=memory.available,
        )
        return HardwareSample(
            taken=now,
            cpu_percent=total,
            per_core=per_core,
            load=self._load(),
            cores=cores,
            ram_total=int(memory.total),
            ram_used=int(memory.total - memory.available),
            ram_available=int(memory.available),
            swap_total=int(swap.total),
            swap_used=int(swap.used),
            net_rx_mbps=rx,
            net_tx_mbps=tx,
            link_mbps=link,
            ssd=self._ssd,
            proxy=self._usage(self._me),
            ollama=self._ollama_usage(now),
            gpus=self._nvml_gpus() if self._nvml is not None else self.gpus,
            assessment=assess(machine),
        )

    def _load(self) -> tuple[float, float, float] | None:
        try:
            one, five, fifteen = self._ps.getloadavg()
        except (OSError, AttributeError):
            return None
        return float(one), float(five), float(fifteen)

    def _network_rates(self, now: float) -> tuple[float | None, float | None]:
        try:
            counters = self._ps.net_io_counters()
        except (OSError, RuntimeError):
            counters = None
        if counters is None:  # psutil returns None when the OS has no counters
            self._last_net = None
            return None, None
        last, self._last_net = self._last_net, (now, counters.bytes_recv, counters.bytes_sent)
        if last is None or now <= last[0]:
            return None, None
        seconds = now - last[0]
        to_mbps = 8 / 1e6 / seconds
        return (
            max(counters.bytes_recv - last[1], 0) * to_mbps,
            max(counters.bytes_sent - last[2], 0) * to_mbps,
        )

    def _link_speed(self) -> float | None:
        try:
            stats = self._ps.net_if_stats()
        except (OSError, RuntimeError):
            return None
        speeds = [
            s.speed for name, s in stats.items() if s.isup and s.speed > 0 and name != "lo"
        ]  # 0 means the driver does not say (virtual NICs, Wi-Fi on some systems)
        return float(max(speeds)) if speeds else None

    def _usage(self, process: Any) -> ProcessUsage:
        ps = self._ps
        try:
            with process.oneshot():
                return ProcessUsage(
                    "running",
                    float(process.cpu_percent(interval=None)),
                    int(process.memory_info().rss),
                )
        except ps.AccessDenied:
            return ProcessUsage("no permission")
        except (ps.NoSuchProcess, ps.ZombieProcess):
            return ProcessUsage("not found")

    def _ollama_usage(self, now: float) -> ProcessUsage:
        ps = self._ps
        if self._ollama is not None:
            usage = self._usage(self._ollama)
            if usage.status != "not found":
                return usage
            self._ollama = None
        if now - self._ollama_scanned < OLLAMA_RESCAN_SECONDS:
            return ProcessUsage("not found")
        self._ollama_scanned = now
        denied = False
        for process in ps.process_iter(["name"]):
            name = (process.info.get("name") or "").lower()
            if name in OLLAMA_NAMES:
                try:
                    process.cpu_percent(interval=None)  # prime for the next tick
                except ps.AccessDenied:
                    denied = True
                    continue
                except (ps.NoSuchProcess, ps.ZombieProcess):
                    continue
                self._ollama = process
                return self._usage(process)
        return ProcessUsage("no permission" if denied else "not found")

    def _nvml_gpus(self) -> tuple[GpuUsage, ...]:
        nvml: Any = self._nvml
        try:
            gpus = []
            for index in range(nvml.nvmlDeviceGetCount()):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                name = nvml.nvmlDeviceGetName(handle)
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
                gpus.append(
                    GpuUsage(
                        name.decode() if isinstance(name, bytes) else str(name),
                        float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu),
                        int(memory.used),
                        int(memory.total),
                    )
                )
            return tuple(gpus)
        except Exception as exc:  # NVML raises its own error types; none may stop sampling
            log.info("NVML read failed (%s); no GPU data", exc)
            self._nvml = None
            return ()

    @property
    def uses_nvidia_smi(self) -> bool:
        return bool(self._nvidia_smi)

    # GPU without NVML: an asyncio subprocess, never a blocking call ---------------------
    async def read_gpus(self) -> tuple[GpuUsage, ...]:
        if not self._nvidia_smi:
            return ()
        try:
            proc = await asyncio.create_subprocess_exec(
                self._nvidia_smi,
                *NVIDIA_QUERY,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            out, _ = await asyncio.wait_for(proc.communicate(), timeout=5)
        except (OSError, TimeoutError) as exc:
            log.info("nvidia-smi unavailable (%s); no GPU data", exc)
            self._nvidia_smi = None
            return ()
        self.gpus = parse_nvidia_smi(out.decode(errors="replace"))
        return self.gpus


def _load_nvml() -> ModuleType | None:
    try:
        import pynvml  # type: ignore[import-not-found]  # optional: nvidia-ml-py
    except ImportError:
        return None
    return pynvml  # type: ignore[no-any-return]


def _nvml_init(nvml: Any) -> bool:
    try:
        nvml.nvmlInit()
    except Exception:  # no driver, no GPU: NVMLError_* of many kinds
        return False
    return True


def parse_nvidia_smi(text: str) -> tuple[GpuUsage, ...]:
    """Rows of ``name, util %, used MiB, total MiB``; unparsable rows are skipped."""
    gpus = []
    for row in text.splitlines():
        parts = [part.strip() for part in row.split(",")]
        if len(parts) != 4:
            continue
        try:
            gpus.append(
                GpuUsage(
                    parts[0],
                    float(parts[1]),
                    int(float(parts[2])) << 20,
                    int(float(parts[3])) << 20,
                )
            )
        except ValueError:
            continue
    return tuple(gpus)
