"""The shared package of aTES: event bus, schema registry, token verification, configuration."""
