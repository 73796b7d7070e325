"""Reports: how scan results (and later compliance evidence) are written for people and tools."""
