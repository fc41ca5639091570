"""Project package: settings, URLconfs and cross-cutting HTTP plumbing."""
