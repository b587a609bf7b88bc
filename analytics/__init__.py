"""Analytics: the admins' read models, built only from other services' events."""
