"""The `ates` command line: sign in through the SSO and hand the access token to scripts."""
