"""How often `sheetsync run` (or a worker) polls each sheet: its `poll_seconds`, stretched when
the config's Google sheets would need more reads than Google's per-user quota allows.

Every Google sheet of a daemon signs in with the one credential of `[google]`, and Google allows
a user (a service account is one) `reads_per_minute` read and `writes_per_minute` write requests
a minute (60 and 60 by default). An unchanged poll costs one read (one values.batchGet), so
sheets polled every P_i seconds need Σ 60 / P_i reads a minute. When that is more than the quota
(less the margin of the limiter the reads wait for: a slot is held 60 s plus `margin_s`, the
daemon's api.ratelimit.MARGIN_S or the workers' app.worker.GOOGLE_MARGIN_S, which the caller
passes), every Google sheet's interval is multiplied by the same factor, so that together they
use the quota and no more. The first polls are spread out (sheet i of n starts i/n of the way
into the interval), so the reads come evenly rather than in a burst at start. Requests beyond
one read a poll (the key re-read and the write of a poll that changed something, the metadata
read of a sheet just opened) wait for the credential's quota limiter (sheet/google/quota.Quota),
so a healthy daemon never causes a 429.
xlsx sheets keep their poll_seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from sheetsync.config import Config

QUOTA_WINDOW_S = 60.0


@dataclass(frozen=True)
class Pace:
    """When a sheet is polled: every `poll_s` seconds, the first poll `offset_s` after start."""

    poll_s: float
    offset_s: float
    configured_s: int  # the sheet's poll_seconds

    @property
    def stretched(self) -> bool:
        return self.poll_s > self.configured_s

    def describe(self) -> str:
        """`101 s (poll_seconds = 60, stretched …)`: the interval, for `status`'s Every column."""
        text = f"{self.poll_s:.0f} s"
        if self.stretched:
            text += (
                f" (poll_seconds = {self.configured_s}, stretched so that the Google sheets "
                f"together stay within the credential's read quota)"
            )
        return text


def reads_per_minute(config: Config) -> float:
    """The reads a minute the daemon's Google sheets need at their poll_seconds."""
    return sum(60.0 / s.poll_seconds for s in config.sheets if s.source == "google")


def capacity(config: Config, *, margin_s: float) -> float:
    """The reads a minute the credential's quota limiter lets through, holding each slot
    QUOTA_WINDOW_S + `margin_s`."""
    return config.google.reads_per_minute * QUOTA_WINDOW_S / (QUOTA_WINDOW_S + margin_s)


def paces(config: Config, *, margin_s: float) -> dict[str, Pace]:
    """Each sheet's pace (by name), the Google sheets stretched evenly to fit the quota of a
    limiter holding each slot QUOTA_WINDOW_S + `margin_s`."""
    demand = reads_per_minute(config)
    factor = max(1.0, demand / capacity(config, margin_s=margin_s)) if demand else 1.0
    spacing = 60.0 * factor / demand if demand else 0.0  # seconds between two polls' reads
    out: dict[str, Pace] = {}
    google = 0
    for s in config.sheets:
        if s.source != "google":
            out[s.name] = Pace(float(s.poll_seconds), 0.0, s.poll_seconds)
            continue
        poll = s.poll_seconds * factor
        out[s.name] = Pace(poll, (google * spacing) % poll, s.poll_seconds)
        google += 1
    return out


def stretch_note(config: Config, *, margin_s: float) -> str | None:
    """The log line saying that the Google sheets are polled less often, or None."""
    demand = reads_per_minute(config)
    limit = config.google.reads_per_minute
    if demand <= capacity(config, margin_s=margin_s):
        return None
    pace = paces(config, margin_s=margin_s)
    n = sum(1 for s in config.sheets if s.source == "google")
    first = next(s for s in config.sheets if s.source == "google")
    return (
        f"the {n} Google sheets need {demand:.0f} reads a minute at their poll_seconds, more "
        f"than the {limit} a minute Google allows one credential ([google] reads_per_minute): "
        f"each is polled {pace[first.name].poll_s / first.poll_seconds:.2f} times less often "
        f"({first.name} every {pace[first.name].poll_s:.0f} s instead of {first.poll_seconds} s)"
    )
