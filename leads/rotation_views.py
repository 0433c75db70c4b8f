"""Rotation pages."""
