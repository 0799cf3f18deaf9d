"""Course images: served to signed-in users from the course folder, and from nowhere else."""

import shutil

import pytest
from sqlalchemy import select

from lms.courses.content import load_content
from lms.courses.models import Course
from lms.courses.sync import apply_sync, plan_sync
from tests.test_content import FIXTURES

PIXEL = "/courses/first-steps/media/vi/img/pixel.png"


@pytest.fixture
def synced(app, db, tmp_path, monkeypatch):
    """tests/content/small copied to a private folder and synced; returns the folder."""
    folder = tmp_path / "content"
    shutil.copytree(FIXTURES / "small", folder)
    monkeypatch.setitem(app.config, "CONTENT_DIR", str(folder))
    apply_sync(plan_sync(load_content(folder)))
    return folder


def test_an_image_is_served_with_safe_headers(synced, as_learner):
    response = as_learner.get(PIXEL)
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data == (synced / "courses/first-steps/vi/img/pixel.png").read_bytes()
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "private" in response.headers["Cache-Control"]
    assert "max-age=3600" in response.headers["Cache-Control"]
    assert "public" not in response.headers["Cache-Control"]
    assert response.headers.get("ETag")
    response.close()


def test_each_language_has_its_own_images(synced, as_learner):
    response = as_learner.get("/courses/first-steps/media/en/img/pixel.png")
    assert response.status_code == 200
    response.close()


def test_signed_out_visitors_are_sent_to_the_login(synced, client):
    response = client.get(PIXEL)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("url", [
    "/courses/first-steps/media/vi/img/notes.txt",
    "/courses/first-steps/media/vi/course.md",
    "/courses/first-steps/media/vi/img/missing.png",
    "/courses/first-steps/media/fr/img/pixel.png",
    "/courses/no-such-course/media/vi/img/pixel.png",
    "/courses/first-steps/media/vi/../en/img/pixel.png",
    "/courses/first-steps/media/vi/img/../../en/img/pixel.png",
    "/courses/first-steps/media/vi/%2e%2e/en/img/pixel.png",
    "/courses/first-steps/media/vi/img/%2e%2e/%2e%2e/en/img/pixel.png",
    "/courses/first-steps/media/vi/%2E%2E%2Fen%2Fimg%2Fpixel.png",
    "/courses/first-steps/media/vi/..%5Cen%5Cimg%5Cpixel.png",
    "/courses/first-steps/media/vi/img%5Cpixel.png",
    "/courses/first-steps/media/vi/%2Fetc%2Fpasswd.png",
    "/courses/first-steps/media/vi/%2F" + "tmp/x.png",
    "/courses/..%2F..%2Fcourses/media/vi/img/pixel.png",
    "/courses/first-steps/media/..%2Fen/img/pixel.png",
])
def test_anything_but_an_image_of_the_folder_is_not_found(synced, as_learner, url):
    assert as_learner.get(url).status_code == 404


def test_a_symlink_out_of_the_folder_is_not_found(synced, as_learner, tmp_path):
    outside = tmp_path / "outside.png"
    shutil.copy(synced / "courses/first-steps/vi/img/pixel.png", outside)
    (synced / "courses/first-steps/vi/img/link.png").symlink_to(outside)
    (synced / "courses/first-steps/vi/en").symlink_to(synced / "courses/first-steps/en")
    assert as_learner.get("/courses/first-steps/media/vi/img/link.png").status_code == 404
    assert as_learner.get("/courses/first-steps/media/vi/en/img/pixel.png").status_code == 404


def test_images_of_an_unpublished_course_are_not_found(synced, as_learner, db):
    course = db.session.scalar(select(Course).where(Course.slug == "first-steps"))
    course.published = False
    db.session.flush()
    assert as_learner.get(PIXEL).status_code == 404
