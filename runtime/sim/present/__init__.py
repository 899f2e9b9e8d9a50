"""A run's report made visible: the Perfetto trace (`trace`) and PNG charts (`plot`), drawn with
matplotlib, an optional extra (``pip install 'imcc[plot]'``).
"""
