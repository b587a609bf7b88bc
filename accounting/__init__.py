"""Accounting: task prices, balances, the audit log, billing days and payouts."""
