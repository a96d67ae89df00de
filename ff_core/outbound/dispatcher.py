"""The dispatcher: follows each project's change log and delivers every change to the
project's webhooks and the SQS sink, at least once (docs/WEBHOOKS.md).

```
 every FF_OUTBOUND_POLL_INTERVAL_S, per project with webhooks (or every project with SQS):
   enqueue  read_changes(seq > cursor) ─► per change and target: log entry + pending item
            (put if absent: replicas that race write each once) ─► move the cursor
   deliver  pending items due ─► claim (conditional, with a lease) ─► POST / SendMessage
            ─► settle: delivered | retry at now + backoff | failed after the last attempt
```

Each replica runs one; claims make the first claimant the only sender of a delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from ff_core.errors import NotFound, StoreError
from ff_core.models import ChangeEntry, HistoryEntry
from ff_core.outbound import signing
from ff_core.outbound.models import SQS_TARGET, Attempt, DeliveryStatus, Event, Webhook
from ff_core.outbound.sqs import SqsSink
from ff_core.outbound.store import OutboundStore, Pending
from ff_core.settings import Settings
from ff_core.store import DynamoStore
from ff_core.store.items import PROJECTS_PK, history_id

log = logging.getLogger("ff.outbound")
USER_AGENT = "ff-webhooks/1"
# Changes read per project per round: a long backlog drains over several rounds.
_BATCH = 100


def backoff_s(attempt: int, initial_s: float, max_s: float) -> float:
    """Delay after failed attempt ``attempt`` (1-based): doubling from ``initial_s`` up to
    ``max_s``, uniform in [d/2, d] so that receivers coming back are not hit all at once."""
    delay = min(max_s, initial_s * 2 ** min(attempt - 1, 32))
    return random.uniform(delay / 2, delay)


class Dispatcher:
    def __init__(
        self,
        store: DynamoStore,
        settings: Settings,
        *,
        key_secret: bytes,
        http: httpx.AsyncClient,
        sqs: SqsSink | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._outbound = OutboundStore(store, log_ttl_days=settings.webhook_log_ttl_days)
        self._settings = settings
        self._key_secret = key_secret
        self._http = http
        self._sqs = sqs
        self._clock = clock
        self._slots = asyncio.Semaphore(settings.webhook_concurrency)
        # Who holds a claim: unique per dispatcher, so a replica's own stale claim is not
        # mistaken for a current one.
        self.owner = secrets.token_hex(8)
        self._failing: set[str] = set()

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a defect: say so, and keep the task alive for the next round
                log.exception("outbound dispatch round failed")
            await asyncio.sleep(self._settings.outbound_poll_interval_s)

    async def run_once(self) -> None:
        """One round over every followed project; store trouble is logged once per outage."""
        try:
            projects = await self._projects()
        except StoreError as exc:
            self._warn_once("*", f"cannot list the projects to dispatch events of ({exc})")
            return
        if "*" in self._failing:
            self._failing.discard("*")
            log.warning("listing the projects to dispatch events of again")
        for project in projects:
            try:
                webhooks = {w.id: w for w in await self._outbound.list_webhooks(project)}
                webhooks = await self._enqueue(project, webhooks)
                await self._deliver(project, webhooks)
            except StoreError as exc:
                self._warn_once(project, f"cannot dispatch events of {project} ({exc})")
                continue
            except Exception:  # a defect: say so every time, and go on with the others
                log.exception("could not dispatch events of %s", project)
                continue
            if project in self._failing:
                self._failing.discard(project)
                log.warning("dispatching events of %s again", project)

    def _warn_once(self, project: str, message: str) -> None:
        if project not in self._failing:
            self._failing.add(project)
            log.warning("%s; retrying every round", message)

    async def _projects(self) -> list[str]:
        followed = set(await self._outbound.outbound_projects())
        if self._sqs is not None:
            followed.update(await self._outbound.partition_keys(PROJECTS_PK))
        return sorted(followed)

    # -- enqueue -------------------------------------------------------------------------------

    async def _enqueue(self, project: str, webhooks: dict[str, Webhook]) -> dict[str, Webhook]:
        """Enqueue the changes after the cursor; returns the webhooks as last listed (the
        deliveries must know every webhook an enqueued event was meant for)."""
        if not webhooks and self._sqs is None:
            return webhooks
        cursor = await self._outbound.get_cursor(project)
        if cursor is None:
            # First round for this project: webhooks get what follows their creation, the
            # SQS sink what follows now.
            starts = [w.start_seq for w in webhooks.values()]
            if self._sqs is not None:
                starts.append(await self._store.get_seq(project))
            await self._outbound.move_cursor(project, None, min(starts))
            cursor = await self._outbound.get_cursor(project)
            assert cursor is not None
        changes = await self._store.read_changes(project, cursor, limit=_BATCH)
        if not changes:
            return webhooks
        # Listed again after the changes were read: a webhook created since the round began
        # is included, and one created after this read starts after these changes.
        webhooks = {w.id: w for w in await self._outbound.list_webhooks(project)}
        if changes[0].seq != cursor + 1:
            log.warning(
                "events %d to %d of %s expired from the change log before they were sent",
                cursor + 1,
                changes[0].seq - 1,
                project,
            )
        now = self._clock()
        for change in changes:
            event = Event.of(change, await self._history(change))
            targets = [w.id for w in webhooks.values() if w.wants(change)]
            if self._sqs is not None:
                targets.append(SQS_TARGET)
            for target in targets:
                await self._outbound.enqueue(target, event, now)
        # Lost to another replica: it enqueued the same changes (put-if-absent) meanwhile.
        await self._outbound.move_cursor(project, cursor, changes[-1].seq)
        return webhooks

    async def _history(self, change: ChangeEntry) -> HistoryEntry | None:
        """Who made the change: its history entry, whose id the change entry determines."""
        entry_id = history_id(change.at, change.seq)
        with contextlib.suppress(NotFound):
            return await self._store.get_history_entry(
                change.project, change.entity, change.key, entry_id
            )
        return None

    # -- deliver -------------------------------------------------------------------------------

    async def _deliver(self, project: str, webhooks: dict[str, Webhook]) -> None:
        due = await self._outbound.due(project, self._clock())
        if not due:
            return
        results = await asyncio.gather(
            *(self._deliver_one(project, target, seq, webhooks) for target, seq in due),
            return_exceptions=True,
        )
        # Every delivery has run its course; the first failure is the round's to report.
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _deliver_one(
        self, project: str, target: str, seq: int, webhooks: dict[str, Webhook]
    ) -> None:
        webhook = webhooks.get(target)
        if webhook is None and not (target == SQS_TARGET and self._sqs is not None):
            await self._outbound.drop(project, target, seq)  # deleted, or SQS switched off
            return
        async with self._slots:
            settings = self._settings
            pending = await self._outbound.claim(
                project, target, seq, self.owner, self._clock(), settings.webhook_lease_s
            )
            if pending is None:
                return  # another replica has it, or it was settled meanwhile
            if webhook is None:
                attempt = await self._send_sqs(pending)
            else:
                attempt = await self._post(webhook, pending)
        ok = attempt.error is None
        if ok:
            status, retry_at = DeliveryStatus.DELIVERED, None
        elif pending.attempts >= settings.webhook_max_attempts:
            status, retry_at = DeliveryStatus.FAILED, None
        else:
            delay = backoff_s(
                pending.attempts, settings.webhook_backoff_initial_s, settings.webhook_backoff_max_s
            )
            status, retry_at = DeliveryStatus.PENDING, attempt.at + timedelta(seconds=delay)
        if not ok:
            log.warning(
                "event %s:%d to %s: attempt %d failed (%s)%s",
                project,
                seq,
                target,
                pending.attempts,
                attempt.error,
                "; giving up" if status is DeliveryStatus.FAILED else "",
            )
        await self._outbound.settle(pending, attempt, status, retry_at)

    async def _post(self, webhook: Webhook, pending: Pending) -> Attempt:
        secret = signing.webhook_secret(self._key_secret, webhook.id)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            signing.EVENT_ID_HEADER: f"{pending.project}:{pending.seq}",
            signing.ATTEMPT_HEADER: str(pending.attempts),
            signing.SIGNATURE_HEADER: signing.sign(secret, pending.body, int(time.time())),
        }
        at = self._clock()
        timeout = self._settings.webhook_timeout_s
        try:
            # Streamed and never read: a receiver's body is not ours to download.
            async with self._http.stream(
                "POST", webhook.url, content=pending.body, headers=headers, timeout=timeout
            ) as response:
                code = response.status_code
        except httpx.TimeoutException:
            return Attempt(at=at, error=f"no answer within {timeout:g} s")
        except httpx.ConnectError:
            return Attempt(at=at, error="could not connect")
        except httpx.HTTPError as exc:
            # The class only: messages may quote the URL, which may carry a token.
            return Attempt(at=at, error=f"request failed ({type(exc).__name__})")
        if 200 <= code < 300:
            return Attempt(at=at, status_code=code)
        return Attempt(at=at, status_code=code, error=f"answered HTTP {code}")

    async def _send_sqs(self, pending: Pending) -> Attempt:
        assert self._sqs is not None
        at = self._clock()
        error = await self._sqs.send(
            pending.project, f"{pending.project}:{pending.seq}", pending.body
        )
        return Attempt(at=at, error=error)
