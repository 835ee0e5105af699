"""The dashboard's hardware rows: each part of the machine against the recommended specs
(the minimum and optimal marks, what is in use now), and the overall verdict. Pure, no
Qt."""

from __future__ import annotations

import dataclasses

from proxy_core import (
    CPU,
    GB,
    NETWORK,
    RAM,
    STORAGE,
    Assessment,
    HardwareSample,
    ItemVerdict,
    Requirement,
    Verdict,
)


def format_bytes(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B"


def format_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def format_mbps(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.1f} Gbit/s" if value >= 1000 else f"{value:.1f} Mbit/s"


# dashboard view ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class SpecRow:
    name: str
    capacity: str  # "2 cores", "24.0 GB", "not reported"
    verdict: Verdict | None  # None: no spec is recommended for this item (GPU)
    value: float | None  # capacity on the scale; None when unknown
    minimum: float | None
    optimal: float | None
    scale: float  # right end of the drawn scale
    used: float | None  # 0..1 of the capacity in use now
    detail: str
    ticks: tuple[str, str] = ("", "")  # the minimum's and optimum's labels, with values


def _scale(requirement: Requirement, value: float | None) -> float:
    """The drawn scale runs past the optimal mark, and past the machine when it is bigger."""
    scale = requirement.optimal * 1.25
    return scale if value is None else max(scale, value * 1.05)


def spec_row(
    name: str,
    requirement: Requirement,
    verdict: Verdict,
    value: float | None,
    capacity: str,
    used: float | None,
    detail: str,
    unit: float = 1.0,
) -> SpecRow:
    """A row drawn against the spec; ``unit`` scales raw values (bytes -> GB) for drawing."""

    def scaled(v: float | None) -> float | None:
        return None if v is None else v / unit

    return SpecRow(
        name=name,
        capacity=capacity,
        verdict=verdict,
        value=scaled(value),
        minimum=scaled(requirement.minimum),
        optimal=requirement.optimal / unit,
        scale=_scale(requirement, value) / unit,
        used=used,
        detail=detail,
        ticks=TICKS[requirement.item],
    )


# The spec's values on the bars' ticks (specs.py holds the numbers).
TICKS = {
    "cpu": ("min 4 cores", "optimal 8"),
    "ram": ("min 8 GB", "optimal 16 GB"),
    "network": ("min 100 Mbit/s", "optimal 1 Gbit/s"),
    "storage": ("", "optimal: SSD"),
}
SPECS_PURPOSE = (
    "What the specs are for: this proxy beside Ollama serving everyday coding models "
    "(up to about 8B parameters) to a few IDEs. Bigger models need more memory: whether "
    "yours fit is below. The proxy itself needs little (see This app)."
)


def _ram_floor(headroom: int | None) -> str:
    if headroom is None:
        return ""
    if headroom >= 0:
        return f" ({format_bytes(headroom)} above the 8 GB floor)"
    return f" ({format_bytes(-headroom)} short of the 8 GB floor)"


def ollama_is_local(url: str) -> bool:
    """Ollama on this machine: the proxy reaches it over loopback, not the network."""
    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def overall(assessment: Assessment, local: bool) -> Verdict:
    """The weakest known item; the network does not count when Ollama is local (a
    loopback proxy does not use it)."""
    known = [
        entry.verdict
        for entry in assessment.items
        if entry.verdict is not Verdict.UNKNOWN
        and not (local and entry.requirement.item == "network")
    ]
    return min(known) if known else Verdict.UNKNOWN


def hardware_rows(sample: HardwareSample, network_counts: bool = True) -> tuple[SpecRow, ...]:
    a = sample.assessment
    load = "" if sample.load is None else f" · load {sample.load[0]:.2f}"
    cpu, ram, net, disk = (a.item(n) for n in ("cpu", "ram", "network", "storage"))
    rows = [
        spec_row(
            "CPU",
            CPU,
            cpu.verdict,
            cpu.value,
            f"{sample.cores} cores" if sample.cores else "not reported",
            sample.cpu_percent / 100,
            f"{sample.cpu_percent:.0f}% busy{load}",
        ),
        spec_row(
            "RAM",
            RAM,
            ram.verdict,
            ram.value,
            format_bytes(sample.ram_total),
            sample.ram_used / sample.ram_total if sample.ram_total else None,
            f"{format_bytes(sample.ram_used)} used, {format_bytes(sample.ram_available)} free"
            + _ram_floor(a.ram_headroom),
            unit=GB,
        ),
    ]
    rows.append(_network_row(sample, net, network_counts))
    kind = {True: "SSD", False: "rotational disk", None: "disk kind not detectable"}[sample.ssd]
    rows.append(
        spec_row(
            "Storage",
            STORAGE,
            disk.verdict,
            disk.value,
            kind,
            None,
            "optimal is an SSD; any disk meets the minimum",
        )
    )
    rows.extend(_gpu_rows(sample))
    return tuple(rows)


def _network_row(sample: HardwareSample, net: ItemVerdict, network_counts: bool) -> SpecRow:
    rx, tx, link = sample.net_rx_mbps, sample.net_tx_mbps, sample.link_mbps
    has_traffic = rx is not None and tx is not None
    return spec_row(
        "Network",
        NETWORK,
        net.verdict,
        net.value,
        "link speed not reported" if link is None else format_mbps(link),
        min(max(rx or 0.0, tx or 0.0) / link, 1.0) if link and has_traffic else None,
        (f"↓ {format_mbps(rx)}  ↑ {format_mbps(tx)}" if has_traffic else "no counters")
        + ("" if network_counts else " · not counted: Ollama runs on this machine"),
    )


def _gpu_rows(sample: HardwareSample) -> list[SpecRow]:
    """One row per GPU: no GPU spec is recommended, so drawn as plain utilisation."""
    if not sample.gpus:
        return [
            SpecRow(
                name="GPU",
                capacity="no GPU data",
                verdict=None,
                value=None,
                minimum=None,
                optimal=None,
                scale=100.0,
                used=None,
                detail="no NVIDIA GPU found through NVML or nvidia-smi",
            )
        ]
    return [
        SpecRow(
            name="GPU",
            capacity=gpu.name,
            verdict=None,
            value=gpu.utilization_percent,
            minimum=None,
            optimal=None,
            scale=100.0,
            used=gpu.memory_used / gpu.memory_total if gpu.memory_total else None,
            detail=f"{gpu.utilization_percent:.0f}% busy, {format_bytes(gpu.memory_used)} "
            f"of {format_bytes(gpu.memory_total)} memory",
        )
        for gpu in sample.gpus
    ]


def process_text(status: str, cpu: float | None, rss: int | None) -> str:
    if status != "running":
        return status
    return f"{cpu or 0:.0f}% CPU, {format_bytes(rss)} RSS"
