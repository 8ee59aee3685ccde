"""HTTP routes, one module per resource, mounted under API_PREFIX (health at the root)."""

API_PREFIX = "/api/v1"
