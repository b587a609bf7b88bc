"""The gateway: the one web UI. It keeps web sessions only and calls the services' REST APIs."""
