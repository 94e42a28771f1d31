"""The engine: Tensor, the op table, modes, checks; imports NumPy and nothing else of the package."""
