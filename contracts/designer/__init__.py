"""The in-browser contract designer: forms generated from the definition format, htmx partials."""
