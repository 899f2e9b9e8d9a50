"""imcc: command-line tools of the facade package (imcc-run)."""
