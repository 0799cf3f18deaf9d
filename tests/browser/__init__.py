"""Browser tests: a real Chromium against the app served on a free port."""
