"""Design-space sweeps (``imcc sweep``): a grid of target parameters × models × precisions, every
point compiled and run, results as a table and a Pareto plot.

- `spec`: the sweep file (TOML) and the points it expands to;
- `point`: one point compiled, run and measured (what a worker does);
- `engine`: the points run in parallel on Dask (local cores or a scheduler), journaled so an
  interrupted sweep resumes;
- `table`: the results as Parquet and CSV;
- `pareto`: the Pareto plot of latency, energy and area against accuracy.
"""
