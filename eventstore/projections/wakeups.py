"""How projections get woken: every way a committed event reaches the runner, in one place.

A projection advances only when a runner (`eventstore.projections.runner.catch_up`)
is asked to look. Five mechanisms ask, each covering what the others can miss:

1. **Cache flags + Celery (the main path).** After each append commits,
   `after_append` sends `events_committed`; its receiver `request_catch_up` sets a
   per-projection "pending" flag in the cache (Redis in production, all flags in one
   pipelined round trip) and queues `catch_up_projection` only for the flags it set.
   A burst of commits thus queues one task per projection, not one per commit. The
   flag stays set while the task's catch-up runs (`HeldTrigger`): a runner at the head
   under steady appends keeps reading what keeps coming, and a task queued by each
   commit it will read anyway would only find the projection busy, yet take a worker
   slot, so that the next projection's catch-up waits in the broker behind it. Before
   it stops, the runner marks the flag and looks once more; a commit during that look
   marks it too, and the runner deletes the flag only if none did: a commit after the
   delete queues a task of its own, one before it is read by a look. A runner that
   stops because another one holds the projection leaves the flag to the holder. A
   flag outlives a lost task or a killed worker for PENDING_TTL_SECONDS at most, and
   beat's catch-ups, which pass the flags, clear it sooner.
2. **Look-again notes.** A runner that finds the projection held by another worker
   (its checkpoint row is locked) cannot wait for it without occupying a worker
   thread; it leaves a note (`leave_look_again_note`), and the holder, before it
   stops at the head, takes the note (`take_look_again_note`) and looks once more,
   since the other runner's trigger may have come after its last read.
3. **NOTIFY, coalesced (for `run_projector`).** Where the backend `listens`
   (PostgreSQL), `after_append` also sends a NOTIFY, in a tiny transaction of its own
   after the commit: inside the append it would take a cluster-wide lock at commit
   and make concurrent appenders queue for one WAL flush each. A process sends at
   most one per EVENTSTORE_NOTIFY_COALESCE_MS, and none while no listener has announced
   itself in the shared cache lately (`announce_listener`, `someone_listens`: a
   deployment woken by Celery alone pays no NOTIFY; a listener that has just announced
   itself looks again once appenders have all asked the cache since); every append it
   skips within a window committed less
   than one window after a NOTIFY that was sent, so the listener, besides waking at
   each NOTIFY, looks again one window after it (`LookAgainAfterNotify`) and no
   append goes unseen. A wake-up reaches every projection at once: `run_projector`
   gives each a thread (`eventstore.projections.projector`), because a runner at the
   head under steady appends keeps reading what keeps coming, and projections taken
   in turn would each wait for the others' catch-ups to end. A wake-up that comes
   during a catch-up asks that thread for one more after it, which starts later than
   the wake-up and so reads what was committed before it. A runner whose next events
   are committed but still hidden by an open transaction, most often another
   projection's batch in the same process or another process's append, looks again
   as soon as any batch of the process commits or any wake-up comes
   (`runner.commits_heard`), its short back-off only bounding the wait.
4. **Read-your-writes nudges.** A query waiting for a token
   (`eventstore.projections.consistency`) that keeps waiting calls `nudge` for the
   projections still behind: a trigger lost to a crash, or a catch-up that stopped
   while an older transaction hid the event, must not make readers wait for beat.
5. **Beat.** `catch_up_all_projections` runs every few seconds and queues a catch-up
   of every projection past the flags: the safety net for everything above (a flag
   left by a killed worker would otherwise hold its projection's triggers back).

Everything after a commit is best-effort (`eventstore.post_commit`): the command has
happened, and a failed wake-up only delays the views until the next mechanism looks.
The mechanisms cover each other's gaps, so they are kept in this one module, longer
than most, where the reasoning can be read whole.
"""

import logging
import time
from collections.abc import Sequence
from typing import Any, Final

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache
from redis.commands.core import Script

from eventstore.backends import recorder_for
from eventstore.log.positions import Checkpoint
from eventstore.post_commit import best_effort, record_failure
from eventstore.projections.base import all_projections
from eventstore.signals import events_committed

logger = logging.getLogger(__name__)

PENDING_TTL_SECONDS: Final = 30
LOOK_AGAIN_TTL_SECONDS: Final = 60


# 1. Cache flags and the Celery trigger -----------------------------------------------


def pending_key(name: str) -> str:
    """The cache key of a projection's "a catch-up is queued or running and will look again" flag."""
    return f"eventstore:catch-up-pending:{name}"


HELD: Final = 1
"""A flag's value while its catch-up is queued or reads on."""
RELEASING: Final = 2
"""While the catch-up takes its last look before it stops."""
DIRTY: Final = 3
"""A commit found the flag RELEASING: the catch-up must look again before it stops."""


def clear_pending(name: str) -> None:
    """Commits from now on need a task of their own."""
    cache.delete(pending_key(name))


STOP_SCRIPT: Final = f"""
if redis.call('GET', KEYS[1]) == '{RELEASING}' then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""
"""Delete the flag if still RELEASING (1); a commit that made it DIRTY, or a flag set anew, keeps it (0)."""


class HeldTrigger:
    """A task's catch-up holding its projection's pending flag until it stops (see 1. above).

    Commits find the flag set and queue nothing while the runner reads on. At the head the
    runner marks the flag RELEASING and looks once more; a commit meanwhile finds it so and
    marks it DIRTY, queueing nothing. When the last look finds nothing the runner deletes
    the flag only if it is still RELEASING (one script): a commit after that queues a task,
    one before it was read by the look or left the flag DIRTY, and the runner looks again.
    When a look finds events the flag is HELD again. No commit thus queues a task that
    would only find the projection busy, and none is left unread.

    Without Redis (the embedded default, its cache per process) releasing deletes the flag
    and reading on sets it again only if no commit did meanwhile (`cache.add`): a commit in
    between queues a task, which finds the projection busy at worst.

    Every cache call is best-effort: with the cache unreachable the runner stops, and
    beat's catch-ups bring the views along.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.releasing = False
        self.stopped = False

    def may_stop(self) -> bool:
        """At the head: False while the runner must look once more, True when the flag is gone and it may stop."""
        if not self.releasing:
            self.releasing = True
            return not best_effort("cache", self._mark_releasing)
        redis = redis_cache()
        try:
            gone = redis is None or bool(
                _stop_script(redis)(keys=[redis.make_and_validate_key(pending_key(self.name))])
            )
        except Exception:
            record_failure("cache")
            gone = True
        if not gone:
            return not best_effort("cache", self._mark_releasing)
        self.stopped = True
        return True

    def reading_on(self) -> None:
        """The runner applied a batch after marking the flag: it holds it again."""
        if not self.releasing:
            return
        self.releasing = False
        redis = redis_cache()
        if redis is None:
            best_effort("cache", cache.add, pending_key(self.name), HELD, timeout=PENDING_TTL_SECONDS)
            return
        key = redis.make_and_validate_key(pending_key(self.name))
        best_effort("cache", _kept_client(redis).set, key, HELD, ex=PENDING_TTL_SECONDS)

    def stop_short(self) -> None:
        """The runner stops before the head (or fails): the next commit must queue a task."""
        if not self.stopped:
            best_effort("cache", clear_pending, self.name)
            self.stopped = True

    def _mark_releasing(self) -> None:
        redis = redis_cache()
        if redis is None:
            cache.delete(pending_key(self.name))
            return
        key = redis.make_and_validate_key(pending_key(self.name))
        _kept_client(redis).set(key, RELEASING, ex=PENDING_TTL_SECONDS)


def request_catch_up_of(name: str) -> None:
    """Queue a catch-up unless one is already waiting to start or running."""
    from eventstore.tasks import catch_up_projection

    if not cache.add(pending_key(name), 1, timeout=PENDING_TTL_SECONDS):
        return
    try:
        catch_up_projection.delay(name)
    except Exception:
        cache.delete(pending_key(name))
        raise


def prepare_publisher() -> None:
    """Build now, without any I/O, what this process's first catch-up trigger would build on its way out.

    Celery builds its task registry (importing every app's tasks), the result backend and
    the broker transport lazily, on the first task a process sends. In a web worker that
    send comes after a command's commit, while every other process's commits find the
    flag set and wait on that task: the first command after a start would pay for it,
    and with it the views' lag of every command around it. Done at start-up (the app
    registry is ready) it costs that start-up instead. No broker connection is opened
    here: `warm_up_publisher` does that where a process is known to serve commands.
    """
    from eventstore.tasks import catch_up_projection

    app = catch_up_projection.app
    if app.conf.task_always_eager:
        return  # tasks run in-process: nothing is ever sent
    app.finalize(auto=True)
    app.backend  # noqa: B018  (built on first access)
    app.amqp.send_task_message  # noqa: B018
    app.connection_for_write().transport_cls  # noqa: B018  (imports the transport module)


def warm_up_publisher() -> None:
    """At a web worker's start: connect to the broker and the cache the way a commit's trigger will.

    `prepare_publisher`, then the broker connection of the producer pool opened and the
    catch-up queue declared (kombu declares a queue once per connection, on the first
    send), and the kept cache client connected with its scripts loaded. Best-effort: a
    broker or cache down at start-up is the triggers' own business (`request_catch_up`).
    """
    from eventstore.tasks import catch_up_projection

    prepare_publisher()
    app = catch_up_projection.app
    if app.conf.task_always_eager:
        return
    try:
        route = app.amqp.router.route({}, catch_up_projection.name)
        with app.producer_or_acquire() as producer:
            producer.maybe_declare(route["queue"])
    except Exception:
        logger.warning("could not connect to the broker at start-up; the first trigger will", exc_info=True)
    redis = redis_cache()
    if redis is not None:
        try:
            client = _kept_client(redis)
            for script in (_set_flags_script(redis), _stop_script(redis)):
                client.script_load(script.script)  # else the first call is refused, loads it, and calls again
        except Exception:
            logger.warning("could not connect to the cache at start-up; the first trigger will", exc_info=True)


def redis_cache() -> RedisCache | None:
    """The default cache's backend when it is Redis, else None.

    Not `isinstance(cache, RedisCache)`: `django.core.cache.cache` is a proxy, never an
    instance of the backend class.
    """
    backend = caches[DEFAULT_CACHE_ALIAS]
    return backend if isinstance(backend, RedisCache) else None


SET_FLAGS_SCRIPT: Final = f"""
local added = {{}}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, {HELD}, 'NX', 'EX', ARGV[1]) then
    added[i] = 1
  else
    added[i] = 0
    if redis.call('GET', key) == '{RELEASING}' then
      redis.call('SET', key, {DIRTY}, 'KEEPTTL')
    end
  end
end
return added
"""
"""`SET key 1 NX EX ttl` for every key (what `cache.add` sends), in one command: 1 where it set the flag;
a flag found RELEASING becomes DIRTY (`HeldTrigger`)."""


def _set_flags_script(redis: RedisCache) -> Script:
    """The flag-setting script, registered once per process on the cache's own connection pool.

    Django's `get_client` builds a new redis-py client (hundreds of Python calls) on every
    cache operation; a command pays this on every commit, so the client and its script are
    made once and kept on Django's cache client, whose pool lives as long as it does.
    redis-py clients are thread-safe and their pools reconnect after a fork.
    """
    return _kept_script(redis, "_eventstore_set_flags", SET_FLAGS_SCRIPT)


def request_catch_up(**_: Any) -> None:
    """Receiver of `events_committed`: every projection may have new work.

    Runs after a command's commit, so it never raises: with the cache or the broker
    unreachable it gives up after one bounded try, and beat's catch-up (or
    `run_projector`) brings the views along when they are back. Every command pays
    this, so with Redis all the flags are set by one server-side script in one round
    trip and one command (`_set_flags_script`) instead of one `cache.add` each
    (bench/commands.py weighs it as the `pipeline` trick).
    """
    names = tuple(projection.name for projection in all_projections())
    redis = redis_cache()
    if redis is None:
        _publish([name for name in names if cache.add(pending_key(name), 1, timeout=PENDING_TTL_SECONDS)])
        return
    try:
        keys = _flag_keys(redis, names)
        added = _set_flags_script(redis)(keys=keys, args=[PENDING_TTL_SECONDS])
    except Exception:
        record_failure("cache")  # no flag, no publish: a second timeout would only double the delay
        return
    _publish([name for name, was_added in zip(names, added, strict=True) if was_added])


def _flag_keys(redis: RedisCache, names: tuple[str, ...]) -> list[str]:
    """The cache keys of the projections' flags, made once per process and set of projections.

    A key depends only on the name and the cache's fixed prefix and version; every
    command asks for them, and Django's key making and validating is Python on every call.
    """
    holder = redis._cache
    made: dict[tuple[str, ...], list[str]] | None = getattr(holder, "_eventstore_flag_keys", None)
    if made is None:
        made = holder._eventstore_flag_keys = {}  # type: ignore[attr-defined]  # Django declares no such attribute
    keys = made.get(names)
    if keys is None:
        keys = made[names] = [redis.make_and_validate_key(pending_key(name)) for name in names]
    return keys


def _publish(names: Sequence[str]) -> None:
    """Queue a catch-up of each projection whose flag we set; on the first failure stop and drop the rest's flags.

    A flag left set without its task would hold that projection's triggers back for
    PENDING_TTL_SECONDS, so the flags of what was not queued are deleted (best-effort too).
    """
    from eventstore.tasks import catch_up_projection

    for index, name in enumerate(names):
        try:
            catch_up_projection.delay(name)
        except Exception:
            record_failure("publish")
            best_effort("cache", cache.delete_many, [pending_key(n) for n in names[index:]])
            return


# 2. Look-again notes -----------------------------------------------------------------


def look_again_key(name: str) -> str:
    return f"eventstore:catch-up-look-again:{name}"


def leave_look_again_note(name: str) -> None:
    """The projection is busy in another runner: ask it to look once more before it stops."""
    cache.set(look_again_key(name), 1, timeout=LOOK_AGAIN_TTL_SECONDS)


def take_look_again_note(name: str) -> bool:
    """True (and the note gone) when another runner asked this one to look once more.

    Every catch-up asks this before it stops, so with Redis it goes through a client kept
    on Django's cache client (`_kept_client`), not one built per call.
    """
    redis = redis_cache()
    if redis is None:
        return bool(cache.delete(look_again_key(name)))
    return bool(_kept_client(redis).delete(redis.make_and_validate_key(look_again_key(name))))


def _stop_script(redis: RedisCache) -> Script:
    """STOP_SCRIPT, registered once per process like the flag-setting script."""
    return _kept_script(redis, "_eventstore_stop", STOP_SCRIPT)


def _kept_script(redis: RedisCache, attribute: str, source: str) -> Script:
    """A Lua script registered on the kept client once, and kept under `attribute` on Django's cache client."""
    client_holder = redis._cache
    script: Script | None = getattr(client_holder, attribute, None)
    if script is None:
        script = _kept_client(redis).register_script(source)
        setattr(client_holder, attribute, script)  # Django's cache client declares no such attribute
    return script


def _kept_client(redis: RedisCache) -> Any:
    """A redis-py client on the cache's own pool, made once per process (see `_set_flags_script`)."""
    holder = redis._cache
    client = getattr(holder, "_eventstore_client", None)
    if client is None:
        client = holder.get_client(write=True)
        holder._eventstore_client = client  # type: ignore[attr-defined]  # Django declares no such attribute
    return client


# 3. NOTIFY, coalesced ----------------------------------------------------------------

_last_notified = float("-inf")


def after_append(using: str) -> None:
    """Wake the projections once an append has committed; nothing here may fail the append."""
    if recorder_for(using).listens:
        best_effort("notify", notify_coalesced, using)
    best_effort("catch_up", events_committed.send, sender=after_append)


def notify_coalesced(using: str) -> None:
    """NOTIFY listeners, unless this process sent one less than EVENTSTORE_NOTIFY_COALESCE_MS ago or none listens."""
    global _last_notified
    now = time.monotonic()
    if now - _last_notified < settings.EVENTSTORE_NOTIFY_COALESCE_MS / 1000 or not settings.EVENTSTORE_NOTIFY:
        return
    if not someone_listens(now):
        return
    _last_notified = now
    recorder_for(using).notify(settings.EVENTSTORE_NOTIFY_CHANNEL, using=using)


LISTENER_KEY: Final = "eventstore:notify-listener"
LISTENER_TTL_SECONDS: Final = 15.0
"""A listener announces itself at least every third of this; gone longer, appenders stop notifying."""
NO_LISTENER_MEMO_SECONDS: Final = 0.5
"""How long an appender believes nobody listens before it asks the cache again."""
LISTENER_MEMO_SECONDS: Final = 1.0
_listener_memo: tuple[float, bool] = (float("-inf"), True)


def announce_listener() -> None:
    """A listener (`run_projector`) tells appenders it is there; it repeats this every LISTENER_TTL_SECONDS / 3."""
    cache.set(LISTENER_KEY, 1, timeout=LISTENER_TTL_SECONDS)


def someone_listens(now: float) -> bool:
    """Whether a listener announced itself lately, asked of the shared cache at most every memo period.

    A deployment woken by Celery alone runs no listener, and a NOTIFY is a round trip and
    a transaction of its own after every command's commit. Where the cache is not shared
    (not Redis) this process cannot know of a listener elsewhere, and with the cache
    unreachable it cannot tell either: then it notifies, as before there was a cache.
    An appender may go on believing nobody listens for NO_LISTENER_MEMO_SECONDS after a
    listener announced itself, so the listener looks again once that has passed.
    """
    global _listener_memo
    until, listening = _listener_memo
    if now < until:
        return listening
    if redis_cache() is None:
        return True
    try:
        listening = cache.get(LISTENER_KEY) is not None
    except Exception:
        return True
    _listener_memo = (now + (LISTENER_MEMO_SECONDS if listening else NO_LISTENER_MEMO_SECONDS), listening)
    return listening


def reset_notify_window() -> None:
    """Forget when this process last notified and what it knew of listeners (tests start from a clean window)."""
    global _last_notified, _listener_memo
    _last_notified = float("-inf")
    _listener_memo = (float("-inf"), True)


class LookAgainAfterNotify:
    """When a woken listener must look once more, for the appends whose NOTIFY was folded in.

    An append sends none when its process notified less than one window before, so it
    committed before that NOTIFY was sent plus one window: a catch-up started one window
    after the NOTIFY arrived reads it. Every NOTIFY is answered by such a look; the
    NOTIFYs arriving while one is due share it, and the last of them gets its own, so a
    steady stream of NOTIFYs asks for at most one look per window, never postpones one.
    """

    def __init__(self, window: float | None = None) -> None:
        self.window = float(settings.EVENTSTORE_NOTIFY_COALESCE_MS) / 1000 if window is None else window
        self.due_at: float | None = None
        self._last_notify = float("-inf")

    def notified(self, now: float) -> None:
        self._last_notify = now
        if self.due_at is None:
            self.due_at = now + self.window

    def seconds_left(self, now: float) -> float:
        """Until the next look is due (infinite when none is)."""
        return float("inf") if self.due_at is None else max(0.0, self.due_at - now)

    def take(self, now: float) -> bool:
        """True (and the look taken) when one is due; a NOTIFY that came after it was set gets the next."""
        if self.due_at is None or now < self.due_at:
            return False
        later = self._last_notify + self.window
        self.due_at = later if later > now else None  # a look now covers every NOTIFY a window older
        return True


# 4. Read-your-writes nudges ----------------------------------------------------------


def nudge(checkpoint: Checkpoint, names: Sequence[str]) -> None:
    """Ask for a catch-up of each named projection not yet past `checkpoint` (a reader is waiting on it)."""
    from eventstore.projections.runner import passed

    for name in names:
        if not passed(checkpoint, [name]):
            try:
                request_catch_up_of(name)
            except Exception:  # a broker hiccup must not fail a query; beat remains the net
                logger.warning("could not request a catch-up of %s", name, exc_info=True)


# 5. Beat: eventstore.tasks.catch_up_all_projections (CELERY_BEAT_SCHEDULE) -----------
