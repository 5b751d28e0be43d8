"""install layer."""
