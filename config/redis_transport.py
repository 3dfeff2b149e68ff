"""Kombu's Redis transport, made to survive its broker dying under a busy worker.

When Redis goes away while a worker holds unacknowledged messages (a catch-up task
running, acks late), kombu closes the channel and then tries to give those messages
back to Redis through a connection that is already gone; the AttributeError that
follows ("'NoneType' object has no attribute 'hostname'") escapes as an
"Unrecoverable error" and the worker process exits. Here a channel whose connection
is gone skips that restore and forgets its acks locally: the messages stay in
Redis's unacked index (redelivered after the visibility timeout), or were lost with a
Redis that kept nothing, which beat's catch-up covers. The worker reconnects by itself.
Selected by settings.CELERY_BROKER_TRANSPORT for `redis://` brokers.
"""

from typing import Any

from kombu.transport import redis


class QoS(redis.QoS):
    def _connection_gone(self) -> bool:
        transport = getattr(self.channel, "connection", None)
        return transport is None or getattr(transport, "client", None) is None

    def restore_unacked(self, client: Any = None) -> Any:
        if self._connection_gone():
            self._delivered.clear()
            return None
        return super().restore_unacked(client)

    def ack(self, delivery_tag: Any) -> None:
        if self._connection_gone():
            super(redis.QoS, self).ack(delivery_tag)  # the in-memory bookkeeping only
            return
        super().ack(delivery_tag)


class Channel(redis.Channel):
    QoS = QoS


class Transport(redis.Transport):
    Channel = Channel
