"""The intent taxonomy and the shared disposition catalog."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hub.domain.outcome import CHANNELS, OUTCOMES

ANY_CHANNEL = "*"
# What ``ctihub dedup`` does with parallel cases/tickets of an intent (see hub.services.dedup).
DUPLICATE_POLICIES = ("attach", "link_only", "merge")


@dataclass(frozen=True)
class Intent:
    """One bucket of the taxonomy. ``family`` groups intents that count as one problem for dedup.

    ``duplicate_policy``: what repairing parallel cases/tickets of this intent may do (attach: the
    hub links them to a master, nothing changes in the CRM; link_only: also linked in the CRM, never
    closed; merge: the duplicates are merged/closed into the master).
    """

    code: str
    label: str
    family: str
    channels: frozenset[str]
    description: str = ""
    duplicate_policy: str = "attach"

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "label": self.label,
            "family": self.family,
            "channels": sorted(self.channels),
        }


@dataclass(frozen=True)
class Disposition:
    """One code of the shared catalog and what it becomes in each CRM.

    ``crm_values`` maps a CRM name to the value written to that CRM's disposition field (the field
    itself is chosen in the CRM's field mapping); ``crm_tags`` adds tags where the CRM has them.
    ``defaults`` lists the (channel or "*", outcome) pairs this code is derived for when an event
    names no disposition.
    """

    code: str
    label: str
    outcome_class: str
    crm_values: Mapping[str, str] = field(default_factory=dict)
    crm_tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    defaults: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "label": self.label, "outcome_class": self.outcome_class}


@dataclass(frozen=True)
class Catalog:
    intents: Mapping[str, Intent]
    dispositions: Mapping[str, Disposition]

    def derive_disposition(self, channel: str, outcome: str) -> Disposition | None:
        """The default code for a channel and outcome: an exact channel rule beats a "*" rule."""
        for wanted in ((channel, outcome), (ANY_CHANNEL, outcome)):
            for disposition in self.dispositions.values():
                if wanted in disposition.defaults:
                    return disposition
        return None

    def uncovered_outcomes(self) -> list[tuple[str, str]]:
        """(channel, outcome) pairs no default covers: an event there could not be coded."""
        return [
            (channel, outcome)
            for channel in CHANNELS
            for outcome in OUTCOMES
            if self.derive_disposition(channel, outcome) is None
        ]
