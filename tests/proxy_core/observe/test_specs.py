"""The spec verdict for a table of machines."""

from __future__ import annotations

import pytest

from proxy_core.observe.specs import GB, Machine, Verdict, assess

B, M, OPT, U = Verdict.BELOW_MINIMUM, Verdict.MEETS_MINIMUM, Verdict.OPTIMAL, Verdict.UNKNOWN


@pytest.mark.parametrize(
    ("machine", "cpu", "ram", "network", "storage", "overall"),
    [
        # This CI machine's shape: 2 cores, 24 GB, link speed not reported, rotational.
        (Machine(2, 24 * GB, None, False), B, OPT, U, M, B),
        # A laptop at the floor: 4 cores, 8 GB (8 GiB reports a little over 8e9), Wi-Fi.
        (Machine(4, 8_300_000_000, 300.0, True), M, M, M, OPT, M),
        # A workstation.
        (Machine(16, 64 * GB, 1000.0, True), OPT, OPT, OPT, OPT, OPT),
        # Just under each floor.
        (Machine(3, 8 * GB - 1, 99.0, True), B, B, B, OPT, B),
        # Exactly on the optimal line.
        (Machine(8, 16 * GB, 1000.0, True), OPT, OPT, OPT, OPT, OPT),
        # Nothing known.
        (Machine(None, None, None, None), U, U, U, U, U),
    ],
)
def test_machines(
    machine: Machine,
    cpu: Verdict,
    ram: Verdict,
    network: Verdict,
    storage: Verdict,
    overall: Verdict,
) -> None:
    result = assess(machine)
    assert [result.item(n).verdict for n in ("cpu", "ram", "network", "storage")] == [
        cpu,
        ram,
        network,
        storage,
    ]
    assert result.overall is overall


def test_ram_headroom_against_the_floor() -> None:
    assert assess(Machine(8, 16 * GB, None, None, ram_available=10 * GB)).ram_headroom == 2 * GB
    short = assess(Machine(8, 16 * GB, None, None, ram_available=5 * GB)).ram_headroom
    assert short == -3 * GB
    assert assess(Machine(8, 16 * GB, None, None)).ram_headroom is None


def test_labels() -> None:
    assert [v.label for v in (B, M, OPT, U)] == [
        "below minimum",
        "meets minimum",
        "optimal",
        "unknown",
    ]
