"""A realistic, seeded day of outcomes: repeat customers, several channels, failures and abandons.

Deterministic for a given seed, so a demo run and a test see the same day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

FIRST_NAMES = [
    "Ana",
    "Ben",
    "Chloé",
    "Dev",
    "Emeka",
    "Fatima",
    "Greg",
    "Hana",
    "Ivan",
    "Jo",
    "Kofi",
    "Lena",
    "Marco",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Vic",
    "Wen",
    "Yara",
    "Zoe",
]
LAST_NAMES = [
    "Silva",
    "Okafor",
    "Martin",
    "Patel",
    "Kim",
    "Nguyen",
    "Haddad",
    "Schmidt",
    "Rossi",
    "Lopez",
    "Cohen",
    "Ito",
]
AREA_CODES = ["415", "212", "305", "512", "312", "206", "617", "405", "410", "702"]

INTENTS: dict[str, dict[str, Any]] = {
    "password_reset": {
        "weight": 18,
        "channels": {"self_service": 6, "chat": 2, "sms": 1},
        "steps": ["verify_identity", "send_code", "enter_code", "set_password"],
        "summary": [
            "Customer locked out after three wrong passwords.",
            "Reset code never arrived by email.",
            "Wants to reset the password on a shared account.",
        ],
    },
    "order_status": {
        "weight": 16,
        "channels": {"self_service": 4, "chat": 3, "sms": 3},
        "steps": ["lookup_order", "show_tracking"],
        "summary": [
            "Asked where order #{n} is.",
            "Order #{n} shows 'processing' for five days.",
            "Wants the tracking link for order #{n}.",
        ],
    },
    "billing": {
        "weight": 12,
        "channels": {"chat": 4, "sms": 2, "self_service": 2},
        "steps": ["verify_identity", "show_invoice", "dispute_charge"],
        "summary": [
            "Charged twice for the {m} invoice.",
            "Asked why the bill went up by ${d}.",
            "Wants a copy of the {m} invoice.",
        ],
    },
    "technical_support": {
        "weight": 12,
        "channels": {"chat": 5, "self_service": 2, "sms": 1},
        "steps": ["diagnose", "restart_device", "run_speed_test"],
        "summary": [
            "Router keeps dropping Wi-Fi every evening.",
            "App crashes on login since the last update.",
            "Speed test shows {d} Mbps instead of 300.",
        ],
    },
    "appointment": {
        "weight": 8,
        "channels": {"sms": 4, "self_service": 3, "chat": 1},
        "steps": ["pick_slot", "confirm"],
        "summary": [
            "Wants to move the technician visit to {m}.",
            "Asked to cancel Thursday's appointment.",
            "Needs a morning slot next week.",
        ],
    },
    "account_update": {
        "weight": 8,
        "channels": {"self_service": 4, "chat": 2},
        "steps": ["verify_identity", "edit_address"],
        "summary": [
            "Moving house; new address from the 1st.",
            "Wants to change the account holder's email.",
            "Update the phone number on file.",
        ],
    },
    "plan_change": {
        "weight": 8,
        "channels": {"chat": 4, "self_service": 2, "sms": 1},
        "steps": ["compare_plans", "confirm_change"],
        "summary": [
            "Asked to upgrade to the 1 Gbps plan.",
            "Wants a cheaper plan without TV.",
            "Asked about the student discount.",
        ],
    },
    "delivery_update": {
        "weight": 7,
        "channels": {"sms": 5, "self_service": 2},
        "steps": ["lookup_delivery", "reschedule"],
        "summary": [
            "Courier missed the delivery window.",
            "Wants the parcel left with a neighbour.",
            "Delivery marked done but nothing arrived.",
        ],
    },
    "cancellation": {
        "weight": 4,
        "channels": {"chat": 3, "sms": 1},
        "steps": ["retention_offer", "confirm_cancel"],
        "summary": [
            "Wants to cancel at the end of the contract.",
            "Moving abroad, asked to close the account.",
        ],
    },
    "general_inquiry": {
        "weight": 7,
        "channels": {"chat": 3, "sms": 2, "self_service": 2},
        "steps": ["faq"],
        "summary": [
            "Asked about opening hours over the holidays.",
            "Asked how to reach a human.",
            "Question about data privacy.",
        ],
    },
}
OUTCOMES_BY_CHANNEL = {
    "self_service": {"resolved": 50, "failed": 25, "abandoned": 17, "deflected": 8},
    "chat": {"resolved": 55, "abandoned": 18, "escalated": 17, "in_progress": 5, "failed": 5},
    "sms": {"resolved": 48, "no_response": 27, "escalated": 15, "in_progress": 10},
}
SOURCES = {"self_service": "web-self-service", "chat": "web-chat", "sms": "twilio-sms"}
MONTHS = ["October", "November"]


@dataclass
class Customer:
    first: str
    last: str
    digits: str  # 10-digit US national number
    email: str | None

    def phone_as_sent(self, rng: random.Random) -> str:
        """Platforms send one number in many formats; the hub must see one customer."""
        area, mid, end = self.digits[:3], self.digits[3:6], self.digits[6:]
        return rng.choice(
            [f"({area}) {mid}-{end}", f"+1 {area}-{mid}-{end}", f"{area}.{mid}.{end}", f"+1{self.digits}"]
        )

    def email_as_sent(self, rng: random.Random) -> str | None:
        if self.email is None:
            return None
        return self.email if rng.random() < 0.7 else self.email.upper()


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _customers(rng: random.Random, count: int) -> list[Customer]:
    people = []
    for number in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        digits = f"{rng.choice(AREA_CODES)}555{number:04d}"
        email = (
            f"{first.lower()}.{last.lower()}{number}@example.com".replace("é", "e")
            if rng.random() < 0.75
            else None
        )
        people.append(Customer(first, last, digits, email))
    return people


def _transcript(rng: random.Random, channel: str, summary: str, outcome: str) -> list[dict[str, str]]:
    bot = "bot" if channel != "sms" else "agent"
    lines = [{"from": "customer", "text": summary}, {"from": bot, "text": "Thanks, let me look into that."}]
    if outcome in ("failed", "abandoned", "no_response"):
        lines.append({"from": bot, "text": "Could you confirm the code we just sent?"})
        if outcome == "failed":
            lines.append({"from": "customer", "text": "That didn't work either."})
    elif outcome == "escalated":
        lines.append({"from": "customer", "text": "I'd rather talk to a person."})
        lines.append({"from": "system", "text": "Transferred to the agent queue."})
    else:
        lines.append({"from": bot, "text": "All done. Anything else?"})
        lines.append({"from": "customer", "text": "No, thank you!"})
    return lines[: rng.randint(2, len(lines))] if outcome == "abandoned" else lines


def seeded_day(seed: int, events: int, end: datetime, run: str = "demo") -> list[dict[str, Any]]:
    """``events`` outcome payloads over the 12 hours before ``end``, in time order.

    Event ids start with ``run`` so two runs never collide as duplicates.
    """
    rng = random.Random(seed)
    people = _customers(rng, max(10, events // 3))
    start = end - timedelta(hours=12)
    payloads: list[dict[str, Any]] = []
    while len(payloads) < events:
        person = rng.choice(people)
        intent = _pick(rng, {code: spec["weight"] for code, spec in INTENTS.items()})
        spec = INTENTS[intent]
        at = start + timedelta(seconds=rng.uniform(0, 11 * 3600))
        # A journey: a failed or abandoned try is often followed by another channel about the same problem.
        for _hop in range(rng.choice([1, 1, 1, 2, 2, 3])):
            if len(payloads) >= events:
                break
            channel = _pick(rng, spec["channels"])
            outcome = _pick(rng, OUTCOMES_BY_CHANNEL[channel])
            summary = rng.choice(spec["summary"]).format(
                n=rng.randint(10000, 99999), m=rng.choice(MONTHS), d=rng.randint(5, 90)
            )
            customer: dict[str, Any] = {"name": f"{person.first} {person.last}"}
            if channel == "sms" or rng.random() < 0.8:
                customer["phone"] = person.phone_as_sent(rng)
            email = person.email_as_sent(rng)
            if email and (channel != "sms" or "phone" not in customer):
                customer["email"] = email
            if "phone" not in customer and "email" not in customer:
                customer["phone"] = person.phone_as_sent(rng)
            event: dict[str, Any] = {
                "event_id": f"{run}-{len(payloads):05d}",
                "source": SOURCES[channel],
                "occurred_at": at.isoformat().replace("+00:00", "Z"),
                "channel": channel,
                "customer": customer,
                "intent": intent,
                "outcome": outcome,
                "summary": summary,
                "transcript": _transcript(rng, channel, summary, outcome),
            }
            if channel == "self_service":
                event["step"] = rng.choice(spec["steps"])
                event["attempts"] = rng.randint(1, 3)
            if outcome in ("failed", "abandoned", "escalated") and rng.random() < 0.4:
                event["sentiment"] = "negative"
            if outcome == "escalated" and rng.random() < 0.3:
                event["disposition"] = "CALLBACK_REQUESTED"
            payloads.append(event)
            at += timedelta(minutes=rng.uniform(3, 45))
            if outcome == "resolved":
                break
    payloads.sort(key=lambda event: event["occurred_at"])
    return payloads
