"""Seeded synthetic demo data (hospital visits, insurer policy holders) for demos and benchmarks."""
