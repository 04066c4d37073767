"""Segell services: the FastAPI application, one sub-package per domain."""

__version__ = "0.1.0"
