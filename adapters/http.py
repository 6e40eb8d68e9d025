"""What the Salesforce and Zendesk adapters share: the session every request goes through, the
``Retry-After`` reading, the error-table lookup, and the in-call retry policy.

Neither adapter imports the other; both import this module (the independence contract in
``pyproject.toml`` covers only ``adapters.salesforce`` and ``adapters.zendesk``).

    BoundSession   our (connect, read) timeout on every request; a 429 (or a 5xx with Retry-After)
                   raised as ``requests.HTTPError`` so no library ever sleeps on it and the header
                   survives; an ``on_response`` hook (rate-limit and API-usage headers)
    retry_after    seconds from a Retry-After header (delta-seconds or an HTTP date)
    classify       the first matching row of an adapter's (status, code) -> CrmError table
    RetryPolicy    tenacity: a few quick tries inside one call for CrmRetryable failures, waiting
                   exactly Retry-After when the CRM gives one (never less), exponential backoff with
                   bounded jitter otherwise; anything longer is left to the worker's schedule
    one_by_one     a batch's writes that go alone, stopping at the first failure that is not the
                   record's own: the rest are answered ``CrmWriteNotSent`` (no attempt charged)
    split_batch    a batch's retries alone (``one_by_one``), its first attempts together
    RetryViews     ``with_retries`` / ``without_retries``: the same CRM account under another policy
"""

from __future__ import annotations

import copy
import email.utils
import random
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Self, TypeVar

import requests
import tenacity

from hub.domain.errors import (
    CrmError,
    CrmRecordRejected,
    CrmRetryable,
    CrmWriteNotSent,
    each_record_failure,
)
from hub.ports import BatchWrite, LinkResult

T = TypeVar("T")

# -- the session ------------------------------------------------------------------------------------


class BoundSession:
    """The ``requests.Session`` a client library sees: our timeout on every request.

    It sends through ``transport`` (the caller's session, e.g. the sandbox's in-process one)
    without changing it. ``on_response`` (optional) sees every answer before it is returned or
    raised, e.g. to keep the CRM's rate-limit headers.
    """

    def __init__(
        self,
        transport: requests.Session,
        timeout: tuple[float, float],
        on_response: Callable[[requests.Response], None] | None = None,
    ) -> None:
        self.transport = transport
        self.timeout = timeout
        self.on_response = on_response

    def __repr__(self) -> str:
        return f"{type(self).__name__}(timeout={self.timeout})"

    @property
    def proxies(self) -> Any:  # read by simple_salesforce.Salesforce.__init__
        return self.transport.proxies

    def prepare(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Subclasses add their headers and auth here."""
        return kwargs

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        response = self.transport.request(method, url, **self.prepare(kwargs))
        if self.on_response is not None:
            self.on_response(response)
        status = response.status_code
        if status == 429 or (status >= 500 and "Retry-After" in response.headers):
            raise requests.HTTPError(f"{status} {response.reason}", response=response)
        return response

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, data: Any = None, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url: str, data: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PUT", url, data=data, **kwargs)

    def patch(self, url: str, data: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", url, data=data, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", url, **kwargs)


# -- Retry-After and the error table --------------------------------------------------------------


def retry_after(headers: Mapping[str, str] | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    value = (headers or {}).get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now(), 0.0)


ANY = None  # a table row matching any error code
Statuses = int | range
Codes = str | Collection[str] | None
Row = tuple[Statuses, Codes, type[CrmError]]


def classify(table: tuple[Row, ...], status: int, code: str | None) -> type[CrmError]:
    """The CrmError class of the first row matching ``status`` and ``code``; CrmRetryable if none.

    A row's code is ANY, one code, or a collection of codes.
    """
    for statuses, codes, error in table:
        if not (status in statuses if isinstance(statuses, range) else status == statuses):
            continue
        if codes is ANY or code == codes or (not isinstance(codes, str) and code in codes):
            return error
    return CrmRetryable  # 1xx/2xx never get here; anything stranger is worth another try


# -- retrying inside one call -----------------------------------------------------------------------


def nap(seconds: float) -> None:
    """The real wait of a ``RetryPolicy`` without its own ``sleep`` (tests replace this)."""
    time.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How a call is tried again before its failure is handed to the worker (tenacity underneath).

    Only ``CrmRetryable`` failures are tried again (the adapter's table decided that), at most
    ``attempts`` tries in all, and only while the waits add up to no more than ``budget`` seconds.
    A ``Retry-After`` is waited exactly (never less); one longer than ``max_wait`` is not waited
    here at all: the error leaves at once, carrying it, and the worker reschedules the event.
    Without one, the waits grow ``initial * 2^n`` (capped at ``max_wait``) plus up to ``jitter``
    seconds. ``sleep`` and ``rng`` are injectable, so tests never wait.

    Web requests must never wait: they use ``RetryPolicy.none()`` (see the adapters'
    ``without_retries()``).
    """

    attempts: int = 3
    max_wait: float = 5.0
    budget: float = 10.0
    initial: float = 0.5
    jitter: float = 0.5
    sleep: Callable[[float], None] | None = field(default=None, compare=False)  # None: ``nap``
    rng: random.Random = field(default_factory=random.Random, compare=False)

    @classmethod
    def none(cls) -> RetryPolicy:
        """One try, no waiting (web requests)."""
        return cls(attempts=1, max_wait=0.0, budget=0.0)

    @property
    def retries(self) -> bool:
        return self.attempts > 1

    def with_sleep(self, sleep: Callable[[float], None], rng: random.Random | None = None) -> RetryPolicy:
        return replace(self, sleep=sleep, rng=rng or self.rng)

    def wait_for(self, error: BaseException, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (1 for the first)."""
        given = getattr(error, "retry_after", None)
        if given is not None:
            return float(given)
        backoff = min(self.max_wait, self.initial * 2 ** max(attempt - 1, 0))
        return min(self.max_wait, backoff + self.rng.uniform(0.0, self.jitter))

    def worth_retrying(self, error: BaseException) -> bool:
        if not isinstance(error, CrmRetryable) or isinstance(error, CrmWriteNotSent):
            return False  # a write never sent goes back to the worker, free
        given = error.retry_after
        return given is None or given <= self.max_wait

    def call(self, attempt: Callable[[int], T], *, only: Callable[[BaseException], bool] | None = None) -> T:
        """``attempt(n)`` for n = 1, 2, ... until it returns or the policy gives up (re-raising).
        ``only`` narrows what is tried again (e.g. a bulk submit only when the CRM answered, so no
        job was made)."""
        if not self.retries:
            return attempt(1)

        def worth(error: BaseException) -> bool:
            return self.worth_retrying(error) and (only is None or only(error))

        def wait(state: tenacity.RetryCallState) -> float:
            assert state.outcome is not None
            return self.wait_for(state.outcome.exception(), state.attempt_number)

        def stop(state: tenacity.RetryCallState) -> bool:
            if state.attempt_number >= self.attempts:
                return True
            return state.idle_for + (state.upcoming_sleep or 0.0) > self.budget

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(worth),
            wait=wait,
            stop=stop,
            sleep=self.sleep or nap,
            reraise=True,
        )
        for try_ in retrying:
            with try_:
                return attempt(try_.retry_state.attempt_number)
        raise AssertionError("unreachable: tenacity re-raises the last failure")  # pragma: no cover


W = TypeVar("W")


def one_by_one(writes: Collection[W], write: Callable[[W], T]) -> list[T | CrmError]:
    """Each write alone, in order. A record's own rejection fails that record; any other failure
    (the CRM down or rate limited, quota, auth) stops there: the writes after it are answered
    ``CrmWriteNotSent`` (carrying the cause and its Retry-After), so a batch of retries during an
    outage ends in one call, well inside the worker's lease, and charges only the write that met
    the failure."""
    results: list[T | CrmError] = []
    stopped: CrmError | None = None
    for item in writes:
        if stopped is not None:
            results.append(CrmWriteNotSent.stopped_by(stopped))
            continue
        try:
            results.append(write(item))
        except CrmRecordRejected as exc:
            results.append(exc)
        except CrmError as exc:
            results.append(exc)
            stopped = exc
    return results


def split_batch(
    writes: Sequence[BatchWrite],
    *,
    alone: Callable[[BatchWrite], LinkResult],
    together: Callable[[list[BatchWrite]], list[LinkResult | Exception]],
) -> list[LinkResult | Exception]:
    """``BatchingCRM.write_batch`` for both adapters: a write that may have landed already
    (``retrying``) goes alone through the single path, which looks before it writes and rejects
    only its own culprit; first attempts go ``together``, whose failure as a whole is each one's."""
    results: list[LinkResult | Exception | None] = [None] * len(writes)
    again = [index for index, write in enumerate(writes) if write.retrying]
    for index, result in zip(again, one_by_one([writes[i] for i in again], alone), strict=True):
        results[index] = result
    fresh = [index for index, write in enumerate(writes) if not write.retrying]
    if fresh:
        position = {index: n for n, index in enumerate(fresh)}  # ``joins`` names the write's place
        try:
            answers = together(
                [
                    replace(writes[i], joins=position.get(writes[i].joins, -1))
                    if writes[i].joins is not None
                    else writes[i]
                    for i in fresh
                ]
            )
        except CrmError as exc:
            answers = [each_record_failure(exc)] * len(fresh)
        for index, answer in zip(fresh, answers, strict=True):
            results[index] = answer
    return [result for result in results if result is not None]


def write_alone(crm: Any, write: BatchWrite) -> LinkResult:
    """One batch write through the CRM port's single calls."""
    if write.case is not None:
        return crm.create_case(write.case, write.activity, retrying=write.retrying)
    return crm.append_activity(str(write.case_id), write.activity, retrying=write.retrying)


class RetryViews:
    """Views of one CRM adapter that differ only in their in-call retry policy. A view shares the
    account's state (session, token, quota and rate-limit state) with the adapter it came from."""

    retry: RetryPolicy

    def with_retries(self, policy: RetryPolicy) -> Self:
        view = copy.copy(self)
        view.retry = policy
        return view

    def without_retries(self) -> Self:
        """Never waiting inside a call: what code serving a web request must use."""
        return self.with_retries(RetryPolicy.none())
