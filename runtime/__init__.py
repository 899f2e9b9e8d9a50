"""imcc: runtime."""
