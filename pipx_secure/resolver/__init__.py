"""Dependency resolution with resolvelib, asking each name's assigned index only."""
