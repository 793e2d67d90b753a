"""The admin page at /platform/voke-esm (CONTRACT §10): static HTML, CSS and JS modules."""
