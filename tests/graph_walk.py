"""A helper the tests share: every tensor of a graph, found without recursion."""

from __future__ import annotations

from tinygrad_lc import Tensor


def graph_of(root: Tensor) -> list[Tensor]:
    """Every tensor ``root`` depends on (constants too), root included, without recursion."""
    seen, stack = {id(root): root}, [root]
    while stack:
        for p in stack.pop().parents:
            if id(p) not in seen:
                seen[id(p)] = p
                stack.append(p)
    return list(seen.values())
