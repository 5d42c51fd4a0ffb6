"""Bottleneck analytics: where contracts get stuck, for staff, coordinators and auditors
(selectors shared by the page, its CSV files and the API; charts drawn server-side)."""
