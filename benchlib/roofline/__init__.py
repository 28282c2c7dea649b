"""Peak matrix-multiply speed per framework and thread count, and the store that keeps it beside results."""
