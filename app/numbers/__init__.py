"""The numbers: how the depot's leads fared in a period against the one
before, courier-and-rep pairs, and recognition for couriers (the leaderboard
and each courier's own record)."""
from .views import bp

__all__ = ["bp"]
