"""Metrics: Prometheus exposition and the in-process snapshot API for the dashboard."""
