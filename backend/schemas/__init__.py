"""Pydantic models shared by the API (validation, OpenAPI) and the workers (fit inputs/outputs)."""
