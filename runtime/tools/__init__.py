"""imcc: runtime tools."""
