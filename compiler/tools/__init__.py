"""imcc: compiler tools."""
