"""SmartStack's API: an API Gateway HTTP API (payload 2.0) Lambda."""
