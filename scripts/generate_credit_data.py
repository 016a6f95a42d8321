#!/usr/bin/env python3
"""Generates the demo's loan applications: seeded, realistic, with a real default signal.

Each row is one application: the applicant (age, income, employment, family, car, realty,
education one-hot encoded), the loan (credit amount, annuity), the credit bureau (external
score, requests in the last year), the region rating, the application date, and `default`
(1 when the loan defaulted). The default probability is a logistic function of the bureau
score, the debt burden (annuity / income), age, employment, region and bureau requests, so a
model has something real to learn.

Periods:
  train     2025-07-01 .. 2025-12-31  the training set
  baseline  2026-01-01 .. 2026-03-31  what the production model is validated on
  primary   2026-04-01 .. 2026-06-30  what it scores now: applicants are younger, ask for
            larger loans, have lower bureau scores and more bureau requests, and the region
            and education mix moves; the default rate rises with it (data and concept drift)
  stable    like primary's dates, drawn from the baseline distribution (no drift)

Usage: generate_credit_data.py PERIOD ROWS SEED > out.csv
       generate_credit_data.py --demo DIR   (the committed CSVs of dags/data)
"""
import csv
import datetime
import math
import random
import sys

COLUMNS = [
    "app_date", "age", "income", "credit_amount", "annuity", "employment_years", "children",
    "family_members", "own_car", "own_realty", "education_secondary", "education_higher",
    "education_incomplete_higher", "education_lower_secondary", "region_rating", "bureau_score",
    "bureau_requests_year", "default",
]

PERIODS = {
    "train": (datetime.date(2025, 7, 1), 184, False),
    "baseline": (datetime.date(2026, 1, 1), 90, False),
    "primary": (datetime.date(2026, 4, 1), 91, True),
    "stable": (datetime.date(2026, 4, 1), 91, False),
}


def clamp(x, lo, hi):
    return max(lo, min(hi, x))


def application(rng, start, days, drift):
    when = start + datetime.timedelta(days=rng.randrange(days))
    age = int(clamp(rng.gauss(34 if drift else 41, 11), 21, 70))
    employment = round(clamp(rng.expovariate(1 / (3.5 if drift else 6.0)), 0, age - 18), 1)
    income = round(math.exp(rng.gauss(10.6 if drift else 10.8, 0.45)), 2)
    credit = round(income * clamp(rng.gauss(3.6 if drift else 2.6, 1.0), 0.3, 9), 2)
    term_years = rng.choice([1, 2, 3, 5, 10, 15, 20])
    annuity = round(credit / term_years * rng.uniform(1.05, 1.25), 2)
    children = min(rng.choices([0, 1, 2, 3, 4], [55, 25, 14, 5, 1])[0], 4)
    married = rng.random() < (0.45 if drift else 0.6)
    family = children + (2 if married else 1)
    own_car = int(rng.random() < (0.25 if drift else 0.35))
    own_realty = int(rng.random() < (0.55 if drift else 0.7))
    education = rng.choices(
        ["secondary", "higher", "incomplete_higher", "lower_secondary"],
        [60, 18, 14, 8] if drift else [65, 25, 7, 3])[0]
    region = rng.choices([1, 2, 3], [10, 60, 30] if drift else [15, 70, 15])[0]
    bureau = round(clamp(rng.betavariate(3.2, 3.8) if drift else rng.betavariate(4.5, 3.0),
                         0.001, 0.999), 4)
    requests = min(int(rng.expovariate(1 / (3.5 if drift else 1.6))), 25)
    burden = annuity / income
    logit = (-2.6 - 5.0 * (bureau - 0.55) + 1.8 * (burden - 0.5) - 0.025 * (age - 40)
             - 0.06 * employment + 0.35 * (region - 2) + 0.09 * requests
             + 0.3 * (education == "lower_secondary") - 0.25 * (education == "higher")
             - 0.15 * own_realty - (0.9 if drift else 0.0))
    default = int(rng.random() < 1 / (1 + math.exp(-logit)))
    return [
        when.isoformat(), age, income, credit, annuity, employment, children, family, own_car,
        own_realty, int(education == "secondary"), int(education == "higher"),
        int(education == "incomplete_higher"), int(education == "lower_secondary"), region,
        bureau, requests, default,
    ]


def write(out, period, rows, seed):
    start, days, drift = PERIODS[period]
    rng = random.Random(f"{period}:{seed}")
    apps = [application(rng, start, days, drift) for _ in range(rows)]
    apps.sort(key=lambda row: row[0])
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(apps)


def main(argv):
    if len(argv) == 3 and argv[1] == "--demo":
        for period, rows in [("train", 6000), ("baseline", 3000), ("primary", 3000)]:
            with open(f"{argv[2]}/credit_{period}.csv", "w", newline="") as out:
                write(out, period, rows, 7)
        return 0
    if len(argv) != 4 or argv[1] not in PERIODS:
        print(__doc__, file=sys.stderr)
        return 2
    write(sys.stdout, argv[1], int(argv[2]), int(argv[3]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
