"""Cadence pages: list, builder, enrolment, stats."""

from __future__ import annotations
