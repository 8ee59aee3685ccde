"""The charts' colours: backend/presentation/palette.py, shared with the report and slides."""

from backend.presentation.palette import (
    DIVERGING_RANGE,
    HEAT_RANGE,
    INDEX_RANGE,
    INK,
    MUTED,
    NO_GROUP,
    PRIMARY,
    UNIT_COLORS,
    unit_color,
    unit_scale,
)

__all__ = [
    "DIVERGING_RANGE",
    "HEAT_RANGE",
    "INDEX_RANGE",
    "INK",
    "MUTED",
    "NO_GROUP",
    "PRIMARY",
    "UNIT_COLORS",
    "unit_color",
    "unit_scale",
]
