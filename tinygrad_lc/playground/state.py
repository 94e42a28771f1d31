"""One browser tab's classifier: its points, W and b, loss, optimizer and loss history.

Every number the page shows is computed here by the library: the scores ``points @ W + b``
and the losses by ``tinygrad_lc.losses`` (three SVMs, softmax) and ``regularizers.l2``, the
gradients by ``tinygrad_lc.autodiff.grad`` and ``backward()``, the updates by
``tinygrad_lc.optim`` (SGD, SGD with momentum, Adam), the diagram by ``tinygrad_lc.viz`` and
the gradient check by ``tinygrad_lc.gradcheck``.

The total loss is ``data + reg`` with ``data`` the mean of the points' losses and ``reg =
reg * sum(W**2)`` (b is not regularized). A state changes all at once or not at all: a set of
fields is applied only when all of them fit together, and k steps that leave the allowed range
(a step size too large) put everything back as it was.

>>> s = State()
>>> answer = s.as_json()
>>> sorted(answer["losses"]), len(answer["rows"]) == len(answer["points"])
(['data', 'reg', 'total'], True)
>>> before = answer["losses"]["total"]
>>> s.step(20)
>>> s.as_json()["losses"]["total"] < before
True
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

import numpy as np

from tinygrad_lc.autodiff import grad
from tinygrad_lc.core.modes import no_grad, scope
from tinygrad_lc.core.tensor import Tensor
from tinygrad_lc.data.sources import make_blobs
from tinygrad_lc.gradcheck import gradcheck_report
from tinygrad_lc.gradcheck.reports import RELATIVE_ERROR
from tinygrad_lc.losses import softmax_loss, svm_loss
from tinygrad_lc.optim import SGD, Adam
from tinygrad_lc.playground.validation import LIMITS, RequestError
from tinygrad_lc.regularizers import l2
from tinygrad_lc.viz.diagram import draw_graph

__all__ = ["State", "Parts", "DEFAULTS", "HISTORY", "total_loss"]

# The default data: three classes of four points, the classes in three corners of the plot.
DEFAULTS = {
    "points": [[1.5, 2.0], [2.5, 1.0], [2.0, 3.0], [3.0, 2.0],
               [-1.5, 2.5], [-2.5, 1.0], [-3.0, 2.5], [-2.0, 0.5],
               [0.5, -2.0], [-0.5, -3.0], [1.5, -3.0], [-1.0, -2.0]],
    "labels": [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2],
    "W": [[1.0, -1.0, 0.3], [-0.4, 0.6, 1.2]],  # (2, 3): column c is class c's weights
    "b": [0.0, 0.5, -0.5],
    "loss": "weston_watkins",
    "delta": 1.0,
    "reg": 0.1,
    "lr": 0.1,
    "optimizer": "sgd",
}
HISTORY = 500  # the loss chart keeps the last this many (step, total) pairs
MOMENTUM = 0.9  # the "momentum" optimizer is SGD with this momentum


class Parts(NamedTuple):
    """The graph of one total loss, and the tensors on the way that the page shows."""

    total: Tensor  # data + penalty
    data: Tensor  # the mean of per_point
    penalty: Tensor  # reg * sum(W**2)
    per_point: Tensor  # (N,): each point's loss
    scores: Tensor  # (N, 3): points @ W + b


def total_loss(points: np.ndarray, labels: np.ndarray, W: Tensor, b: Tensor, loss: str,
               delta: float, reg: float) -> Parts:
    """The total loss of the classifier ``points @ W + b`` and its parts (``Parts``).

    ``per_point`` is each point's loss (N,), ``data`` their mean, ``penalty = reg * l2(W)``.

    >>> W = Tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], requires_grad=True, name="W")
    >>> b = Tensor([0.0, 0.0, 0.0], requires_grad=True, name="b")
    >>> parts = total_loss(np.array([[2.0, 0.0]]), np.array([0]), W, b, "crammer_singer",
    ...                    1.0, 0.5)
    >>> [round(p.item(), 6) for p in parts[:3]]
    [1.0, 0.0, 1.0]
    """
    X = Tensor(points, name="points")
    with scope("scores"):
        scores = X @ W + b
    if loss == "softmax":
        per_point = softmax_loss(scores, labels, reduction="none")
    else:
        per_point = svm_loss(scores, labels, delta=delta, reduction="none", formulation=loss)
    data = per_point.mean()
    penalty = reg * l2(W)
    return Parts(data + penalty, data, penalty, per_point, scores)


class State:
    """The classifier of one tab, with its data, loss settings, optimizer and history."""

    def __init__(self) -> None:
        d = DEFAULTS
        self.points = np.array(d["points"], dtype=np.float64)
        self.labels = np.array(d["labels"], dtype=np.int64)
        self.W = Tensor(np.array(d["W"]), requires_grad=True, name="W")
        self.b = Tensor(np.array(d["b"]), requires_grad=True, name="b")
        self.loss, self.optimizer = d["loss"], d["optimizer"]
        self.delta, self.reg, self.lr = d["delta"], d["reg"], d["lr"]
        self.step_count = 0
        self.history: deque = deque(maxlen=HISTORY)
        self.rng = np.random.default_rng()
        self.opt = self._new_optimizer()
        self._record()

    # ------------------------------------------------------------------ changes
    def set(self, fields: dict) -> None:
        """Apply checked fields (``validation.state_fields``) all at once, or refuse them.

        Points and labels must stay one label per point. Any change starts the optimizer
        afresh (no momentum or Adam moments carried over from another landscape).
        """
        points = fields.get("points", self.points)
        labels = fields.get("labels", self.labels)
        if len(points) != len(labels):
            raise RequestError(f"there would be {len(points)} points and {len(labels)} labels; "
                               "give one label per point (send points and labels together)")
        self.points, self.labels = np.array(points), np.array(labels)
        if "W" in fields:
            self.W.data = np.array(fields["W"])
        if "b" in fields:
            self.b.data = np.array(fields["b"])
        for name in ("loss", "optimizer", "delta", "reg", "lr"):
            if name in fields:
                setattr(self, name, fields[name])
        if "step" in fields:
            self.step_count = fields["step"]
        self.opt = self._new_optimizer()
        self._record()

    def randomize(self, what: str, seed: int | None = None) -> None:
        """New random points (as many as now, in three blobs) or new random W and b."""
        rng = self.rng if seed is None else np.random.default_rng(seed)
        if what == "data":
            per_class = max(1, len(self.points) // 3)
            X, y = make_blobs(per_class, 3, seed=rng, radius=2.5, std=1.0)
            lim = LIMITS["coordinate"]
            self.points, self.labels = np.clip(X, -lim, lim), y
        else:
            self.W.data = rng.uniform(-1.5, 1.5, size=(2, 3))
            self.b.data = rng.uniform(-1.0, 1.0, size=3)
        self.opt = self._new_optimizer()
        self._record()

    def step(self, k: int = 1) -> None:
        """``k`` updates of W and b by the optimizer on the total loss.

        If an update leaves W or b outside [-100, 100] (or makes anything non-finite), every
        parameter and the optimizer go back to where they were before this call, and a
        RequestError (422) says at which update and what to change.
        """
        saved = (self.W.data.copy(), self.b.data.copy(), self.opt.state_dict(), self.step_count)
        i = 0  # the update that failed
        try:
            for i in range(1, k + 1):
                self.opt.zero_grad()
                self._total().total.backward(retain_grads=False)
                self.opt.step()
                self.step_count += 1
                self._check_range(i, k)
        except (RequestError, ValueError, FloatingPointError) as exc:
            self.W.data, self.b.data = saved[0], saved[1]
            self.opt = self._new_optimizer()
            self.opt.load_state_dict(saved[2])
            self.step_count = saved[3]
            if isinstance(exc, RequestError):
                raise
            raise RequestError(f"update {i} of {k} failed, nothing was changed: {exc}",
                               422) from None
        finally:
            self.opt.zero_grad()
        self._record()

    # ------------------------------------------------------------------ answers
    def as_json(self) -> dict:
        """The state as the page gets it (see the API contract), all numbers from the library.

        Besides the contract's fields: ``grad`` (the gradient of the total with respect to W
        and b, for the negative-gradient arrows), ``history`` ((step, total) pairs for the
        loss chart) and ``limits`` (the bounds every field is checked against).
        """
        W, b = self._params()
        total, data, penalty, per_point, scores = self._total(W, b)
        gW, gb = grad(total, [W, b])
        return {
            "points": self.points.tolist(), "labels": self.labels.tolist(),
            "W": self.W.data.tolist(), "b": self.b.data.tolist(),
            "loss": self.loss, "delta": self.delta, "reg": self.reg, "lr": self.lr,
            "optimizer": self.optimizer, "step": self.step_count,
            "losses": {"data": data.item(), "reg": penalty.item(), "total": total.item()},
            "rows": [{"scores": s, "loss": v} for s, v in zip(scores.data.tolist(),
                                                              per_point.data.tolist())],
            "grad": {"W": gW.data.tolist(), "b": gb.data.tolist()},
            "history": [list(h) for h in self.history],
            "limits": LIMITS,
        }

    def graph(self, collapse: tuple[str, ...] = ()):
        """The total loss's computation graph (a ``graphviz.Digraph``) with values and
        gradients, and the names of its outermost scopes (what the page offers to collapse).

        A scope name the graph lacks is a RequestError.
        """
        W, b = self._params()
        total = self._total(W, b).total
        total.backward()
        scopes = ["scores", "softmax_loss" if self.loss == "softmax" else "svm_loss", "l2"]
        try:
            diagram = draw_graph(total, show=("shape", "data", "grad"),
                                 collapse=collapse or None)
        except ValueError as exc:  # a name matching no scope
            raise RequestError(str(exc)) from None
        return diagram, scopes

    def gradcheck(self) -> dict:
        """``gradcheck_report`` of the total loss with respect to W and b, as a table."""
        W, b = self._params()
        report = gradcheck_report(lambda W, b: self._total(W, b).total, [W, b])
        rows = []
        for c in report.inputs:
            worst = None if c.worst is None else list(c.worst)
            rows.append({
                "input": c.label, "shape": list(c.analytic.shape),
                "status": f"{c.bad} of {c.analytic.size} fail" if c.bad else "ok",
                "worst": worst,
                "analytic": None if worst is None else float(c.analytic[c.worst]),
                "numerical": None if worst is None else float(c.numerical[c.worst]),
                "rel": None if worst is None else float(c.rel),
                "kinks": len(c.kinks),
            })
        return {"passed": bool(report.passed), "summary": str(report).splitlines()[0],
                "rows": rows, "kinks": [str(k) for k in report.kinks[:10]],
                "kink_count": report.kink_count, "relative_error": RELATIVE_ERROR,
                "step": self.step_count}

    # ------------------------------------------------------------------ inside
    def _params(self) -> tuple[Tensor, Tensor]:
        """Fresh leaves holding copies of W and b: answers never touch the live ones."""
        return (Tensor(self.W.data.copy(), requires_grad=True, name="W"),
                Tensor(self.b.data.copy(), requires_grad=True, name="b"))

    def _total(self, W: Tensor | None = None, b: Tensor | None = None) -> Parts:
        return total_loss(self.points, self.labels, self.W if W is None else W,
                          self.b if b is None else b, self.loss, self.delta, self.reg)

    def _new_optimizer(self) -> SGD | Adam:
        params = [self.W, self.b]
        if self.optimizer == "adam":
            return Adam(params, lr=self.lr)
        return SGD(params, lr=self.lr, momentum=MOMENTUM if self.optimizer == "momentum" else 0)

    def _check_range(self, i: int, k: int) -> None:
        lim = LIMITS["weight"]
        for p in (self.W, self.b):
            if not np.all(np.isfinite(p.data)) or np.max(np.abs(p.data)) > lim:
                raise RequestError(
                    f"update {i} of {k} took {p.name} outside [-{lim:g}, {lim:g}] (the step "
                    f"size {self.lr:g} is too large for this loss and L2 strength; try a "
                    "smaller one); nothing was changed", 422)

    def _record(self) -> None:
        """Append (step, total) to the history for the loss chart."""
        with no_grad():
            self.history.append((self.step_count, self._total().total.item()))
