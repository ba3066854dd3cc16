"""Live events (new signals, exits, pipeline steps) published on Redis and streamed by the API."""
