"""imcc: precision passes support (calibration, layer fitting, activation quantization, reports)."""
