"""The cost model: cycles and energy of each instruction (`cost`), when each one runs on its unit
(`schedule`), and the run's totals by unit and layer (`report`, which adds memory-access and
static energy and the target's area).
"""
