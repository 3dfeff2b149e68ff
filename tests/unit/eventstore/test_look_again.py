"""When `run_projector` looks again after a NOTIFY (`LookAgainAfterNotify`): every NOTIFY answered one window later.

An append that sends no NOTIFY committed less than one window after one that was sent;
a look one window after each NOTIFY's arrival therefore reads it. Times are given, not
waited for (whole numbers, so that no rounding decides a comparison).
"""

import itertools

from eventstore.projections.wakeups import LookAgainAfterNotify

WINDOW = 10.0


def test_nothing_is_due_before_a_notify() -> None:
    look = LookAgainAfterNotify(WINDOW)
    assert look.seconds_left(100.0) == float("inf")
    assert not look.take(100.0)


def test_a_notify_is_answered_one_window_after_it_arrived_and_once() -> None:
    look = LookAgainAfterNotify(WINDOW)
    look.notified(100.0)
    assert look.seconds_left(104.0) == 6.0
    assert not look.take(109.0)
    assert look.take(110.0)
    assert not look.take(111.0)
    assert look.seconds_left(111.0) == float("inf")


def test_notifies_while_a_look_is_due_share_it_and_the_last_gets_one_more() -> None:
    look = LookAgainAfterNotify(WINDOW)
    look.notified(100.0)
    look.notified(104.0)
    look.notified(107.0)
    assert look.take(110.0)  # not postponed by the later ones
    assert look.seconds_left(110.0) == 7.0  # the last one's own, one window after it
    assert not look.take(116.0)
    assert look.take(117.0)
    assert look.seconds_left(117.0) == float("inf")


def test_a_late_look_covers_every_notify_a_window_older() -> None:
    look = LookAgainAfterNotify(WINDOW)
    look.notified(100.0)
    look.notified(102.0)
    assert look.take(150.0)  # the listener was busy: this one look comes after both windows
    assert look.seconds_left(150.0) == float("inf")


def test_a_steady_stream_of_notifies_gets_a_look_every_window() -> None:
    look = LookAgainAfterNotify(WINDOW)
    taken = []
    for now in range(100, 300, 2):  # a NOTIFY every 2 units
        if look.take(float(now)):
            taken.append(now)
        look.notified(float(now))
    assert taken[0] == 110
    assert all(later - earlier <= WINDOW + 2 for earlier, later in itertools.pairwise(taken))
    assert taken[-1] >= 290


def test_the_window_defaults_to_the_notify_coalescing_setting(settings) -> None:
    settings.EVENTSTORE_NOTIFY_COALESCE_MS = 25
    assert LookAgainAfterNotify().window == 0.025
