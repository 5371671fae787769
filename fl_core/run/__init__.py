"""A training run: its configuration, settings, capability check, context, loop, federation and device."""
