"""Learner pages: my training, the catalogue, a course, a module, and recording reading."""

from datetime import UTC, datetime

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import get_locale, to_user_timezone
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from lms.auth.permissions import allowed
from lms.courses import services
from lms.courses.forms import MarkReadForm
from lms.extensions import db
from lms.org.models import utcnow
from lms.templating import cached_fragment

bp = Blueprint("courses", __name__)


def current_lang():
    """The language of the interface, which course texts follow when they can."""
    return str(get_locale())


def _today():
    return to_user_timezone(datetime.now(UTC)).date()


def _render(text, course):
    """The rendered Markdown of a course or module text (empty when there is none)."""
    from lms.courses.rendering import render  # the one Markdown renderer

    if text is None or not text.body:
        return ""
    return render(text.body, text.body_hash, course_slug=course.slug, lang=text.lang)


@bp.context_processor
def _helpers():
    return {"programme_title": lambda p: services.programme_title(p, current_lang()),
            "ui_lang": current_lang()}


def _course_or_404(slug):
    """(course, its text in the interface language) when the user may read it, else 404."""
    course, text = services.find_course(current_user, slug, current_lang())
    if course is None:
        abort(404)
    return course, text


@bp.get("/learn")
@login_required
def my_training():
    """The learner's programmes: deadlines, progress per course, and where to continue."""
    lang = current_lang()
    statuses = services.my_training(current_user, lang, _today())
    entries = list({e.course.id: e for s in statuses for e in s.courses}.values())
    target = services.continue_module(current_user, entries)
    target_text = services.module_texts([target.id], lang).get(target.id) if target else None
    return render_template("courses/my_training.html", statuses=statuses, target=target,
                           target_text=target_text)


@bp.get("/courses")
@login_required
def catalogue():
    """The courses the learner may read, with their progress."""
    return render_template("courses/catalogue.html",
                           entries=services.catalogue(current_user, current_lang()))


@bp.get("/courses/<slug>")
@login_required
def course(slug):
    """A course: its introduction and its modules, the read ones ticked."""
    found, text = _course_or_404(slug)
    items = services.outline(found, current_user.id, current_lang(),
                             drafts=allowed(current_user, "courses.preview"))
    counted = [item for item in items if not item.module.draft]
    completion = services.completion_of(current_user.id, found.id)
    entry = services.CourseEntry(
        found, text, sum(item.read is not None for item in counted), len(counted),
        completion and completion.completed_at,
        services.refreshers_due(current_user.id, [found.id], utcnow().date()).get(found.id))
    start = next((item for item in counted if item.read is None),
                 counted[0] if counted else None)
    return render_template("courses/course.html", course=found, entry=entry, text=text,
                           intro=_render(text, found), items=items, start=start,
                           completion=completion)


@bp.get("/courses/<slug>/<module_slug>")
@login_required
def module(slug, module_slug):
    """A module: its text, the "I have read it" form, and the way on."""
    found, course_text = _course_or_404(slug)
    items = services.outline(found, current_user.id, current_lang(),
                             drafts=allowed(current_user, "courses.preview"))
    at = next((n for n, item in enumerate(items) if item.module.slug == module_slug), None)
    if at is None:
        abort(404)
    item = items[at]
    previous = items[at - 1] if at > 0 else None
    following = items[at + 1] if at + 1 < len(items) else None
    text_html, pager_html = _module_fragments(found, course_text, item, previous, following)
    return render_template(
        "courses/module.html", course=found, item=item, module=item.module,
        course_title=course_text.title if course_text else found.slug,
        text_html=text_html, pager_html=pager_html, following=following,
        stale=services.is_stale(item.read, found),
        may_record=not item.module.draft and services.may_record(current_user, found))


def _module_fragments(course, course_text, item, previous, following):
    """The module's text and its pager: the same for every reader, so rendered once per
    version of what they show (lms/templating.py, cached_fragment)."""
    course_title = course_text.title if course_text else course.slug
    context = {"course": course, "course_title": course_title, "item": item,
               "module": item.module, "previous": previous, "following": following}
    if not item.body_hash:  # no hash to key the text on (content not from the sync)
        text = Markup(render_template("courses/_module_text.html",  # noqa: S704
                                      body=services.module_body(item, course), **context))
    else:
        module = item.module
        key = (course.slug, course_title, module.slug, module.minutes, module.draft,
               item.title, item.lang, item.body_hash)
        text = cached_fragment("courses/_module_text.html", key, lambda: {
            "body": services.module_body(item, course), **context})

    def neighbour(other):
        return other and (other.module.slug, other.title, other.lang)

    pager = cached_fragment(
        "courses/_module_pager.html", (course.slug, neighbour(previous), neighbour(following)),
        lambda: context)
    return text, pager


@bp.post("/courses/<slug>/<module_slug>/read")
@login_required
def mark_read(slug, module_slug):
    """Record that the current user read the module, then go to the next one."""
    found, _text = _course_or_404(slug)
    if not services.may_record(current_user, found):
        abort(404)
    modules = services.course_modules(found)
    current = next((m for m in modules if m.slug == module_slug), None)
    if current is None:
        abort(404)
    if not MarkReadForm().validate_on_submit():
        abort(400)
    services.mark_read(current_user, current)
    db.session.commit()
    flash(_("Marked as read."), "success")
    at = modules.index(current)
    if at + 1 < len(modules):
        return redirect(url_for("courses.module", slug=found.slug,
                                module_slug=modules[at + 1].slug))
    return redirect(url_for("courses.course", slug=found.slug))


from lms.courses import assign_views, media_views  # noqa: E402,F401  (routes on the same blueprint)
