"""The digest figure: 1,000 weekly digests rendered, queued and delivered to a local SMTP
server (aiosmtpd on 127.0.0.1 in a process of its own, bench/smtpd.py), against the floor:
the same number of plain messages sent over one SMTP connection to the same server.

Runs on the province of `make bench` after its progress is seeded (bench/progress.py): the
heads of its units, and as many deputies (role head in the same unit) as it takes to reach
1,000 recipients, each digest with its unit's real figures.

    python -m bench.digests PROVINCE.sqlite3     print the rows on their own
"""

import subprocess
import sys
import time
from datetime import timedelta
from email.message import EmailMessage

from bench.loader import make_app

DIGESTS = 1_000
TARGET_S = 20.0


def _row(name, value, baseline="-", ratio="-", target="", verdict=""):
    return {"name": name, "value": value, "baseline": baseline, "ratio": ratio,
            "target": target, "verdict": verdict}


def _heads(count):
    """Make `count` active people with a unit heads (the existing heads first, then one
    more per unit in turn); returns how many heads there are."""
    from sqlalchemy import func, select, update

    from lms.auth.models import User
    from lms.extensions import db

    heads = db.session.scalar(select(func.count()).where(
        User.role == "head", User.active.is_(True), User.unit_id.is_not(None)))
    if heads < count:
        ranked = (select(User.id, func.row_number().over(
            partition_by=User.unit_id, order_by=User.id).label("n"))
            .where(User.role == "learner", User.active.is_(True),
                   User.unit_id.is_not(None)).subquery())
        chosen = select(ranked.c.id).order_by(ranked.c.n, ranked.c.id).limit(count - heads)
        db.session.execute(update(User).where(User.id.in_(chosen)).values(role="head")
                           .execution_options(synchronize_session=False))
        db.session.commit()
    return db.session.scalar(select(func.count()).where(
        User.role == "head", User.active.is_(True), User.unit_id.is_not(None)))


def _floor(url, count):
    """Seconds to send `count` small prebuilt messages over one SMTP connection."""
    from lms.notify.services import smtp_connection

    messages = []
    for n in range(count):
        message = EmailMessage()
        message["From"], message["To"] = "bench@localhost", f"head{n}@bench.local"
        message["Subject"] = "Báo cáo tuần"
        message.set_content("Tiến độ của đơn vị.\n" * 20)
        messages.append(message)
    started = time.perf_counter()
    with smtp_connection(url) as smtp:
        for message in messages:
            smtp.send_message(message)
    return time.perf_counter() - started


def digest_figures(db_path, count=DIGESTS):
    """The h rows (see the module's docstring)."""
    from sqlalchemy import func, select

    from lms.extensions import db
    from lms.notify.digests import local_today, queue_digests
    from lms.notify.models import OutboxMessage
    from lms.notify.outbox import send_due
    from tests.smtp import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "bench.smtpd", str(port)],
                              stdout=subprocess.PIPE, text=True)
    if server.stdout.readline().strip() != "ready":
        raise RuntimeError("the SMTP server did not start")
    url = f"smtp://127.0.0.1:{port}"
    app = make_app(db_path)
    app.config["SMTP_URL"] = url
    try:
        with app.app_context():
            heads = _heads(count)
            today = local_today()
            started = time.perf_counter()
            run = queue_digests(today - timedelta(days=today.weekday()), today=today)
            queued_s = time.perf_counter() - started
            started = time.perf_counter()
            while send_due(limit=200).handled:
                pass
            sent_s = time.perf_counter() - started
            sent = db.session.scalar(select(func.count()).where(
                OutboxMessage.kind == "digest", OutboxMessage.status == "sent"))
            db.engine.dispose()
        floor_s = _floor(url, heads)
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    messages, recipients = (int(n) for n in out.split())
    received = min(messages - heads, recipients - heads)  # less the floor's messages
    total = queued_s + sent_s
    ok = run.queued == heads == sent == received
    return [
        _row(f"h) digests rendered and queued, {heads:,} heads (send-digests)",
             f"{queued_s:.1f} s ({heads / queued_s:,.0f}/s)"),
        _row("h) digests delivered to a local SMTP server (send-outbox)",
             f"{sent_s:.1f} s ({sent / sent_s:,.0f}/s)",
             f"{floor_s:.2f} s ({heads:,} plain messages, one connection)",
             f"{sent_s / floor_s:.1f}x"),
        _row(f"h) {heads:,} digests rendered and delivered, in all",
             f"{total:.1f} s; {received:,} received" + ("" if ok else " (COUNTS DIFFER)"),
             target=f"< {TARGET_S:.0f} s",
             verdict=("meets" if total < TARGET_S else "misses") if ok else "FAILED"),
    ]


if __name__ == "__main__":
    for row in digest_figures(sys.argv[1]):
        print(" | ".join(row.values()))
