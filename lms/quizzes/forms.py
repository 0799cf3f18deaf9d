"""Reading an attempt's answers from the attempt page's form."""

KEY_PREFIX = "q-"


def field_name(key):
    """The form field of a question (ordering: one select per step, `q-<key>-<choice>`)."""
    return KEY_PREFIX + key


def responses_from_form(paper, form):
    """{question key: response} for the questions of `paper` that the form answers.

    Shapes follow the grading: single -> choice id, multiple -> list of ids, true_false ->
    bool, ordering -> ids by the positions chosen, short -> text. Whatever else the form
    holds is ignored; a value that is not one of the question's choices is kept as sent
    (grading gives it no credit)."""
    responses = {}
    for question in paper:
        key, kind, name = question["key"], question["kind"], field_name(question["key"])
        if kind == "multiple":
            if name + "-shown" in form:  # the question was on the page: none ticked is an answer
                responses[key] = form.getlist(name)
        elif kind == "ordering":
            positions = {}
            for choice in question.get("choices", []):
                value = form.get(f"{name}-{choice}", "")
                # isdigit() also holds for "²", which int() refuses; and a huge number is
                # past int()'s digit limit.
                if value.isdecimal() and len(value) <= 18:
                    positions[choice] = int(value)
            if positions:
                shown = question.get("choices", [])
                responses[key] = sorted(positions, key=lambda c: (positions[c], shown.index(c)))
        elif name in form:
            value = form.get(name, "")
            if kind == "true_false":
                responses[key] = {"true": True, "false": False}.get(value)
            elif kind == "short":
                responses[key] = value.strip()[:500]
            else:
                responses[key] = value
    return responses
