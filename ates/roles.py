"""The five roles of SPEC §3, in one place: auth gives them, every other service and page reads them."""

ROLES = ("admin", "manager", "accountant", "boss", "developer")
