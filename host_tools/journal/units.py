"""A sensor's reading in the units a therapist reads: the journal stores peaks this way.

Usage: value, unit = real_peak("read_u16", 32768)   # (50.0, "% of full scale")

`unit` is the sensor registry's unit (firmware/sensors/__init__.py SENSORS): what read()
returns. An ADC code becomes a percentage of full scale (a force-sensing resistor has no
calibrated unit), distances stay in mm, pressures in Pa, a switch is "on".
"""

from __future__ import annotations

import math

PERCENT = "% of full scale"
_ADC_FULL = 65535.0

# registry unit -> (scale, unit stored in the journal)
_UNITS: dict[str, tuple[float, str]] = {
    "read_u16": (100.0 / _ADC_FULL, PERCENT),
    "mm": (1.0, "mm"),
    "Pa": (1.0, "Pa"),
    "hPa": (1.0, "hPa"),
    "pressed": (1.0, "on"),
}


def real_peak(unit: str, peak: float) -> tuple[float, str]:
    """(value, unit) for a peak `peak` read in the registry's `unit`. An unknown unit is
    kept as it is; an unknown peak (NaN) is (0.0, "") - the journal's "not measured"."""
    if peak is None or (isinstance(peak, float) and math.isnan(peak)):
        return 0.0, ""
    scale, name = _UNITS.get(unit, (1.0, unit))
    if name == "on":
        return (1.0 if peak else 0.0), name
    return round(float(peak) * scale, 3), name


def registry_units() -> dict[str, str]:
    """Sensor type -> the registry's unit (firmware/sensors SENSORS), {} if unreadable."""
    try:
        from host_tools import firmware

        return {str(s["type"]): str(s["unit"]) for s in firmware.module("sensors").SENSORS}
    except Exception:  # an unusual install: units are then unknown, peaks kept as read
        return {}


def channel_rows(status: dict) -> list[dict]:
    """The `status` reply's channels as the Recorder takes them (the hub's rows):
    [{"name", "sensor", "kind", "unit"}]."""
    units = registry_units()
    rows = []
    for ch in status.get("channels") or []:
        sensor = str(ch.get("sensor", ""))
        rows.append(
            {
                "name": str(ch.get("name")),
                "sensor": sensor,
                "kind": ch.get("kind") or ("switch" if sensor == "switch" else "analog"),
                "unit": units.get(sensor, ""),
            }
        )
    return rows
