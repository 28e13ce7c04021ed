"""The web shell: layout, language, security headers, error pages, health checks."""
