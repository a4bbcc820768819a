"""One contract for every `TaskStore`: the SQL repository on a real SQLite file and on
PostgreSQL, and the in-memory double shipped in `streamdrop.testing`, behave alike."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import AsyncIterator

import anyio
import pytest
from tests.factories import new_task
from tests.pgcluster import create_database

from streamdrop.service.owners import gone_on
from streamdrop.storage import db
from streamdrop.storage.protocol import Conflict, LeaseLost, NotFound, TaskStore
from streamdrop.storage.repository import Repository
from streamdrop.storage.rows import Lease, Notification, TaskRow
from streamdrop.storage.states import (
    NOT_VALIDATED_AHEAD,
    State,
    TransitionError,
    is_validated_ahead,
)
from streamdrop.testing import FakeClock, InMemoryRepository

pytestmark = pytest.mark.anyio

OWNER = f"testhost:{os.getpid()}:abc"
OTHER = "otherhost:1:x"


@pytest.fixture(params=["sqlite", "memory", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[TaskStore]:
    if request.param == "memory":
        yield InMemoryRepository(clock.time)
        return
    if request.param == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
    else:  # the server fixture is synchronous: an async one cannot be asked for here
        server: str = request.getfixturevalue("postgres_server")
        url = await create_database(server, "c_" + uuid.uuid4().hex[:12])
    await db.upgrade(url)
    repository = Repository.from_url(url, clock.time)
    yield repository
    await repository.close()


async def claimed(store: TaskStore, name: str = "a.json", *, owner: str = OWNER,
                  ) -> tuple[TaskRow, Lease]:
    """A registered task of its own target, claimed by `owner`."""
    target = f"t-{name}"
    await store.ensure_targets([target])
    await store.register(new_task(name, target=target))
    got = await store.claim(target, owner, 30, max_active=1)
    assert got is not None
    return got


async def importing(store: TaskStore, name: str, next_poll_at: float | None) -> TaskRow:
    _, lease = await claimed(store, name)
    await store.advance(lease, State.UPLOADING, remote_path=f"s3://{name}")
    return await store.advance(lease, State.IMPORTING, import_id=f"imp-{name}",
                               next_poll_at=next_poll_at)


async def test_same_identity_registers_once_and_a_duplicate_points_at_it(
        store: TaskStore, clock: FakeClock) -> None:
    first, created = await store.register(new_task("a.json"))
    again, created_again = await store.register(new_task("b.json", identity="id-a.json"))
    assert created
    assert not created_again
    assert again.id == first.id
    dup = await store.add_duplicate(new_task("b.json", identity="id-a.json"), first.id,
                                    "/dups/b")
    assert (dup.state, dup.duplicate_of, dup.identity) == (State.DUPLICATE, first.id, None)
    assert (dup.dest_path, dup.finished_at) == ("/dups/b", clock.time())
    assert [e.to_state for e in await store.events_of(dup.id)] == ["duplicate"]
    assert [t.id for t in await store.by_source("/drop/b.json")] == [dup.id]


async def test_claims_follow_drop_order_and_max_active(store: TaskStore) -> None:
    await store.ensure_targets(["default"])
    await store.register(new_task("late.json", found_at=5))
    await store.register(new_task("b.json", found_at=2))
    await store.register(new_task("a.json", found_at=2))
    got = await store.claim("default", OWNER, 30, max_active=1)
    assert got is not None
    task, lease = got
    assert (task.rel_path, task.state, task.attempts) == ("a.json", State.VALIDATING, 1)
    assert (lease.owner, lease.fence) == (OWNER, task.fence)
    assert await store.claim("default", OWNER, 30, max_active=1) is None
    second = await store.claim("default", OWNER, 30, max_active=3)
    third = await store.claim("default", OWNER, 30, max_active=3)
    assert second is not None
    assert third is not None
    assert [second[0].rel_path, third[0].rel_path] == ["b.json", "late.json"]
    assert await store.claim("default", OWNER, 30, max_active=9) is None


async def test_claims_made_at_once_stay_within_max_active(store: TaskStore) -> None:
    await store.ensure_targets(["default"])
    for n in range(6):
        await store.register(new_task(f"f{n}.json", found_at=n))
    got: list[int] = []

    async def claim(n: int) -> None:
        result = await store.claim("default", f"h:{n}:x", 30, max_active=2)
        if result is not None:
            got.append(result[0].id)

    async with anyio.create_task_group() as group:
        for n in range(8):
            group.start_soon(claim, n)
    # PostgreSQL's claimers skip a target another is claiming (SKIP LOCKED): they may
    # come back empty-handed, never over the limit, never with the same task
    assert 1 <= len(got) <= 2
    assert len(set(got)) == len(got)
    assert len(await store.list_tasks(state=State.VALIDATING)) == len(got)


async def test_max_active_is_counted_per_target(store: TaskStore) -> None:
    await store.ensure_targets(["one", "two"])
    await store.register(new_task("a.json", target="one"))
    await store.register(new_task("b.json", target="one"))
    await store.register(new_task("c.json", target="two"))
    assert await store.claim("one", OWNER, 30, max_active=1) is not None
    assert await store.claim("one", OWNER, 30, max_active=1) is None
    other = await store.claim("two", OWNER, 30, max_active=1)
    assert other is not None
    assert other[0].rel_path == "c.json"


async def test_paused_or_unknown_target_gives_no_work(store: TaskStore) -> None:
    await store.ensure_targets(["default"])
    await store.register(new_task("a.json"))
    await store.register(new_task("z.json", target="nowhere"))
    assert await store.claim("nowhere", OWNER, 30, max_active=1) is None
    await store.set_paused("default", True, "operator")
    (flags,) = await store.list_targets()
    assert (flags.name, flags.paused, flags.paused_reason) == ("default", True, "operator")
    assert await store.claim("default", OWNER, 30, max_active=1) is None
    await store.set_paused("default", False)
    assert await store.claim("default", OWNER, 30, max_active=1) is not None


async def test_pausing_an_unknown_target_records_it(store: TaskStore) -> None:
    await store.ensure_targets(["b", "a"])
    await store.set_paused("c", True, "task 3 failed")
    await store.ensure_targets(["a", "c"])  # known names are left as they are
    flags = {t.name: (t.paused, t.paused_reason) for t in await store.list_targets()}
    assert list(flags) == ["a", "b", "c"]
    assert flags["c"] == (True, "task 3 failed")


async def test_expired_lease_is_reaped_and_old_holder_fenced_out(
        store: TaskStore, clock: FakeClock) -> None:
    await store.ensure_targets(["default"])
    await store.register(new_task("a.json"))
    got = await store.claim("default", OWNER, 30, max_active=1)
    assert got is not None
    _, old_lease = got
    clock.advance(29)
    assert await store.reap(lambda _owner: False) == 0
    clock.advance(2)
    assert await store.reap(lambda _owner: False) == 1
    reclaimed = await store.claim("default", OTHER, 30, max_active=1)
    assert reclaimed is not None
    assert reclaimed[1].fence == old_lease.fence + 1
    assert reclaimed[0].attempts == 2
    with pytest.raises(LeaseLost):
        await store.advance(old_lease, State.UPLOADING, remote_path="s3://x")
    with pytest.raises(LeaseLost):
        await store.release(old_lease, retry_at=clock.time(), error="late")
    task = await store.advance(reclaimed[1], State.UPLOADING, remote_path="s3://y")
    assert task.remote_path == "s3://y"


async def test_renewed_lease_outlives_its_first_term(store: TaskStore,
                                                     clock: FakeClock) -> None:
    task, lease = await claimed(store)
    await claimed(store, "b.json", owner=OTHER)
    clock.advance(20)
    assert await store.renew(OWNER, 30) == 1
    clock.advance(20)  # 40 s after the claim, 20 s after the renewal
    assert await store.reap(lambda _owner: False) == 1  # only OTHER's lapsed
    assert (await store.advance(lease, error="still mine")).error == "still mine"
    assert (await store.get(task.id)).lease_expires_at == clock.time() + 10


async def test_lease_of_a_gone_owner_is_void_at_once(store: TaskStore) -> None:
    await store.ensure_targets(["default"])
    await store.register(new_task("a.json"))
    await store.register(new_task("b.json", found_at=2))
    await store.claim("default", "testhost:999999:dead", 30, max_active=2)
    await store.claim("default", OWNER, 30, max_active=2)
    gone = gone_on("testhost", alive=lambda pid: pid != 999999)
    assert await store.reap(gone) == 1
    held = {t.rel_path: t.lease_owner for t in await store.list_tasks()}
    assert held == {"a.json": None, "b.json": OWNER}  # our own process is never gone
    again = await store.claim("default", OTHER, 30, max_active=2)
    assert again is not None
    assert again[0].rel_path == "a.json"


async def test_every_transition_leaves_an_event_and_final_queues_notification(
        store: TaskStore, clock: FakeClock) -> None:
    task, lease = await claimed(store)
    await store.advance(lease, State.UPLOADING, remote_path="s3://p")
    await store.advance(lease, State.IMPORTING, import_id="imp-1", import_state="uploaded")
    clock.advance(5)
    done = await store.advance(lease, State.COMPLETED, detail="ok",
                               notify=[Notification("imported", "{}", '["json://x"]')])
    assert (done.lease_owner, done.lease_expires_at) == (None, None)
    assert done.finished_at == clock.time()
    assert (done.remote_path, done.import_id, done.import_state) == ("s3://p", "imp-1",
                                                                     "uploaded")
    events = await store.events_of(task.id)
    assert [(e.from_state, e.to_state) for e in events] == [
        (None, "pending"), ("pending", "validating"), ("validating", "uploading"),
        ("uploading", "importing"), ("importing", "completed")]
    assert events[-1].detail == "ok"
    assert events[-1].owner == OWNER
    assert await store.pending_notifications() == 1
    (due,) = await store.take_notifications(10, hold_seconds=60)
    assert (due.kind, due.task_id, due.urls, due.attempts) == ("imported", task.id,
                                                               '["json://x"]', 0)
    assert await store.take_notifications(10, hold_seconds=60) == []  # held for another
    with pytest.raises(LeaseLost):  # a final task has no lease left
        await store.advance(lease, error="after the end")


async def test_a_move_the_state_machine_forbids_is_refused(store: TaskStore) -> None:
    task, lease = await claimed(store)
    with pytest.raises(TransitionError):
        await store.advance(lease, State.COMPLETED)
    assert (await store.get(task.id)).state == State.VALIDATING
    assert [e.to_state for e in await store.events_of(task.id)] == ["pending", "validating"]


async def test_failed_notification_comes_back_when_due_and_done_ends_it(
        store: TaskStore, clock: FakeClock) -> None:
    _, lease = await claimed(store)
    await store.advance(lease, State.INVALID,
                        notify=[Notification("invalid", "{}", "[]"),
                                Notification("other", "{}", "[]")])
    first = await store.take_notifications(1, hold_seconds=60)
    assert [r.kind for r in first] == ["invalid"]
    await store.notification_failed(first[0].id, clock.time() + 10, "HTTP 500")
    assert [r.kind for r in await store.take_notifications(10, 60)] == ["other"]
    clock.advance(11)
    (again,) = await store.take_notifications(10, 60)
    assert (again.kind, again.attempts, again.last_error) == ("invalid", 1, "HTTP 500")
    await store.notification_done(again.id)
    assert await store.pending_notifications() == 1  # "other", still held
    clock.advance(61)
    assert [r.kind for r in await store.take_notifications(10, 60)] == ["other"]


async def test_skip_takes_the_lease_away_and_retry_starts_over(
        store: TaskStore, clock: FakeClock) -> None:
    task, lease = await claimed(store)
    await store.advance(lease, State.UPLOADING, remote_path="s3://p")
    skipped = await store.skip(task.id)
    assert (skipped.state, skipped.lease_owner) == (State.SKIPPED, None)
    with pytest.raises(LeaseLost):
        await store.advance(lease, State.IMPORTING)
    with pytest.raises(Conflict):
        await store.skip(task.id)
    clock.advance(100)
    retried = await store.retry(task.id, "/failed/a.json")
    assert (retried.state, retried.source_path) == (State.PENDING, "/failed/a.json")
    assert (retried.remote_path, retried.attempts, retried.finished_at) == (None, 0, None)
    assert retried.found_at == clock.time()
    assert [e.detail for e in await store.events_of(task.id)][-2:] == ["skip", "retry"]
    with pytest.raises(Conflict):
        await store.retry(task.id, "/failed/a.json")
    again = await store.claim(task.target, OWNER, 30, max_active=1)
    assert again is not None
    assert again[0].fence > lease.fence


async def test_released_task_waits_in_pending_and_is_not_overtaken(
        store: TaskStore, clock: FakeClock) -> None:
    await store.ensure_targets(["default"])
    await store.register(new_task("a.json", found_at=1))
    await store.register(new_task("b.json", found_at=2))
    got = await store.claim("default", OWNER, 30, max_active=2)
    assert got is not None
    await store.release(got[1], retry_at=clock.time() + 10, error="HTTP 503")
    released = await store.get(got[0].id)
    assert (released.state, released.lease_owner, released.error, released.next_attempt_at) \
        == (State.PENDING, None, "HTTP 503", clock.time() + 10)
    assert [(e.from_state, e.to_state, e.detail) for e in await store.events_of(got[0].id)][-1] \
        == (State.VALIDATING, State.PENDING, "HTTP 503")
    assert await store.claim("default", OWNER, 30, max_active=2) is None  # b waits behind a
    clock.advance(11)
    again = await store.claim("default", OWNER, 30, max_active=2)
    assert again is not None
    assert (again[0].rel_path, again[0].state, again[0].attempts, again[0].next_attempt_at) \
        == ("a.json", State.VALIDATING, 2, None)


async def test_released_after_its_upload_url_it_resumes_uploading(
        store: TaskStore, clock: FakeClock) -> None:
    _, lease = await claimed(store, "a.json")
    await store.advance(lease, State.UPLOADING, remote_path="s3://a.json")
    await store.release(lease, retry_at=clock.time(), error="connection refused to h:1")
    assert (await store.get(lease.task_id)).state == State.PENDING
    again = await store.claim("t-a.json", OWNER, 30, max_active=1)
    assert again is not None
    assert (again[0].state, again[0].remote_path) == (State.UPLOADING, "s3://a.json")


async def test_an_import_released_stays_importing(store: TaskStore, clock: FakeClock) -> None:
    task = await importing(store, "a.json", next_poll_at=None)
    await store.release(Lease(task.id, OWNER, task.fence), retry_at=clock.time(), error="x")
    assert (await store.get(task.id)).state == State.IMPORTING


async def test_release_all_lets_others_go_on_at_once(store: TaskStore) -> None:
    await claimed(store, "a.json")
    await claimed(store, "b.json")
    await claimed(store, "c.json", owner=OTHER)
    assert await store.release_all(OWNER) == 2
    assert {t.lease_owner for t in await store.list_tasks()} == {None, OTHER}
    assert [(t.rel_path, t.state) for t in await store.list_tasks()] == [
        ("a.json", State.PENDING), ("b.json", State.PENDING), ("c.json", State.VALIDATING)]


async def test_imports_nobody_holds_are_adopted_with_a_new_fence(store: TaskStore) -> None:
    orphan = await importing(store, "a.json", next_poll_at=None)
    await importing(store, "b.json", next_poll_at=None)
    await store.release_all(OWNER)
    await claimed(store, "c.json")  # validating, not importing: not adopted
    await store.release_all(OWNER)
    assert await store.adopt_imports(OTHER, 30) == 2
    assert await store.adopt_imports(OTHER, 30) == 0
    held = await store.held_imports(OTHER)
    assert [t.rel_path for t in held] == ["a.json", "b.json"]
    assert held[0].fence == orphan.fence + 1
    assert await store.held_imports(OWNER) == []


async def test_held_imports_come_soonest_poll_first(store: TaskStore) -> None:
    await importing(store, "later.json", next_poll_at=50.0)
    await importing(store, "sooner.json", next_poll_at=10.0)
    await importing(store, "never.json", next_poll_at=None)
    order = [t.rel_path for t in await store.held_imports(OWNER)]
    assert order == ["never.json", "sooner.json", "later.json"]


async def test_reading_counts_and_filters(store: TaskStore, clock: FakeClock) -> None:
    await store.ensure_targets(["one", "two"])
    await store.register(new_task("a.json", target="one", found_at=3))
    await store.register(new_task("b.json", target="two", found_at=2))
    await store.register(new_task("c.json", target="two", found_at=4))
    got = await store.claim("two", OWNER, 30, max_active=1)
    assert got is not None
    await store.advance(got[1], State.INVALID, report='{"valid": false}')
    assert await store.counts() == {"pending": 2, "invalid": 1}
    assert [t.rel_path for t in await store.unfinished()] == ["a.json", "c.json"]
    oldest = await store.oldest_unfinished()
    assert oldest is not None
    assert oldest.rel_path == "a.json"
    assert [t.rel_path for t in await store.list_tasks(state="pending")] == ["a.json",
                                                                           "c.json"]
    assert [t.rel_path for t in await store.list_tasks(target="two")] == ["b.json", "c.json"]
    # The newest two (an operator's `tasks --limit 2`), oldest first.
    assert [t.rel_path for t in await store.list_tasks(limit=2)] == ["b.json", "c.json"]
    assert len(await store.list_tasks(limit=5)) == 3
    assert (await store.get(got[0].id)).report == '{"valid": false}'
    with pytest.raises(NotFound):
        await store.get(999)
    assert await store.events_of(999) == []
    assert store.clock() == clock.time()


async def test_the_last_finished_task_is_the_latest_to_reach_a_final_state(
        store: TaskStore, clock: FakeClock) -> None:
    assert await store.last_finished() is None
    first, first_lease = await claimed(store, "a.json")
    second, second_lease = await claimed(store, "b.json")
    await claimed(store, "c.json")  # never finishes
    await store.advance(second_lease, State.INVALID)
    clock.advance(5)
    await store.advance(first_lease, State.INVALID)
    last = await store.last_finished()
    assert last is not None
    assert (last.id, last.finished_at) == (first.id, clock.time())
    assert second.id != first.id


async def test_daemons_register_beat_and_stop_with_what_they_hold(store: TaskStore,
                                                                 clock: FakeClock) -> None:
    from streamdrop.service.owners import is_silent, registration

    started = clock.time()
    await store.heartbeat(registration(OWNER, started, started))
    clock.advance(10)
    await store.heartbeat(registration(OTHER, clock.time(), clock.time()))
    await claimed(store, "held.json", owner=OWNER)
    clock.advance(5)
    await store.heartbeat(registration(OWNER, started, clock.time()))  # a beat, not a new row
    rows = await store.list_daemons()
    assert [(d.owner, d.host, d.holds) for d in rows] == [(OTHER, "otherhost", 0),
                                                          (OWNER, "testhost", 1)]
    mine = rows[1]
    assert (mine.started_at, mine.heartbeat_at, mine.pid) == (started, started + 15, os.getpid())
    clock.advance(100)
    assert is_silent(rows[0], clock.time(), lease_seconds=30)
    assert not is_silent(rows[0], clock.time(), lease_seconds=60)
    await store.daemon_stopped(OTHER)
    stopped = (await store.list_daemons())[0]
    assert stopped.stopped_at == clock.time()
    assert not is_silent(stopped, clock.time(), lease_seconds=30)  # stopped, not gone


async def _finish(store: TaskStore, lease: Lease, state: State) -> None:
    await store.advance(lease, State.UPLOADING, remote_path="s3://p")
    await store.advance(lease, State.IMPORTING, import_id=f"imp-{lease.task_id}")
    await store.advance(lease, state)


async def test_a_file_to_split_is_checked_ahead_first_one_batch_at_a_time(
        store: TaskStore) -> None:
    await store.ensure_targets(["default", "other"])
    cap = {"default": 100, "other": 1000}
    for n, (name, size, target) in enumerate([("a.json", 10, "default"),
                                              ("big.json", 500, "default"),
                                              ("fits.json", 500, "other"),
                                              ("big2.json", 500, "default")]):
        await store.register(dataclasses.replace(new_task(name, found_at=n, target=target),
                                                 size=size))
    # The file over its target's cap comes first, wherever it is in the drop order ...
    big = await store.claim_validation(OWNER, 30, ahead=1, split_over=cap)
    assert big is not None and big[0].rel_path == "big.json"
    # ... one at a time: meanwhile the others are checked in drop order, within `ahead`.
    small = await store.claim_validation(OWNER, 30, ahead=1, split_over=cap)
    assert small is not None and small[0].rel_path == "a.json"
    await store.set_validated(small[1], True)
    assert await store.claim_validation(OWNER, 30, ahead=1, split_over=cap) is None
    # Split into parts: the next big file waits until a part of this batch has started.
    part = dataclasses.replace(new_task("big.json#part-1", found_at=1), batch_id=big[0].id,
                               part_number=1)
    await store.add_parts(big[1], [part])
    assert await store.claim_validation(OWNER, 30, ahead=1, split_over=cap) is None
    slot = await store.claim("default", OWNER, 30, max_active=1)
    assert slot is not None and slot[0].rel_path == "a.json"
    await _finish(store, slot[1], State.COMPLETED)
    started = await store.claim("default", OWNER, 30, max_active=1)
    assert started is not None and started[0].rel_path == "big.json#part-1"
    # "fits.json" is under its own target's cap: not taken out of turn.
    second = await store.claim_validation(OWNER, 30, ahead=1, split_over=cap)
    assert second is not None and second[0].rel_path == "big2.json"


async def test_a_batch_goes_part_after_part_in_its_files_place(store: TaskStore) -> None:
    await store.ensure_targets(["default"])
    await store.register(new_task("big.json", found_at=1))
    await store.register(new_task("later.json", found_at=2))
    big, lease = await store.claim("default", OWNER, 30, max_active=3)  # type: ignore[misc]
    parts = [dataclasses.replace(new_task(f"big.json#part-{n}", found_at=1), batch_id=big.id,
                                 part_number=n) for n in (1, 2, 3)]
    rows = await store.add_parts(lease, parts)
    assert (await store.get(big.id)).state == State.BATCHED
    assert [p.id for p in await store.parts_of(big.id)] == [r.id for r in rows]
    with pytest.raises(LeaseLost):  # the lease was let go with the split
        await store.add_parts(lease, parts)
    first = await store.claim("default", OWNER, 30, max_active=3)
    assert first is not None and first[0].id == rows[0].id
    # Part 2 waits for part 1, and nothing after it in the drop order starts meanwhile.
    assert await store.claim("default", OWNER, 30, max_active=3) is None
    await _finish(store, first[1], State.COMPLETED)
    second = await store.claim("default", OWNER, 30, max_active=3)
    assert second is not None and second[0].id == rows[1].id
    await _finish(store, second[1], State.FAILED)
    # A failed part holds the rest of its batch; later files go on.
    later = await store.claim("default", OWNER, 30, max_active=3)
    assert later is not None and later[0].rel_path == "later.json"
    assert await store.claim("default", OWNER, 30, max_active=3) is None
    # Retried and completed, the last part goes, then the batched file itself is claimable.
    await store.retry(rows[1].id, "/work/p2")
    retried = await store.claim("default", OWNER, 30, max_active=3)
    assert retried is not None and retried[0].id == rows[1].id
    await _finish(store, retried[1], State.COMPLETED)
    third = await store.claim("default", OWNER, 30, max_active=3)
    assert third is not None and third[0].id == rows[2].id
    await _finish(store, third[1], State.COMPLETED)
    finished = await store.claim("default", OWNER, 30, max_active=3)
    assert finished is not None and finished[0].id == big.id
    assert finished[0].state == State.BATCHED


async def test_a_retried_batch_imports_its_parts_again(store: TaskStore) -> None:
    await store.ensure_targets(["default"])
    await store.register(new_task("big.json", found_at=1))
    big, lease = await store.claim("default", OWNER, 30, max_active=1)  # type: ignore[misc]
    part = dataclasses.replace(new_task("big.json#part-1", found_at=1), batch_id=big.id,
                               part_number=1)
    [first] = await store.add_parts(lease, [part])
    claimed = await store.claim("default", OWNER, 30, max_active=1)
    assert claimed is not None
    await _finish(store, claimed[1], State.COMPLETED)
    done = await store.claim("default", OWNER, 30, max_active=1)
    assert done is not None and done[0].id == big.id
    await store.advance(done[1], State.COMPLETED)
    # An operator retries the file: split again into the same bytes (a new mtime), each
    # part is imported again, from the new split's file, in the file's new place.
    await store.retry(big.id, "/drop/big.json")
    again, lease = await store.claim("default", OWNER, 30, max_active=1)  # type: ignore[misc]
    resplit = dataclasses.replace(part, mtime_ns=2, found_at=again.found_at)
    [row] = await store.add_parts(lease, [resplit])
    assert row.id == first.id and row.state == State.PENDING
    assert (row.mtime_ns, row.found_at, row.import_id) == (2, again.found_at, None)
    claimed = await store.claim("default", OWNER, 30, max_active=1)
    assert claimed is not None and claimed[0].id == first.id
    assert [e.detail for e in await store.events_of(first.id)][-2:] == ["retry with its batch",
                                                                     None]


async def test_parts_already_recorded_are_kept(store: TaskStore) -> None:
    await store.ensure_targets(["default"])
    await store.register(new_task("big.json"))
    big, lease = await store.claim("default", OWNER, 30, max_active=1)  # type: ignore[misc]
    part = dataclasses.replace(new_task("big.json#part-1"), batch_id=big.id, part_number=1)
    await store.register(part)  # recorded by an earlier try, before the daemon died
    rows = await store.add_parts(lease, [part])
    assert len(await store.list_tasks()) == 2
    assert rows[0].batch_id == big.id


async def test_files_are_validated_ahead_of_the_slots_in_drop_order(store: TaskStore) -> None:
    await store.ensure_targets(["default"])
    await store.register(new_task("a.json", found_at=1))
    await store.register(new_task("b.json", found_at=2))
    await store.register(new_task("c.json", found_at=3))
    await store.set_paused("default", True)  # paused or not, files are checked
    first = await store.claim_validation(OWNER, 30, ahead=1)
    assert first is not None and first[0].rel_path == "a.json"
    assert first[0].state == State.PENDING  # no slot taken
    second = await store.claim_validation(OWNER, 30, ahead=1)
    assert second is not None and second[0].rel_path == "b.json"
    await store.advance(second[1], State.INVALID)  # an invalid file ends at once
    await store.set_paused("default", False)
    # While a file is being checked ahead, its target's claims wait for it (drop order).
    assert await store.claim("default", OWNER, 30, max_active=1) is None
    await store.set_validated(first[1], True)
    # One valid file waits with its verdict: with ahead=1, no more are checked.
    assert await store.claim_validation(OWNER, 30, ahead=1) is None
    slot = await store.claim("default", OWNER, 30, max_active=1)
    assert slot is not None and slot[0].rel_path == "a.json"
    assert is_validated_ahead(slot[0].report)
    third = await store.claim_validation(OWNER, 30, ahead=1)
    assert third is not None and third[0].rel_path == "c.json"
    # A file that could not be checked ahead is left to its slot, and does not count.
    await store.set_validated(third[1], False)
    assert (await store.get(third[0].id)).report == NOT_VALIDATED_AHEAD
    assert await store.claim_validation(OWNER, 30, ahead=1) is None  # nothing left to check
