import unicodedata

import pytest

from lms.text import fold, nfc, sort_key


@pytest.mark.parametrize(("raw", "folded"), [
    ("Nguyễn Văn Hùng", "nguyen van hung"),
    ("ĐẶNG THỊ ĐÀO", "dang thi dao"),
    ("  Lê   Văn  An ", "le van an"),
    (unicodedata.normalize("NFD", "Phạm Thị Ngọc Ánh"), "pham thi ngoc anh"),
])
def test_fold_ignores_diacritics_case_and_spacing(raw, folded):
    assert fold(raw) == folded


def test_nfc_composes_decomposed_input():
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Hồng Nhung")
    assert decomposed != "Nguyễn Thị Hồng Nhung"
    assert nfc(decomposed) == "Nguyễn Thị Hồng Nhung"


def test_sort_follows_the_vietnamese_alphabet_and_given_name_first():
    names = ["Vũ Văn Ăn", "Lê Văn An", "Ngô Thị Ân", "Trần Thị Ánh", "Đỗ Văn Dũng",
             "Hoàng Văn Đạt", "Phạm Thị Dung", "Bùi Ô", "Lý Thị Ơn", "Mai Văn Oanh"]
    ordered = sorted(names, key=sort_key)
    given = [name.split()[-1] for name in ordered]
    assert given == ["An", "Ánh", "Ăn", "Ân", "Dung", "Dũng", "Đạt", "Oanh", "Ô", "Ơn"]


def test_same_given_name_sorts_by_full_name():
    ordered = sorted(["Trần Văn Hùng", "Nguyễn Văn Hùng", "Lê Văn Hùng"], key=sort_key)
    assert ordered == ["Lê Văn Hùng", "Nguyễn Văn Hùng", "Trần Văn Hùng"]


def test_sort_key_is_the_same_for_composed_and_decomposed_names():
    name = "Nguyễn Thị Hồng Nhung"
    assert sort_key(unicodedata.normalize("NFD", name)) == sort_key(name)
