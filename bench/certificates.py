"""The certificate figures: PDFs generated per second on one core, and the server time of the
public check (page and JSON) against `/healthz` through the same test client.

    python -m bench.certificates          print the rows on their own
"""

import statistics
import sys
import time
from pathlib import Path

from bench.loader import create_schema, make_app

PDF_TARGET = 30.0  # certificates per second, one core
VERIFY_TARGET_MS = 10.0
NAME = "Nguyễn Thị Hồng Nhung"


def _row(name, value, baseline="-", ratio="-", target="", verdict=""):
    return {"name": name, "value": value, "baseline": baseline, "ratio": ratio,
            "target": target, "verdict": verdict}


def _seed():
    """One unit, one person with a certificate; its code."""
    from lms.auth.models import User
    from lms.certificates.services import issue
    from lms.extensions import db
    from lms.org.models import Unit
    from lms.org.services import fill_derived

    unit = Unit(code="AH", name="Tỉnh An Hòa", path="/", depth=0)
    db.session.add(unit)
    db.session.flush()
    unit.path = f"/{unit.id}/"
    person = User(employee_id="AH000001", full_name=NAME, unit=unit, role="learner",
                  email="nhung@anhoa.gov.vn", category="civil_servant", active=True)
    fill_derived(person)
    db.session.add(person)
    db.session.flush()
    certificate = issue(person, kind="course", title="Thiết bị, tài khoản số và định danh "
                        "điện tử VNeID", score="92%", issuer="Văn phòng UBND tỉnh An Hòa")
    db.session.commit()
    return certificate.id, certificate.code


def _rate(make, seconds):
    """Documents per second of CPU time: three rounds, (median, lowest, highest)."""
    make()  # fonts parsed, layout read before timing
    rounds = []
    for _ in range(3):
        count, started = 0, time.process_time()
        while time.process_time() - started < seconds / 3:
            make()
            count += 1
        rounds.append(count / (time.process_time() - started))
    return statistics.median(rounds), min(rounds), max(rounds)


def _bare_pdf():
    """The floor: one A4 page with one line in a built-in font, nothing embedded."""
    from fpdf import FPDF

    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.add_page()
    pdf.set_font("helvetica", size=30)
    pdf.cell(text="Certificate")
    return bytes(pdf.output())


def _server_ms(client, path, repeat):
    """Median milliseconds of one request through the test client (best of 5 batches)."""
    for _ in range(20):
        client.get(path)
    batches = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeat):
            response = client.get(path)
        batches.append((time.perf_counter() - started) / repeat * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(batches)


def certificate_figures(workdir, smoke=False):
    """Rows for bench.run."""
    db_path = Path(workdir) / "certificates.sqlite3"
    create_schema(db_path)
    app = make_app(db_path)
    app.config["SERVER_NAME"] = "localhost"
    # Thousands of checks from one address: limits out of reach, but still counted, so the
    # page's time includes the rate limiter's write (one upsert in its own transaction).
    app.config["RATE_LIMITS"] = {**app.config["RATE_LIMITS"], "verify": (10**9, 60),
                                 "verify_wrong": (10**9, 600)}
    rows = []
    try:
        with app.app_context():
            certificate_id, code = _seed()
            with app.test_request_context():
                from lms.certificates.documents import pdf_of
                from lms.certificates.models import Certificate
                from lms.extensions import db

                certificate = db.session.get(Certificate, certificate_id)
                seconds = 1.5 if smoke else 6
                rate, low, high = _rate(lambda: pdf_of(certificate), seconds)
                floor = _rate(_bare_pdf, seconds / 2)[0]
        rows.append(_row("f) certificate PDFs, one core (fpdf2, Noto, shaping, QR, sealed)",
                         f"{rate:.1f} PDFs/s (rounds {low:.0f}-{high:.0f})",
                         f"{floor:.0f} PDFs/s (bare fpdf2 page)", f"{rate / floor:.2f}x",
                         f">= {PDF_TARGET:g} PDFs/s",
                         "meets" if rate >= PDF_TARGET else "misses"))
        client = app.test_client()
        repeat = 20 if smoke else 200
        base = _server_ms(client, "/healthz", repeat)
        for label, path in (("page", f"/verify/{code}"), ("JSON", f"/verify/{code}.json")):
            ms = _server_ms(client, path, repeat)
            rows.append(_row(f"f) public check, {label}", f"{ms:.2f} ms",
                             f"{base:.2f} ms (/healthz)", f"{ms / base:.1f}x",
                             f"< {VERIFY_TARGET_MS:g} ms",
                             "meets" if ms < VERIFY_TARGET_MS else "misses"))
    except Exception as e:  # noqa: BLE001  (a broken figure is a row, not a crashed bench)
        rows.append(_row("f) certificates", f"failed: {e}"[:160], verdict="failed"))
    return rows


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lms-bench-cert-") as tmp:
        for row in certificate_figures(tmp, smoke="--smoke" in sys.argv):
            print(" | ".join(row.values()))
