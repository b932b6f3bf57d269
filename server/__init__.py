"""心档 xindang: the web server (settings, storage, routes, CLI)."""
