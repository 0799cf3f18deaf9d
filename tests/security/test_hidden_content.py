"""Hidden content by direct address: unpublished and closed courses, draft and retired
modules, inactive questions, the answer key before submitting, the media of an unpublished
course, and the documents of a revoked certificate."""

import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lms.certificates.services import issue, revoke
from lms.courses.models import ModuleRead
from lms.quizzes import services as quizzes
from lms.quizzes.models import QuizAnswer, QuizAttempt
from tests.conftest import make_unit, make_user
from tests.course_factories import assign, make_course, make_programme
from tests.quiz_factories import make_bank, right_answers, wrong_answers

STATIC = Path(__file__).resolve().parents[2] / "lms" / "static"


def body(response):
    return response.get_data(as_text=True)


def course_paths(slug, module="01-module-1"):
    return [f"/courses/{slug}", f"/courses/{slug}/{module}", f"/courses/{slug}/quiz"]


def learning_posts(slug, module="01-module-1"):
    return [f"/courses/{slug}/quiz/start", f"/courses/{slug}/{module}/read"]


def rows(db, model):
    return db.session.scalar(select(func.count(model.id)))


class TestUnpublishedCourses:
    """A course not published: nobody reads it or takes its quiz, even when assigned; an
    administrator previews it without it counting as learning."""

    @pytest.fixture
    def hidden(self, org):
        course = make_course("hidden", 2, title="Khoá học bí mật", published=False)
        make_bank(course, 3)
        assign(make_programme("p", [course]), org["province"])
        return course

    @pytest.mark.parametrize("role", ["learner", "head", "hr"])
    def test_it_does_not_exist_for_staff(self, client, login_as, db, users, hidden, role):
        login_as(users[role])
        for path in course_paths("hidden"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert "Khoá học bí mật" not in body(response)
        for path in learning_posts("hidden"):
            assert client.post(path).status_code == 404, path
        assert "Khoá học bí mật" not in body(client.get("/courses"))
        assert "Khoá học bí mật" not in body(client.get("/learn"))
        assert rows(db, QuizAttempt) == rows(db, ModuleRead) == 0

    def test_an_admin_previews_it_but_records_nothing(self, client, login_as, db, users,
                                                      hidden):
        login_as(users["admin"])
        for path in course_paths("hidden") + ["/courses/hidden/02-module-2"]:
            assert client.get(path).status_code == 200, path
        for path in learning_posts("hidden"):
            assert client.post(path).status_code == 404, path
        assert rows(db, QuizAttempt) == rows(db, ModuleRead) == 0


class TestClosedCourses:
    """A closed course is for the units it is assigned to (and their subtrees) only."""

    def test_only_the_assigned_subtree_reads_it(self, client, login_as, db, org, users):
        course = make_course("closed", 1, title="Khoá học riêng", open=False)
        make_bank(course, 3)
        sibling = make_unit("P.H2", "Huyện Tây Sơn", org["province"])
        assign(make_programme("west", [course]), sibling)
        login_as(users["learner"])  # in a commune of the other district
        for path in course_paths("closed"):
            assert client.get(path).status_code == 404, path
        for path in learning_posts("closed"):
            assert client.post(path).status_code == 404, path
        assert rows(db, QuizAttempt) == rows(db, ModuleRead) == 0
        login_as(make_user(make_unit("P.H2.X1", "Xã Tây Hòa", sibling)))
        assert client.get("/courses/closed/01-module-1").status_code == 200
        assert client.post("/courses/closed/quiz/start").status_code == 302
        assert rows(db, QuizAttempt) == 1


class TestDraftModules:
    """A draft module is absent for learners: no page, no reading, no place in the outline."""

    def test_a_draft_module_is_404_and_not_recorded(self, client, login_as, db, users):
        make_course("alpha", 3, drafts=(2,))
        login_as(users["learner"])
        outline = body(client.get("/courses/alpha"))
        assert "/courses/alpha/01-module-1" in outline
        assert "/courses/alpha/02-module-2" not in outline
        assert client.get("/courses/alpha/02-module-2").status_code == 404
        assert client.post("/courses/alpha/02-module-2/read").status_code == 404
        assert rows(db, ModuleRead) == 0
        # The module after it links past it.
        assert "/courses/alpha/02-module-2" not in body(client.get("/courses/alpha/03-module-3"))
        login_as(users["admin"])
        assert client.get("/courses/alpha/02-module-2").status_code == 200
        assert client.post("/courses/alpha/02-module-2/read").status_code == 404
        assert rows(db, ModuleRead) == 0


class TestRetiredContent:
    """Content taken off disk or unpublished by a sync stays in the database, out of reach."""

    def test_a_withdrawn_course_and_a_removed_module_disappear(self, client, login_as, db,
                                                              users, content, sync):
        sync()
        login_as(users["learner"])
        image = "/courses/first-steps/media/vi/img/pixel.png"
        for path in ("/courses/second-course", "/courses/second-course/01-only",
                     "/courses/first-steps/02-practice", image):
            assert client.get(path).status_code == 200, path
        # second-course taken off disk; first-steps loses a module, then is unpublished.
        shutil.move(content / "courses/second-course", content.parent / "kept")
        starter = content / "programmes/starter.yaml"
        starter.write_text(starter.read_text(encoding="utf-8").replace("  - second-course\n", ""),
                           encoding="utf-8")
        for lang in ("vi", "en"):
            folder = content / f"courses/first-steps/{lang}"
            (folder / "02-practice.md").unlink()
            for name, old, new in (("01-welcome.md", "(02-practice.md#", "(#"),
                                   ("course.md", "(02-practice.md)", "(01-welcome.md)")):
                path = folder / name
                path.write_text(path.read_text(encoding="utf-8").replace(old, new),
                                encoding="utf-8")
        sync()
        for path in ("/courses/second-course", "/courses/second-course/01-only",
                     "/courses/first-steps/02-practice"):
            assert client.get(path).status_code == 404, path
        assert client.post("/courses/first-steps/02-practice/read").status_code == 404
        assert client.get("/courses/first-steps/01-welcome").status_code == 200
        for lang in ("vi", "en"):
            path = content / f"courses/first-steps/{lang}/course.md"
            path.write_text(path.read_text(encoding="utf-8").replace(
                "published: true", "published: false"), encoding="utf-8")
        sync()
        for path in ("/courses/first-steps", "/courses/first-steps/01-welcome",
                     "/courses/first-steps/quiz", image):
            assert client.get(path).status_code == 404, path
        assert client.post("/courses/first-steps/quiz/start").status_code == 404
        assert rows(db, QuizAttempt) == 0

    def test_an_inactive_question_is_never_drawn_nor_answered(self, client, login_as, db,
                                                              users):
        bank = make_bank(make_course("alpha", 1), 5)
        retired = bank.questions[2]
        retired.active = False
        db.session.flush()
        login_as(users["learner"])
        client.post("/courses/alpha/quiz/start")
        attempt = db.session.scalar(select(QuizAttempt))
        assert retired.key not in [entry["key"] for entry in attempt.paper]
        assert len(attempt.paper) == 4
        html = body(client.get(f"/quiz/attempts/{attempt.id}"))
        assert f'name="q-{retired.key}"' not in html
        assert "Câu hỏi <strong>3</strong>" not in html
        client.post(f"/quiz/attempts/{attempt.id}/save", data={f"q-{retired.key}": "b"})
        assert rows(db, QuizAnswer) == 0


class TestAnswerKey:
    """Before submitting, neither the pages nor the script nor the JSON carry the answers;
    after, they show only as the quiz allows."""

    SECRETS = ("Giải thích câu", "Why question", "Cổng Dịch vụ công quốc gia",
               "National Public Service Portal", "correct", "data-answer", 'class="feedback"',
               "tolerant")

    @pytest.fixture
    def quiz(self, org):
        course = make_course("alpha", 1)
        return make_bank(course, 5, show_answers="after_pass")

    def test_nothing_sent_before_submission_holds_an_answer(self, client, login_as, db, users,
                                                           quiz):
        login_as(users["learner"])
        pages = [body(client.get("/courses/alpha/quiz"))]
        assert "Câu hỏi <strong>1</strong>" not in pages[0]  # no question before the start
        client.post("/courses/alpha/quiz/start")
        attempt = db.session.scalar(select(QuizAttempt))
        pages.append(body(client.get(f"/quiz/attempts/{attempt.id}")))
        assert pages[1].count('<fieldset class="question"') == 5
        saved = client.post(f"/quiz/attempts/{attempt.id}/save", data={"q-q01": "b"},
                            headers={"Accept": "application/json"})
        assert saved.get_json() == {"saved": 1}
        pages.append(body(saved))
        for page in pages:
            for secret in self.SECRETS:
                assert secret.lower() not in page.lower(), secret
        # The page carries no data for a script beyond the save address and its messages.
        assert not re.search(r"<script(?![^>]*\bsrc=)", pages[1])
        assert 'type="application/json"' not in pages[1]
        script = (STATIC / "quiz.js").read_text(encoding="utf-8")
        assert re.findall(r"fetch\(([^,]+),", script) == ['form.getAttribute("data-save-url")']
        for word in ("correct", "answer-key", "accept", "feedback", "score", "passed"):
            assert word not in script, word

    @pytest.mark.parametrize(("mode", "passing", "shown"), [
        ("never", True, False), ("after_pass", False, False), ("after_pass", True, True),
        ("after_submit", False, True)])
    def test_the_result_shows_answers_only_as_the_quiz_allows(self, client, login_as, db,
                                                              users, quiz, mode, passing,
                                                              shown):
        quiz.settings = {**quiz.settings, "show_answers": mode}
        db.session.flush()
        attempt = quizzes.start_attempt(users["learner"], quiz)
        quizzes.submit_attempt(attempt, (right_answers if passing else wrong_answers)(attempt))
        login_as(users["learner"])
        html = body(client.get(f"/quiz/attempts/{attempt.id}/result"))
        assert ("Giải thích câu 1" in html) is shown
        assert ("Cổng Dịch vụ công quốc gia" in html) is shown


class TestMediaOfHiddenCourses:
    """A course's images follow the course page's rule: a learner gets none of a course
    unpublished or closed to them (assertions only: the media view is hardened elsewhere)."""

    IMAGE = "/courses/{slug}/media/{lang}/img/pixel.png"

    def test_the_images_of_a_hidden_course_are_404(self, client, login_as, users, content):
        for slug in ("unpublished", "closed", "visible"):
            shutil.copytree(content / "courses/first-steps", content / f"courses/{slug}")
        make_course("unpublished", 1, published=False)
        make_course("closed", 1, open=False)
        make_course("visible", 1)
        login_as(users["learner"])
        for slug in ("unpublished", "closed"):
            for lang in ("vi", "en"):
                response = client.get(self.IMAGE.format(slug=slug, lang=lang))
                assert response.status_code == 404, (slug, lang)
                assert not response.data.startswith(b"\x89PNG")
        response = client.get(self.IMAGE.format(slug="visible", lang="vi"))
        assert response.status_code == 200
        assert response.data.startswith(b"\x89PNG")


class TestRevokedCertificates:
    """A revoked certificate stays on the public check as revoked, but its PDF and badge (a
    freshly signed credential that an offline check would accept) are no longer handed out,
    to its holder or anyone else."""

    def test_a_revoked_certificate_is_not_downloadable(self, client, login_as, db, users):
        learner = users["office_learner"]
        certificate = issue(learner, kind="course", title="Khoá đã thu hồi",
                            course=make_course("alpha", 1))
        login_as(learner)
        assert client.get(f"/certificates/{certificate.id}/badge.jwt").status_code == 200
        revoke(certificate, "Gian lận", now=datetime(2026, 3, 5, 9, 0))
        db.session.flush()
        for user in (learner, users["hr"], users["admin"]):
            login_as(user)
            for suffix in (".pdf", "/badge.jwt"):
                response = client.get(f"/certificates/{certificate.id}{suffix}")
                assert response.status_code == 404, (user.role, suffix)
                assert not response.data.startswith(b"%PDF")
        login_as(learner)
        mine = body(client.get("/me/certificates"))
        assert f'id="certificate-{certificate.id}" data-status="revoked"' in mine
        assert f"/certificates/{certificate.id}.pdf" not in mine
        assert client.get(f"/verify/{certificate.code}.json").get_json()["status"] == "revoked"
