"""The scanner service: read an image layer by layer, catalogue every package, match advisories.

``api`` → ``domain`` (the package model) → ``catalogers`` (one module per ecosystem) and
``adapters`` (image sources, layer readers).
"""
