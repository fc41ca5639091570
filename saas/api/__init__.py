"""API plumbing the apps build on: parsing, metadata, URL fallbacks and documented errors."""
