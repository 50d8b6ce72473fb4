"""Batch import of store lists, one module per step: `formats` and `geojson` read a file as a
stream of records, `rows` checks and converts them in batches, `load` writes them in one
transaction, `jobs` runs a job in the background and keeps its status, `cli` is `nearby import`.
"""
