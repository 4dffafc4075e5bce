"""The HTTP API: FastAPI routers over the Exchange services, one per domain."""
