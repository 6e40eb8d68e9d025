"""``SandboxSms``: an ``SmsSender`` that sends nothing and records every message (``--sandbox``, demo).

Messages are kept in memory, in order, as Twilio would list them; ``find`` looks them up the way the
Twilio adapter does (recipient and body, since the attempt's claim). ``fail_next`` raises the given
errors once each, for tests and demos of failure paths.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hub.domain.errors import OutreachError
from hub.domain.redaction import mask
from hub.ports import OutreachConfig, SmsMessage, SmsReceipt

log = logging.getLogger(__name__)
PROVIDER = "sandbox"


@dataclass(frozen=True)
class SentSms:
    sid: str
    key: str
    to: str
    body: str
    sent_at: datetime


@dataclass
class SandboxSms:
    name: str = PROVIDER
    messages: list[SentSms] = field(default_factory=list)
    fail_next: list[OutreachError] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(self, message: SmsMessage) -> SmsReceipt:
        with self._lock:
            if self.fail_next:
                raise self.fail_next.pop(0)
            digest = hashlib.sha256(f"{message.key}\x00{len(self.messages)}".encode()).hexdigest()[:32]
            sent = SentSms("SM" + digest, message.key, message.to, message.body, datetime.now(UTC))
            self.messages.append(sent)
        log.info("sandbox SMS %s to %s (%d characters)", sent.sid, mask(message.to), len(message.body))
        return SmsReceipt(provider=PROVIDER, id=sent.sid, status="sent")

    def find(self, message: SmsMessage) -> SmsReceipt | None:
        with self._lock:
            for sent in self.messages:
                if sent.to == message.to and sent.body == message.body:
                    return SmsReceipt(provider=PROVIDER, id=sent.sid, status="sent", found=True)
        return None

    def sent_to(self, to: str) -> list[SentSms]:
        with self._lock:
            return [sent for sent in self.messages if sent.to == to]


def build_sender(config: OutreachConfig) -> SandboxSms:
    """The ``cti_hub.outreach`` entry point ``sandbox``."""
    return SandboxSms()
