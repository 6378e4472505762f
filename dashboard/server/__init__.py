"""HTTP middleware of the Flask server, one concern a module: errors, caching, limits,
security headers, compression, and the encoding helpers the data routes share."""
