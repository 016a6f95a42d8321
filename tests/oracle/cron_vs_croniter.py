#!/usr/bin/python3
"""Compares conveyor's cron evaluation with croniter (Debian python3-croniter).

Fixed-offset zones: conveyor must equal croniter exactly. DST zones: conveyor must equal croniter
run on naive local times, resolved by the spec's rules: an every-hour expression fires at every
real instant whose wall-clock reading matches; any other expression fires once per matching
reading, at its first occurrence, or at the first instant after a spring-forward gap.

croniter 1.3.5 has a bug of its own: from late February, get_next skips the 1st of March when the
day-of-month list holds a day past the end of February (e.g. "0 0 1,11,21,31 * *" from Feb 29
gives Mar 11). A mismatch is excused, and counted, only when conveyor's earlier time is one that
croniter.match itself says matches: croniter's get_next skipped it.

Start times stay before 2037: the system tzdata, as the date library reads it, lists DST
transitions explicitly only up to 2037.

Usage: cron_vs_croniter.py DRIVER [--cases N] [--seed S]
"""
import argparse
import datetime as dt
import random
import subprocess
import sys
from zoneinfo import ZoneInfo

from croniter import croniter

UTC = dt.timezone.utc
FIXED_ZONES = ["UTC", "Etc/GMT-3", "Etc/GMT+5", "Asia/Kolkata", "Asia/Kathmandu"]
DST_ZONES = ["America/New_York", "Europe/Berlin", "Australia/Sydney", "Australia/Lord_Howe",
             "Europe/Moscow"]
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


def random_item(rng, low, high, names=None, name_base=0):
    kind = rng.random()
    value = lambda: rng.randint(low, high)
    def spell(v):
        if names and rng.random() < 0.3 and 0 <= v - name_base < len(names):
            return names[v - name_base]
        return str(v)
    if kind < 0.25:
        return "*"
    if kind < 0.4:
        return "*/%d" % rng.randint(1, max(1, (high - low) // 2 + 1))
    if kind < 0.65:
        return spell(value())
    a, b = sorted((value(), value()))
    if kind < 0.8:
        return "%s-%s" % (spell(a), spell(b))
    if kind < 0.9:
        return "%d-%d/%d" % (a, b, rng.randint(1, 5))
    return "%d/%d" % (a, rng.randint(1, 10))


def random_field(rng, low, high, names=None, name_base=0):
    count = 1 if rng.random() < 0.7 else rng.randint(2, 3)
    items = [random_item(rng, low, high, names, name_base) for _ in range(count)]
    if "*" in items and len(items) > 1:
        items = [i for i in items if i != "*"] or ["*"]
    return ",".join(items)


def random_expression(rng):
    if rng.random() < 0.1:
        return rng.choice(["@hourly", "@daily", "@weekly", "@monthly", "@yearly"])
    fields = [random_field(rng, 0, 59), random_field(rng, 0, 23), random_field(rng, 1, 31),
              random_field(rng, 1, 12, MONTHS, 1), random_field(rng, 0, 7, DAYS, 0)]
    if rng.random() < 0.2:
        fields[2] = rng.choice(["29", "30", "31", "29-31"])
        fields[3] = rng.choice(["2", "feb", "*", "1-3"])
    return " ".join(fields)


def random_start(rng):
    if rng.random() < 0.2:
        year = rng.choice([2000, 2004, 2024, 2028, 2032])
        return dt.datetime(year, 2, 29, rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))
    base = dt.datetime(2000, 1, 1) + dt.timedelta(seconds=rng.randint(0, 36 * 365 * 86400))
    return base


def iso(instant):
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def every_hour(expression):
    expanded = croniter(expression).expanded
    return expanded[1] == ["*"]


def local_of(instant, zone):
    return instant.astimezone(zone).replace(tzinfo=None)


def instants_of(naive, zone):
    """Every real instant whose wall-clock reading in `zone` is `naive`."""
    found = set()
    for fold in (0, 1):
        u = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if local_of(u, zone) == naive:
            found.add(u)
    return sorted(found)


def after_gap(naive, zone):
    """The first instant whose wall-clock reading is past `naive` (which is in a gap)."""
    a = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    b = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    lo, hi = min(a, b) - dt.timedelta(hours=3), max(a, b) + dt.timedelta(hours=3)
    while (hi - lo) > dt.timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if local_of(mid, zone) > naive:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


def expected(expression, zone_name, start_naive, count):
    zone = ZoneInfo(zone_name)
    start = instants_of(start_naive, zone)
    start = start[0] if start else after_gap(start_naive, zone)
    it = croniter(expression, start_naive - dt.timedelta(hours=3))
    elapsed = every_hour(expression)
    found = []
    while True:
        naive = it.get_next(dt.datetime)
        if elapsed:
            found.extend(instants_of(naive, zone))
        else:
            real = instants_of(naive, zone)
            found.append(real[0] if real else after_gap(naive, zone))
        later = sorted(set(u for u in found if u > start))
        if len(later) >= count and naive - dt.timedelta(hours=15) > later[count - 1].replace(
                tzinfo=None):
            return [iso(u) for u in later[:count]]


def croniter_skipped(expression, zone_name, want, got):
    """True when the first difference is an earlier conveyor time that croniter.match accepts."""
    zone = ZoneInfo(zone_name)
    for w, g in zip(want, got):
        if w == g:
            continue
        if g.startswith("error") or g > w:
            return False
        instant = dt.datetime.strptime(g, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        return croniter.match(expression, local_of(instant, zone))
    return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("driver")
    parser.add_argument("--cases", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=20261125)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    cases = []
    while len(cases) < args.cases:
        expression = random_expression(rng)
        zone = rng.choice(FIXED_ZONES if len(cases) % 2 == 0 else DST_ZONES)
        start = random_start(rng)
        count = rng.randint(1, 6)
        try:
            want = expected(expression, zone, start, count)
        except Exception:  # croniter rejects it or finds no date: not a comparable case
            continue
        cases.append((expression, zone, start, count, want))
    request = "".join("%s\t%s\t%s\t%d\n" % (e, z, s.strftime("%Y-%m-%dT%H:%M:%S"), n)
                      for e, z, s, n, _ in cases)
    result = subprocess.run([args.driver], input=request, capture_output=True, text=True,
                            check=True)
    answers = result.stdout.splitlines()
    failures = 0
    excused = 0
    for (e, z, s, n, want), got in zip(cases, answers):
        if got != " ".join(want) and croniter_skipped(e, z, want, got.split()):
            excused += 1
        elif got != " ".join(want):
            failures += 1
            if failures <= 20:
                print("MISMATCH %r in %s from %s:\n  croniter: %s\n  conveyor: %s"
                      % (e, z, s, " ".join(want), got))
    fixed = sum(1 for c in cases if c[1] in FIXED_ZONES)
    print("%d cases (%d fixed-offset, %d DST), %d mismatches, %d croniter skips excused"
          % (len(cases), fixed, len(cases) - fixed, failures, excused))
    return 1 if failures or len(answers) != len(cases) else 0


if __name__ == "__main__":
    sys.exit(main())
