"""A reproducible province of 50,000 staff in ~400 units, as units.csv and staff.csv.

    python -m bench.generate [--staff 50000] [--units 400] [--seed 1] [--out bench/data]
"""

import csv
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from lms.names import people, place_names

ROOT = Path(__file__).resolve().parent
DEFAULT_OUT = ROOT / "data"
PROVINCE = ("VS", "Tỉnh Vân Sơn")
DOMAIN = "bench.civicskills.vn"
DEPARTMENTS = (
    "Sở Nội vụ", "Sở Tài chính", "Sở Khoa học và Công nghệ", "Sở Y tế",
    "Sở Giáo dục và Đào tạo", "Sở Tư pháp", "Sở Xây dựng", "Sở Nông nghiệp và Môi trường",
    "Sở Công Thương", "Sở Văn hóa, Thể thao và Du lịch", "Sở Ngoại vụ", "Sở Dân tộc và Tôn giáo",
    "Văn phòng UBND tỉnh", "Thanh tra tỉnh", "Ban Quản lý các khu công nghiệp",
    "Văn phòng Đoàn ĐBQH và HĐND tỉnh", "Sở Kế hoạch và Đầu tư", "Sở Lao động – Thương binh",
)
OFFICES = ("Văn phòng Sở", "Thanh tra Sở", "Phòng Tổ chức cán bộ", "Phòng Kế hoạch – Tài chính",
           "Phòng Quản lý chuyên ngành", "Phòng Chuyển đổi số", "Trung tâm Dịch vụ công",
           "Phòng Pháp chế", "Phòng Tổng hợp", "Phòng Hợp tác quốc tế")
CATEGORIES = (("cadre", 0.12), ("civil_servant", 0.58), ("public_employee", 0.30))


@dataclass
class Generated:
    units_csv: Path
    staff_csv: Path
    units: int
    staff: int
    root_code: str


def _split(rng, total, count, minimum=1):
    """`total` split into `count` random parts of at least `minimum` (largest remainder)."""
    weights = [rng.lognormvariate(0, 0.5) for _ in range(count)]
    spare = total - minimum * count
    shares = [spare * w / sum(weights) for w in weights]
    parts = [minimum + int(s) for s in shares]
    by_remainder = sorted(range(count), key=lambda i: shares[i] - int(shares[i]), reverse=True)
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


def plan_units(rng, units):
    """(code, name, parent code) rows, parents first: province, ~1/13 level 1, the rest below."""
    level1 = max(2, units // 13)
    districts = max(1, level1 * 2 // 5)
    children = _split(rng, units - 1 - level1, level1)
    district_names = place_names(rng, districts)
    commune_names = iter(place_names(rng, sum(children[-districts:]), exclude=district_names))
    rows = [(PROVINCE[0], PROVINCE[1], "")]
    for i, count in enumerate(children):
        if i < level1 - districts:
            code = f"{PROVINCE[0]}.D{i + 1:02d}"
            rows.append((code, DEPARTMENTS[i % len(DEPARTMENTS)]
                         + (f" {i // len(DEPARTMENTS) + 1}" if i >= len(DEPARTMENTS) else ""),
                         PROVINCE[0]))
            rows += [(f"{code}.P{j + 1:02d}", OFFICES[j % len(OFFICES)]
                      + (f" {j // len(OFFICES) + 1}" if j >= len(OFFICES) else ""), code)
                     for j in range(count)]
        else:
            n = i - (level1 - districts)
            code = f"{PROVINCE[0]}.H{n + 1:02d}"
            rows.append((code, f"{'Thị xã' if n % 4 == 0 else 'Huyện'} {district_names[n]}",
                         PROVINCE[0]))
            rows += [(f"{code}.X{j + 1:02d}",
                      f"{'Phường' if n % 4 == 0 else 'Xã'} {next(commune_names)}", code)
                     for j in range(count)]
    return rows


def generate(out=DEFAULT_OUT, *, staff=50_000, units=400, seed=1, progress=True):
    """Write units.csv and staff.csv into `out`; the same arguments give the same bytes."""
    rng = random.Random(seed)  # noqa: S311  (reproducible fake data, not secrets)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tree = plan_units(rng, units)
    sizes = _split(rng, staff, len(tree))
    crowd = people(seed, staff, prefix=PROVINCE[0], domain=DOMAIN)
    categories, weights = zip(*CATEGORIES, strict=True)
    staff_csv, units_csv = out / "staff.csv", out / "units.csv"
    heads = {}
    with open(staff_csv, "w", newline="", encoding="utf-8") as f, click.progressbar(
        length=staff, label="staff.csv", file=sys.stderr if progress else _Null(),
    ) as bar:
        writer = csv.writer(f)
        writer.writerow(["employee_id", "full_name", "email", "unit_code", "category", "role"])
        for (code, _, _), size in zip(tree, sizes, strict=True):
            for i in range(size):
                person = next(crowd)
                # Each unit's head first; HR officers in the province and its first level.
                role = "head" if i == 0 else "hr" if i == 1 and code.count(".") < 2 else ""
                if i == 0:
                    heads[code] = person.employee_id
                writer.writerow([person.employee_id, person.full_name, person.email, code,
                                 rng.choices(categories, weights)[0], role])
            bar.update(size)
    with open(units_csv, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["code", "name", "parent_code", "head_employee_id"])
        writer.writerows([code, name, parent, heads.get(code, "")] for code, name, parent in tree)
    return Generated(units_csv, staff_csv, len(tree), staff, PROVINCE[0])


class _Null:
    def write(self, _):
        pass

    def flush(self):
        pass

    def isatty(self):
        return False


@click.command()
@click.option("--staff", default=50_000, show_default=True, help="Number of staff rows.")
@click.option("--units", default=400, show_default=True, help="Number of units.")
@click.option("--seed", default=1, show_default=True, help="Random seed.")
@click.option("--out", default=str(DEFAULT_OUT), show_default=True, help="Output folder.")
def main(staff, units, seed, out):
    """Generate the benchmark province."""
    result = generate(out, staff=staff, units=units, seed=seed)
    click.echo(f"{result.units} units -> {result.units_csv}\n"
               f"{result.staff} staff -> {result.staff_csv}")


if __name__ == "__main__":
    main()
