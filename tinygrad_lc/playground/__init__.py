"""The lecture's interactive linear-classification demo, driven by the library (extra
``playground``: Starlette and uvicorn).

The public face of ``tinygrad_lc.playground``: ``app()`` is the ASGI application (in
``routes.py``); ``start()`` serves it on a background thread, for notebooks and tests (in
``server.py``); ``tinygrad-lc playground`` serves it in the foreground. A session's state and
its numbers are in ``state.py``, the sessions' bounds in ``sessions.py``, the checks of every
request in ``validation.py``, and the page in ``static/``.
"""

from tinygrad_lc.playground.routes import app
from tinygrad_lc.playground.server import Running, start
from tinygrad_lc.playground.state import State

__all__ = ["app", "start", "Running", "State"]
