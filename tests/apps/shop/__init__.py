"""A small package whose functions the tests time through RIEMANN_TARGETS."""
