"""The table of parts (``platforms/devices.json``), loaded once, and :class:`Device`, one part's facts.

A device is named by its key (``xczu7ev``), its part name (``xczu7ev-ffvc1156-2-e``; not for ECP5, whose entry
borrows a Xilinx part for FINN's estimators) or an alias (``zcu104``). Budgets: LUT (LUT6 on Xilinx, LUT4 on
ECP5), FF, BRAM_18K (18-kbit blocks; a BRAM36 is two, an ECP5 EBR one), URAM, DSP. ``family`` decides the
memory and DSP models and whether the calibrated estimate applies.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from .errors import UsageError
from .layers.base import RESOURCE_KEYS

DEVICES_FILE = Path(__file__).resolve().parent / "platforms" / "devices.json"


class Device(dict):
    """One part: its devices.json entry plus ``name``, readable as a mapping (``device["LUT"]``, as the flow
    and the JSON it writes use it) and by attribute for the fixed facts."""

    @property
    def name(self) -> str:
        return self["name"]

    @property
    def part(self) -> str:
        """The Xilinx part name handed to FINN's estimators."""
        return self["part"]

    @property
    def family(self) -> str:
        return self["family"]

    @property
    def budget(self) -> dict:
        """{resource: available} over RESOURCE_KEYS."""
        return {k: self[k] for k in RESOURCE_KEYS}


@lru_cache(maxsize=1)
def _table() -> str:
    return DEVICES_FILE.read_text()


def known_devices() -> dict:
    """{device name: its devices.json entry} (a fresh copy each call)."""
    return json.loads(_table())["devices"]


def device_budget(part: str) -> Device:
    """The :class:`Device` for a device name, part name or alias; UsageError naming the known ones."""
    devices = known_devices()
    key = part.strip().lower()
    for name, dev in devices.items():
        if key == name or key in [a.lower() for a in dev.get("aliases", [])] or key == dev["part"].lower() \
                and dev["family"] != "ecp5":
            return Device({"name": name, **dev})
    raise UsageError(f"unknown part '{part}'; known devices: {', '.join(devices)} "
                     f"(or their part names: {', '.join(d['part'] for d in devices.values() if d['family'] != 'ecp5')})")
