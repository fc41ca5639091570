"""Tests of saas/db: the pool modes, the backend for transaction pooling, unavailability."""
