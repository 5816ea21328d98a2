"""Weak-to-strong generalization (Burns et al. 2023): losses, PGR, weak supervisors."""
