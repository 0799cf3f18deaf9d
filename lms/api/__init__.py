"""The JSON API for provincial data platforms (/api/v1) and the tokens that open it."""
