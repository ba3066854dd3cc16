"""Point-in-time features and triple-barrier labels."""
