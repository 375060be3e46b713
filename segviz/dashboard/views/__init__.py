"""One module per page, each with ``render(ctx)``; they read the Context and return values."""
