"""Benchmarks: `make bench` (python -m bench) prints the service against a bare PostGIS endpoint."""
