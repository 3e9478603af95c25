"""The service kernel: configuration, logging, metrics, gRPC bootstrap and the NATS bus.

Every service is assembled from these pieces the same way, so a reader who knows one service
knows them all.
"""
