"""Hardware sampling with psutil faked for the edge cases, plus one real sample."""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

from proxy_core.observe import hardware as hardware_module
from proxy_core.observe.hardware import HardwareMonitor, disk_is_ssd, parse_nvidia_smi
from proxy_core.observe.specs import Verdict
from tests.fakes.clock import Clock


@pytest.fixture(autouse=True)
def no_real_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests decide what GPU the machine has; an installed pynvml must not leak in."""
    monkeypatch.setattr(hardware_module, "_load_nvml", lambda: None)


class FakeProcess:
    def __init__(self, name: str, *, denied: bool = False, gone: bool = False) -> None:
        self.info = {"name": name}
        self.denied = denied
        self.gone = gone

    @contextlib.contextmanager
    def oneshot(self) -> Iterator[None]:
        yield

    def _check(self) -> None:
        if self.gone:
            raise psutil.NoSuchProcess(1)
        if self.denied:
            raise psutil.AccessDenied(1)

    def cpu_percent(self, interval: float | None = None) -> float:
        self._check()
        return 12.5

    def memory_info(self) -> Any:
        self._check()
        return SimpleNamespace(rss=300 << 20)


def fake_psutil(
    *,
    net: Any = "counters",
    links: dict[str, Any] | None = None,
    processes: list[FakeProcess] | None = None,
) -> SimpleNamespace:
    counters = {"recv": 0, "sent": 0}

    def net_io_counters() -> Any:
        if net is None:
            return None
        counters["recv"] += 12_500_000  # 100 Mbit per call
        counters["sent"] += 1_250_000
        return SimpleNamespace(bytes_recv=counters["recv"], bytes_sent=counters["sent"])

    def cpu_percent(interval: float | None = None, percpu: bool = False) -> Any:
        return [50.0, 100.0, 0.0, 10.0] if percpu else 40.0

    return SimpleNamespace(
        AccessDenied=psutil.AccessDenied,
        NoSuchProcess=psutil.NoSuchProcess,
        ZombieProcess=psutil.ZombieProcess,
        cpu_percent=cpu_percent,
        cpu_count=lambda logical=True: 4,
        getloadavg=lambda: (1.0, 0.5, 0.25),
        virtual_memory=lambda: SimpleNamespace(total=16_000_000_000, available=10_000_000_000),
        swap_memory=lambda: SimpleNamespace(total=2 << 30, used=1 << 20),
        net_io_counters=net_io_counters,
        net_if_stats=lambda: links if links is not None else {},
        Process=lambda: FakeProcess("python"),
        process_iter=lambda attrs=None: iter(processes or []),
    )


def monitor(tmp_path: Path, ps: Any, clock: Clock | None = None) -> HardwareMonitor:
    return HardwareMonitor(tmp_path, ps=ps, clock=clock or Clock(1000.0), nvidia_smi="")


def test_sample_reads_everything_a_fake_machine_offers(tmp_path: Path) -> None:
    clock = Clock(1000.0)
    links = {
        "lo": SimpleNamespace(isup=True, speed=0),
        "eth0": SimpleNamespace(isup=True, speed=1000),
        "eth1": SimpleNamespace(isup=False, speed=10000),  # down links do not count
    }
    ollama = FakeProcess("ollama")
    hw = monitor(tmp_path, fake_psutil(links=links, processes=[FakeProcess("x"), ollama]), clock)
    first = hw.sample()
    assert first.net_rx_mbps is None  # no interval yet
    clock.now += 2.0
    second = hw.sample()
    assert second.net_rx_mbps == pytest.approx(50.0)  # 100 Mbit over 2 s
    assert second.net_tx_mbps == pytest.approx(5.0)
    assert second.link_mbps == 1000.0
    assert second.cpu_percent == pytest.approx(40.0)
    assert second.per_core == (50.0, 100.0, 0.0, 10.0)
    assert second.load == (1.0, 0.5, 0.25)
    assert second.ram_used == 6_000_000_000
    assert second.proxy.status == "running" and second.proxy.rss == 300 << 20
    assert second.ollama.status == "running" and second.ollama.cpu_percent == 12.5
    assert second.gpus == ()
    assert second.assessment.item("cpu").verdict is Verdict.MEETS_MINIMUM
    assert second.assessment.item("network").verdict is Verdict.OPTIMAL
    assert second.assessment.ram_headroom == 2_000_000_000


def test_no_network_stats_no_link_speed(tmp_path: Path) -> None:
    hw = monitor(
        tmp_path, fake_psutil(net=None, links={"eth0": SimpleNamespace(isup=True, speed=0)})
    )
    sample = hw.sample()
    assert sample.net_rx_mbps is None and sample.link_mbps is None
    assert sample.assessment.item("network").verdict is Verdict.UNKNOWN


def test_ollama_owned_by_another_user_is_no_permission(tmp_path: Path) -> None:
    hw = monitor(tmp_path, fake_psutil(processes=[FakeProcess("ollama", denied=True)]))
    assert hw.sample().ollama.status == "no permission"


def test_ollama_absent_then_gone(tmp_path: Path) -> None:
    clock = Clock(1000.0)
    processes: list[FakeProcess] = []
    hw = monitor(tmp_path, fake_psutil(processes=processes), clock)
    assert hw.sample().ollama.status == "not found"
    ollama = FakeProcess("ollama")
    processes.append(ollama)
    clock.now += 1.0
    assert hw.sample().ollama.status == "not found"  # not rescanned every tick
    clock.now += 10.0
    assert hw.sample().ollama.status == "running"
    ollama.gone = True
    clock.now += 1.0
    assert hw.sample().ollama.status == "not found"


def test_parse_nvidia_smi() -> None:
    text = "NVIDIA GeForce RTX 4090, 37, 8123, 24564\nbroken line\nA100, n/a, 1, 2\n"
    (gpu,) = parse_nvidia_smi(text)
    assert gpu.name == "NVIDIA GeForce RTX 4090"
    assert gpu.utilization_percent == 37.0
    assert gpu.memory_used == 8123 << 20 and gpu.memory_total == 24564 << 20


async def test_gpu_read_through_a_real_subprocess(tmp_path: Path) -> None:
    script = tmp_path / "nvidia-smi"
    script.write_text("#!/bin/sh\necho 'Fake GPU, 55, 1024, 8192'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    hw = HardwareMonitor(tmp_path, ps=fake_psutil(), nvidia_smi=str(script))
    (gpu,) = await hw.read_gpus()
    assert gpu.utilization_percent == 55.0
    assert hw.sample().gpus == (gpu,)


async def test_no_gpu_means_no_gpu_data_not_an_error(tmp_path: Path) -> None:
    hw = HardwareMonitor(tmp_path, ps=fake_psutil(), nvidia_smi=str(tmp_path / "missing"))
    assert await hw.read_gpus() == ()
    assert await hw.read_gpus() == ()  # and it does not keep trying


def test_disk_kind_from_sysfs(tmp_path: Path) -> None:
    dev = os.stat(tmp_path).st_dev
    sys_root = tmp_path / "sys"
    disk = sys_root / "devices" / "vda"
    (disk / "vda1").mkdir(parents=True)
    (disk / "queue").mkdir()
    (disk / "queue" / "rotational").write_text("0\n")
    (sys_root / "dev" / "block").mkdir(parents=True)
    (sys_root / "dev" / "block" / f"{os.major(dev)}:{os.minor(dev)}").symlink_to(disk / "vda1")
    assert disk_is_ssd(tmp_path, sys_root) is True  # a partition reads its disk's flag
    (disk / "queue" / "rotational").write_text("1\n")
    assert disk_is_ssd(tmp_path, sys_root) is False
    assert disk_is_ssd(tmp_path, tmp_path / "no-sysfs") is None


def test_a_real_sample_on_this_machine(tmp_path: Path) -> None:
    hw = HardwareMonitor(tmp_path)
    time.sleep(0.05)
    sample = hw.sample()
    assert sample.cores == psutil.cpu_count() and len(sample.per_core) == sample.cores
    assert 0 < sample.ram_available <= sample.ram_total
    assert sample.proxy.status == "running" and (sample.proxy.rss or 0) > 10 << 20


class FakeNvml:
    """The few pynvml calls the monitor makes, for two GPUs."""

    def __init__(self, *, init_fails: bool = False) -> None:
        self.init_fails = init_fails
        self.broken = False

    def nvmlInit(self) -> None:  # noqa: N802 - NVML's names
        if self.init_fails:
            raise RuntimeError("NVML Shared Library Not Found")

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        if self.broken:
            raise RuntimeError("GPU is lost")
        return 2

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:  # noqa: N802
        return index

    def nvmlDeviceGetName(self, handle: int) -> bytes:  # noqa: N802
        return f"GPU {handle}".encode()

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> Any:  # noqa: N802
        return SimpleNamespace(gpu=10 * (handle + 1))

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:  # noqa: N802
        return SimpleNamespace(used=(handle + 1) << 30, total=8 << 30)


def test_nvml_is_read_inside_the_sample(tmp_path: Path) -> None:
    nvml = FakeNvml()
    hw = HardwareMonitor(tmp_path, ps=fake_psutil(), nvml=nvml, nvidia_smi="/usr/bin/nvidia-smi")
    assert not hw.uses_nvidia_smi  # NVML wins: no subprocess at all
    gpus = hw.sample().gpus
    assert [(g.name, g.utilization_percent, g.memory_used) for g in gpus] == [
        ("GPU 0", 10.0, 1 << 30),
        ("GPU 1", 20.0, 2 << 30),
    ]
    nvml.broken = True
    assert hw.sample().gpus == ()  # a failing NVML means no GPU data, not an error


def test_nvml_that_cannot_start_falls_back_to_nvidia_smi(tmp_path: Path) -> None:
    hw = HardwareMonitor(
        tmp_path, ps=fake_psutil(), nvml=FakeNvml(init_fails=True), nvidia_smi="/x/nvidia-smi"
    )
    assert hw.uses_nvidia_smi
