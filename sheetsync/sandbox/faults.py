"""Failure knobs for the sandbox: server errors, lost responses, latency and 429 bursts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from sheetsync.sandbox.validate import JSON


@dataclass
class Faults:
    """Failure knobs. Rates are chances per request (0..1) drawn from the sandbox's rng."""

    error_rate: float = 0.0  # answer 500/503 before doing any work
    drop_rate: float = 0.0  # do the work, then close the connection with no answer
    latency_ms: int = 0  # delay every answer (clock.sleep)
    burst_429: int = 0  # the next N requests get 429 + Retry-After regardless of budget
    drop_next: int = 0  # the next N answers are dropped after the work (deterministic drop)

    def __post_init__(self) -> None:
        for name in ("error_rate", "drop_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a number from 0 to 1, not {value!r}")
        for name in ("latency_ms", "burst_429", "drop_next"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number 0 or more, not {value!r}")

    def updated(self, changes: JSON) -> Faults:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault {unknown[0]!r}; known: {', '.join(sorted(known))}")
        return Faults(**{**asdict(self), **changes})
