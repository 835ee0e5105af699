"""The recommended hardware and a pure verdict of a machine against it.

Minimum 4 cores / 8 GB RAM / 100 Mbps; optimal 8+ cores / 16 GB / 1 Gbps / SSD (the
product brief). Unknown readings (no link speed reported, disk kind not detectable) give
an ``unknown`` verdict, never a guess.
"""

from __future__ import annotations

import dataclasses
import enum

GB = 1_000_000_000  # the brief's "8 GB" is decimal; RAM sizes are compared in bytes


class Verdict(enum.IntEnum):
    UNKNOWN = -1
    BELOW_MINIMUM = 0
    MEETS_MINIMUM = 1
    OPTIMAL = 2

    @property
    def label(self) -> str:
        return {
            Verdict.UNKNOWN: "unknown",
            Verdict.BELOW_MINIMUM: "below minimum",
            Verdict.MEETS_MINIMUM: "meets minimum",
            Verdict.OPTIMAL: "optimal",
        }[self]


@dataclasses.dataclass(frozen=True, slots=True)
class Requirement:
    item: str  # "cpu", "ram", "network", "storage"
    unit: str
    minimum: float | None  # None: the brief sets no minimum
    optimal: float


CPU = Requirement("cpu", "cores", 4, 8)
RAM = Requirement("ram", "bytes", 8 * GB, 16 * GB)
NETWORK = Requirement("network", "Mbit/s", 100, 1000)
STORAGE = Requirement("storage", "ssd", None, 1)  # 1 = SSD, 0 = rotational
REQUIREMENTS = (CPU, RAM, NETWORK, STORAGE)


@dataclasses.dataclass(frozen=True, slots=True)
class Machine:
    """What the hardware monitor could find out; ``None`` where the OS does not say."""

    cores: int | None
    ram_total: int | None
    link_mbps: float | None
    ssd: bool | None
    ram_available: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ItemVerdict:
    requirement: Requirement
    value: float | None
    verdict: Verdict


@dataclasses.dataclass(frozen=True, slots=True)
class Assessment:
    items: tuple[ItemVerdict, ...]
    overall: Verdict  # the weakest known item
    ram_headroom: int | None  # available RAM above the 8 GB floor (negative: short of it)

    def item(self, name: str) -> ItemVerdict:
        return next(entry for entry in self.items if entry.requirement.item == name)


def judge(requirement: Requirement, value: float | None) -> Verdict:
    if value is None:
        return Verdict.UNKNOWN
    if value >= requirement.optimal:
        return Verdict.OPTIMAL
    if requirement.minimum is None or value >= requirement.minimum:
        return Verdict.MEETS_MINIMUM
    return Verdict.BELOW_MINIMUM


def assess(machine: Machine) -> Assessment:
    storage = None if machine.ssd is None else float(machine.ssd)
    values = {
        "cpu": None if machine.cores is None else float(machine.cores),
        "ram": None if machine.ram_total is None else float(machine.ram_total),
        "network": machine.link_mbps,
        "storage": storage,
    }
    items = tuple(
        ItemVerdict(req, values[req.item], judge(req, values[req.item])) for req in REQUIREMENTS
    )
    known = [entry.verdict for entry in items if entry.verdict is not Verdict.UNKNOWN]
    headroom = None
    if machine.ram_available is not None and RAM.minimum is not None:
        headroom = machine.ram_available - int(RAM.minimum)
    return Assessment(items, min(known) if known else Verdict.UNKNOWN, headroom)
