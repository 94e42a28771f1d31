"""Files and processes: atomic writes, checkpoints, interrupts, progress bars."""
