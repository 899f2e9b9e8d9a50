"""imcc: compiler interp."""
