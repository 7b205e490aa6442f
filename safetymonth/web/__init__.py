"""The coordinators' console: an ASGI app rendering pages server-side, on the repository only."""
