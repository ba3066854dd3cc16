"""The REST API (`/api/v1`) and the dashboard mount: a thin edge over the domain services."""
