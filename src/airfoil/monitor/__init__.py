"""Monitoring: profiles of scored rows, drift and live performance against a model's reference."""
