"""A run's report made visible: the Perfetto trace (`trace`) and PNG charts (`plot`), drawn with
the project's own raster library (`raster`) and PNG encoder (`png`), no plotting package needed.
"""
