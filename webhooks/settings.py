"""What the webhooks need from the configuration (``registry.config.Config``), with the defaults and their bounds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from registry.config import Config

#: seconds before each retry: 5 s, 5 min, 30 min, 2 h, 5 h, then 10 h six times (about 3.2 days in all);
#: after the last one fails the webhook is disabled
DEFAULT_RETRY_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0) + (36000.0,) * 6
#: the longest a connection may take to open (within the total timeout)
CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True)
class WebhookSettings:
    allow: tuple[str, ...] = ()
    key_path: str = "instance/webhook_key"
    timeout: float = 15.0
    retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    lease: float = 60.0
    poll: float = 0.5

    @classmethod
    def from_config(cls, config: Config) -> WebhookSettings:
        timeout = config.webhook_timeout
        return cls(
            allow=config.webhook_allow,
            key_path=config.webhook_key_path or str(Path(config.instance_path) / "webhook_key"),
            timeout=timeout,
            retry_schedule=config.webhook_retry_schedule or DEFAULT_RETRY_SCHEDULE,
            # a holder must be able to finish a send, and renew, well before its lease runs out
            lease=max(config.webhook_lease, 2 * timeout + 2),
            poll=min(max(config.webhook_poll, 0.05), 30.0),
        )

    @property
    def connect_timeout(self) -> float:
        return min(CONNECT_TIMEOUT, self.timeout)
