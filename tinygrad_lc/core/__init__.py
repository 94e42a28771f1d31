"""The engine: Tensor, the op table, modes and checks; it imports NumPy and nothing else of
the package."""
