"""An idle worker's warm shutdown is not held up by RQ's command listener (real Redis)."""

from __future__ import annotations

import threading

import redis
from rq import Queue
from rq.serializers import JSONSerializer

from tests.integration.conftest import wait_until
from workers.worker import CopilotWorker

# RQ's listener, polling every 60 s, held the shutdown a whole minute; half of that shows the poll no
# longer bounds it, with a wide margin over the 1 s poll on a busy machine.
STOP_CAP_S = 30.0


def test_unsubscribing_after_the_listener_saw_it_stops_within_the_cap(client: redis.Redis) -> None:
    worker = CopilotWorker(
        [Queue("triage", connection=client, serializer=JSONSerializer)],
        connection=client,
        serializer=JSONSerializer,
    )
    worker.subscribe()
    assert worker.pubsub is not None and worker.pubsub_thread is not None
    assert wait_until(lambda: bool(worker.pubsub and worker.pubsub.subscribed), STOP_CAP_S)
    # The slow order: the listener handles the unsubscription before the worker asks it to stop.
    worker.pubsub.unsubscribe()
    assert wait_until(lambda: not (worker.pubsub and worker.pubsub.subscribed), STOP_CAP_S)
    stopper = threading.Thread(target=worker.unsubscribe, daemon=True)
    stopper.start()
    stopper.join(STOP_CAP_S)
    assert not stopper.is_alive(), f"the worker's listener held its shutdown over {STOP_CAP_S:.0f} s"
    assert not worker.pubsub_thread.is_alive()
