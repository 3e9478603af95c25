"""Risk scoring adapters: external catalogues the facts are enriched from."""
