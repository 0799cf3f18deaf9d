"""Realistic, reproducible Vietnamese names for demo and benchmark data (never real people)."""

import random
from dataclasses import dataclass
from itertools import accumulate

from lms.text import fold, nfc

# Family names with their approximate share of the population, in percent.
FAMILY_NAMES = {
    "Nguyễn": 38.0, "Trần": 11.0, "Lê": 9.5, "Phạm": 7.0, "Hoàng": 4.0, "Huỳnh": 1.5,
    "Phan": 4.5, "Vũ": 3.5, "Võ": 1.5, "Đặng": 2.1, "Bùi": 2.0, "Đỗ": 1.4, "Hồ": 1.3,
    "Ngô": 1.3, "Dương": 1.0, "Lý": 0.5, "Đinh": 0.8, "Trịnh": 0.6, "Mai": 0.5, "Đào": 0.5,
    "Lương": 0.4, "Hà": 0.4, "Cao": 0.3, "Tạ": 0.3, "Lưu": 0.3, "Lâm": 0.3, "Kiều": 0.2,
    "Chu": 0.2, "Tô": 0.2, "Thái": 0.2, "Triệu": 0.2, "Vương": 0.2, "Quách": 0.1, "La": 0.1,
}

# Middle names by gender; "Văn" and "Thị" dominate, the others are frequent.
MIDDLE_NAMES = {
    "m": {"Văn": 40, "Hữu": 6, "Đức": 8, "Minh": 8, "Quang": 6, "Công": 5, "Thanh": 5,
          "Xuân": 4, "Đình": 5, "Ngọc": 3, "Quốc": 5, "Bá": 2, "Trung": 3, "Mạnh": 2,
          "Hoàng": 3, "Anh": 2, "Việt": 3, "Tiến": 2, "Duy": 3, "Thế": 3},
    "f": {"Thị": 45, "Ngọc": 7, "Thu": 6, "Hồng": 5, "Thanh": 5, "Minh": 4, "Kim": 4,
          "Bích": 3, "Phương": 3, "Thùy": 3, "Diệu": 2, "Mai": 2, "Hải": 2, "Khánh": 2,
          "Bảo": 2, "Lan": 2, "Quỳnh": 2, "Hoài": 2, "Tuyết": 1, "Thúy": 2},
}

# The second middle name of a four-word name ("Nguyễn Thị Hồng Nhung").
SECOND_MIDDLE_NAMES = {
    "m": ("Minh", "Đức", "Quang", "Hoàng", "Anh", "Thanh", "Xuân", "Quốc", "Trọng", "Hải"),
    "f": ("Hồng", "Thu", "Ngọc", "Thanh", "Kim", "Minh", "Phương", "Thùy", "Bích", "Mỹ"),
}

GIVEN_NAMES = {
    "m": ("Anh", "Bình", "Cường", "Dũng", "Đức", "Hải", "Hiếu", "Hùng", "Huy", "Khánh",
          "Khoa", "Long", "Minh", "Nam", "Phong", "Phúc", "Quân", "Quang", "Sơn", "Tài",
          "Thắng", "Thành", "Thịnh", "Toàn", "Trung", "Tú", "Tuấn", "Việt", "Vinh", "Hoàng",
          "Đạt", "Hưng", "Lâm", "Lộc", "Nghĩa", "Phát", "Tâm", "Thái", "Thiện", "Trí",
          "Tùng", "Vũ", "Kiên", "Hậu", "Tiến", "Duy", "Đông", "Hòa", "Hiển", "Lực"),
    "f": ("Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa", "Hồng",
          "Hương", "Huyền", "Lan", "Linh", "Loan", "Mai", "My", "Nga", "Ngân", "Ngọc",
          "Nhung", "Oanh", "Phương", "Quyên", "Quỳnh", "Thảo", "Thơ", "Thủy", "Trang",
          "Trâm", "Tuyết", "Uyên", "Vân", "Vy", "Yến", "Thúy", "Liên", "Nhi", "Diệp", "Lệ",
          "Ánh", "Nguyệt", "Tâm", "Thư", "Nhàn", "Xuân", "Duyên", "Hòa", "Thanh", "Trinh"),
}

# Syllables that invented place names (communes, districts) are made of.
PLACE_WORDS = (
    "An", "Bình", "Phú", "Tân", "Hòa", "Long", "Thạnh", "Vĩnh", "Đông", "Tây", "Hưng",
    "Phước", "Thuận", "Mỹ", "Hiệp", "Lộc", "Quang", "Trung", "Thịnh", "Sơn", "Hải", "Thủy",
    "Lạc", "Đức", "Khánh", "Nghĩa", "Thành", "Xuân", "Cát", "Hội", "Lợi", "Phong",
    "Yên", "Định", "Tường", "Điền", "Lâm", "Tiến", "Minh",
)

# Four-word names mostly follow "Thị" ("Nguyễn Thị Hồng Nhung"), less often "Văn", "Hữu"...
FOUR_WORD_SHARE = {"m": 0.15, "f": 0.35}
FOUR_WORD_LEADS = {"m": ("Văn", "Hữu", "Đức", "Công"), "f": ("Thị", "Ngọc", "Thu")}
EMAIL_DOMAIN = "demo.civicskills.vn"


def _table(weights):
    names = list(weights)
    return names, list(accumulate(weights[name] for name in names))


_FAMILY = _table(FAMILY_NAMES)
_MIDDLE = {gender: _table(weights) for gender, weights in MIDDLE_NAMES.items()}


@dataclass(frozen=True)
class Person:
    full_name: str
    gender: str
    employee_id: str
    email: str


def full_name(rng, gender):
    """A full name in NFC for gender 'm' or 'f': family, one or two middle names, given."""
    family = rng.choices(_FAMILY[0], cum_weights=_FAMILY[1])[0]
    middle = rng.choices(_MIDDLE[gender][0], cum_weights=_MIDDLE[gender][1])[0]
    given = rng.choice(GIVEN_NAMES[gender])
    words = [family, middle]
    if middle in FOUR_WORD_LEADS[gender] and rng.random() < FOUR_WORD_SHARE[gender]:
        second = rng.choice(SECOND_MIDDLE_NAMES[gender])
        if second not in (middle, given):
            words.append(second)
    if given == words[-1]:  # "Minh Minh" is not a name
        given = rng.choice([g for g in GIVEN_NAMES[gender] if g != given])
    words.append(given)
    return nfc(" ".join(words))


def email_for(name, number, domain=EMAIL_DOMAIN):
    """'Nguyễn Thị Hồng Nhung', 1234 -> 'nhung.nth.1234@domain' (unique through the number)."""
    words = fold(name).split()
    initials = "".join(word[0] for word in words[:-1])
    return f"{words[-1]}.{initials}.{number}@{domain}"


def people(seed, count, *, prefix="E", start=1, domain=EMAIL_DOMAIN):
    """`count` reproducible people numbered from `start`: employee ID prefix + 6 digits."""
    rng = random.Random(seed)  # noqa: S311  (reproducible fake data, not secrets)
    for number in range(start, start + count):
        gender = "f" if rng.random() < 0.5 else "m"
        name = full_name(rng, gender)
        yield Person(name, gender, f"{prefix}{number:06d}", email_for(name, number, domain))


def place_names(rng, count, exclude=()):
    """`count` distinct invented two-syllable place names ('Tân Phước', 'Vĩnh Lộc')."""
    seen, out = set(exclude), []
    while len(out) < count:
        first, second = rng.sample(PLACE_WORDS, 2)
        name = f"{first} {second}"
        if first != second and name not in seen:
            seen.add(name)
            out.append(name)
    return out
