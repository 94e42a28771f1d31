"""Weak containers that know their members by identity, for tensors.

``t == u`` compares tensors entry by entry (a boolean array, as NumPy and PyTorch do), so the
standard library's weak containers cannot hold tensors: ``weakref.WeakSet`` and
``weakref.WeakKeyDictionary`` compare two references to the same object with ``==`` of the
objects, and the truth value of an array of several entries is an error. These containers
key their members by ``id()`` instead, and forget a member when it is collected.

>>> class Box:  # any object that can be weakly referenced
...     def __eq__(self, other):
...         raise AssertionError("never called")
...     __hash__ = object.__hash__
>>> a, b = Box(), Box()
>>> seen = WeakIdentitySet()
>>> seen.add(a); seen.add(a); seen.add(b)
>>> len(seen), a in seen
(2, True)
>>> del b
>>> len(seen)
1
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

__all__ = ["WeakIdentityDict", "WeakIdentitySet"]


class WeakIdentityDict:
    """A mapping from objects (held weakly, compared by identity) to values.

    An entry goes when its key is collected. Iteration runs over a snapshot, so entries that
    vanish meanwhile (a collection in another thread) never break it.

    >>> class Node: pass
    >>> n = Node()
    >>> d = WeakIdentityDict()
    >>> d[n] = "saved"
    >>> d.get(n), len(d)
    ('saved', 1)
    >>> del n
    >>> len(d)
    0
    """

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: dict[int, tuple[weakref.ref, Any]] = {}  # id(key) -> (ref to key, value)

    def _ref(self, key: Any) -> weakref.ref:
        """The reference already held for ``key``, or a new one that removes its entry."""
        k = id(key)
        item = self._items.get(k)
        if item is not None and item[0]() is key:
            return item[0]
        items = self._items

        def forget(ref: weakref.ref, k: int = k) -> None:
            # the key is dying: its id cannot have been reused yet, but check the entry is its
            if items.get(k, (None,))[0] is ref:
                del items[k]

        return weakref.ref(key, forget)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._items[id(key)] = (self._ref(key), value)

    def get(self, key: Any, default: Any = None) -> Any:
        item = self._items.get(id(key))
        return item[1] if item is not None and item[0]() is key else default

    def __contains__(self, key: Any) -> bool:
        item = self._items.get(id(key))
        return item is not None and item[0]() is key

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        for ref, _ in self._items.copy().values():  # dict.copy runs no Python code
            key = ref()
            if key is not None:
                yield key


class WeakIdentitySet(WeakIdentityDict):
    """A set of objects, held weakly and compared by identity (``add``, ``in``, ``len``,
    iteration)."""

    __slots__ = ()

    def add(self, key: Any) -> None:
        self[key] = None
