"""Verification and audit of claims: the lifecycle after the automatic checks, risk-based
sampling, queries, appeals and sample-error extrapolation (docs/verification.md)."""
