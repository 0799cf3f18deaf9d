"""A test client signed in as someone, the session as a sign-in leaves it (password and
second factor just checked): the benchmarks measure pages, not the sign-in."""

import time


def sign_in_client(client, session_id):
    """Sign the Flask test client in as the user whose session identity is `session_id`."""
    now = time.time()
    with client.session_transaction() as sess:
        sess["_user_id"], sess["_fresh"] = session_id, True
        sess["signed_in_at"] = sess["seen_at"] = sess["checked_at"] = now
        sess["mfa"] = True
    return client
