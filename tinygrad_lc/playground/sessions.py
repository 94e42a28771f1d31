"""The playground's sessions: one :class:`~tinygrad_lc.playground.state.State` per browser tab,
bounded in number and in idle time.

A session id is a random URL-safe string. A session that has not been used for
``idle_seconds`` is dropped; when ``max_sessions`` are alive, making a new one drops the one
used least recently. Memory is therefore bounded by ``max_sessions`` states of at most 1,000
points each. A dropped session's page gets a 404 and starts a new session from the state it
keeps in its URL.

>>> sessions = Sessions(max_sessions=2)
>>> a, _ = sessions.new()
>>> b, _ = sessions.new()
>>> c, _ = sessions.new()  # drops a, the least recently used
>>> len(sessions), a in sessions, c in sessions
(2, False, True)
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

from tinygrad_lc.playground.state import State
from tinygrad_lc.playground.validation import RequestError

__all__ = ["Sessions", "MAX_SESSIONS", "IDLE_SECONDS"]

MAX_SESSIONS = 64  # tabs alive at once
IDLE_SECONDS = 3600.0  # a tab unused for an hour is dropped


class Sessions:
    """Sessions by id, least recently used first; ``clock`` is injectable for tests."""

    def __init__(self, max_sessions: int = MAX_SESSIONS, idle_seconds: float = IDLE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_sessions < 1 or not idle_seconds > 0:
            raise ValueError(f"Sessions: max_sessions must be >= 1 and idle_seconds > 0, got "
                             f"{max_sessions} and {idle_seconds}")
        self.max_sessions, self.idle_seconds, self.clock = max_sessions, idle_seconds, clock
        self._alive: OrderedDict[str, tuple[State, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._alive)

    def __contains__(self, sid: str) -> bool:
        return sid in self._alive

    def new(self) -> tuple[str, State]:
        """A new session with the default data and parameters."""
        self.expire()
        while len(self._alive) >= self.max_sessions:
            self._alive.popitem(last=False)
        sid = secrets.token_urlsafe(12)
        state = State()
        self._alive[sid] = (state, self.clock())
        return sid, state

    def get(self, sid: str) -> State:
        """The session ``sid``, marked as just used; unknown or expired: a 404 RequestError."""
        self.expire()
        if sid not in self._alive:
            raise RequestError(f"no session {sid[:64]!r}: it expired after "
                               f"{self.idle_seconds / 60:g} idle minutes, or the server "
                               "restarted; reload the page to start a new one", 404)
        state = self._alive[sid][0]
        self._alive[sid] = (state, self.clock())
        self._alive.move_to_end(sid)
        return state

    def expire(self) -> None:
        """Drop the sessions idle for longer than ``idle_seconds``."""
        limit = self.clock() - self.idle_seconds
        while self._alive:
            sid, (_, used) = next(iter(self._alive.items()))
            if used >= limit:
                break
            del self._alive[sid]
