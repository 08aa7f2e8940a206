"""Passive outlier detection, after Envoy: eject a replica after N consecutive failures, re-admit it
when its ejection time has passed; each repeat ejection lasts longer, up to a ceiling."""

from __future__ import annotations

import logging
from collections.abc import Callable

from hub.model_settings import OutlierDetection
from hub.pools.replica import Replica

log = logging.getLogger("hub.pools")

Clock = Callable[[], float]


class OutlierDetector:
    def __init__(self, settings: OutlierDetection, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock

    def success(self, replica: Replica) -> None:
        replica.consecutive_failures = 0

    def failure(self, replica: Replica) -> None:
        replica.consecutive_failures += 1
        if replica.consecutive_failures < self._settings.consecutive_failures:
            return
        replica.consecutive_failures = 0
        replica.ejections += 1
        seconds = min(
            self._settings.base_ejection_seconds * replica.ejections, self._settings.max_ejection_seconds
        )
        replica.ejected_until = self._clock() + seconds
        log.warning("replica %s ejected for %.0f s after repeated failures", replica.name, seconds)
