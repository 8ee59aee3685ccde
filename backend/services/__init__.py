"""Business logic behind the routes. Raises backend.errors, never HTTPException."""
