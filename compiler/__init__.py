"""imcc: compiler."""
