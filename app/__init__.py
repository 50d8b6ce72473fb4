"""Nearby: the HTTP service and its persistence."""
