"""The REST scanning service for mail gateways: `maldoc serve`, or `create_app()` for ASGI servers."""
