"""The SSO: accounts, OAuth clients and signing keys; publishes account.* events."""
