"""Tests for the seeded synthetic demo and benchmark data."""
