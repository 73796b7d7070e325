"""The catalog of approved base images, and the estate assessment built on it."""
