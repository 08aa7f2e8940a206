"""Webhook configs, at most ``a2a.max_push_configs_per_task`` of them per task.

Each task update is POSTed to every webhook of its task, so without a bound one caller could turn
each event of a task into any number of outbound requests. A config past the bound is refused when
it is set (``InvalidParamsError``: -32602, HTTP+JSON 400), naming the bound; replacing one (the same
config id) is always allowed. Delivery reads at most the bound's configs too, so configs set at the
same moment through several hub replicas, which may pass the count together, still cost no more
POSTs per event than the bound.
"""

from __future__ import annotations

from a2a.server.context import ServerCallContext
from a2a.server.tasks import DatabasePushNotificationConfigStore, PushNotificationConfigStore
from a2a.types.a2a_pb2 import TaskPushNotificationConfig
from a2a.utils.errors import InvalidParamsError


class BoundedPushConfigs(PushNotificationConfigStore):
    """The SDK's database store of webhook configs, with the per-task bound."""

    def __init__(self, store: DatabasePushNotificationConfigStore, limit: int) -> None:
        self._store = store
        self.limit = limit

    async def initialize(self) -> None:
        await self._store.initialize()

    async def set_info(
        self, task_id: str, notification_config: TaskPushNotificationConfig, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        existing = await self._store.get_info_for_dispatch(task_id)
        config_id = notification_config.id or task_id  # the SDK's default id
        if len(existing) >= self.limit and all(config.id != config_id for config in existing):
            raise InvalidParamsError(
                message=f"The task already has {len(existing)} webhooks, the most one task may have "
                f"(a2a.max_push_configs_per_task); delete one before adding another"
            )
        return await self._store.set_info(task_id, notification_config, context)

    async def get_info(self, task_id: str, context: ServerCallContext) -> list[TaskPushNotificationConfig]:
        return await self._store.get_info(task_id, context)

    async def get_info_for_dispatch(self, task_id: str) -> list[TaskPushNotificationConfig]:
        return (await self._store.get_info_for_dispatch(task_id))[: self.limit]

    async def delete_info(
        self, task_id: str, context: ServerCallContext, config_id: str | None = None
    ) -> None:
        await self._store.delete_info(task_id, context, config_id)
