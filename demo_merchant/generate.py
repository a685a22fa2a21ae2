"""Deterministic, seeded generator of the demo merchant's cart exports.

The world is simulated, not drawn table by table: each customer is acquired (ad channel, first
purchase), each 定期契約 is lived delivery by delivery (notice mail, leftover stock, skips, pauses,
payments, the customer's decision to cancel and what they do on the site and on the phone before
it), and the files are the cart's view of that world as of ``as_of`` 23:59:59 JST. Subscriptions
are simulated past ``as_of`` so that subscribers who are about to cancel already show their
signals in the last days before it; nothing after ``as_of`` is written.

One world, any day: a world is fixed by its seed, size, parameters and first day
(``history_start``, by default ``params.history_days - 1`` days before ``as_of``). It is simulated
as of the end of those ``history_days`` (to a fixed horizon 240 days later) and written as the
cart sees it on ``as_of``: the same world with a later ``as_of`` is the same history plus the
days since (new customers keep being acquired at the window's final rate, each day from its own
random stream), and an earlier ``as_of`` the same history cut shorter. So a daily refresh of
the demo merchant loads the same cart a day older each morning.

Determinism: one ``random.Random`` per customer, seeded from the string ``"<seed>:<index>"``
(string seeds are hashed with SHA-512 by ``random``, never with ``hash()``), a separate one for
anonymous traffic, no set or hash-ordered iteration; output rows are sorted on (time, creation
sequence). Same arguments give byte-identical files.

Times are integer seconds since local midnight of an origin day (JST wall-clock, no zone), days
are integers counted from that origin; both are formatted only when the files are written.
"""

from __future__ import annotations

import bisect
import csv
import os
import random
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from demo_merchant.names import (
    BUILDING_NAMES,
    BUILDING_WORDS,
    EMAIL_DOMAINS,
    GIVEN_NAMES,
    PREFECTURES,
    SURNAMES,
    TOWNS,
    romanize,
)
from demo_merchant.params import CATALOGUE, DEFAULT_PARAMS, BehaviourParams, Product

JST = timezone(timedelta(hours=9), "JST")
DAY = 86400
HOUR = 3600

PROFILE_PATH = (
    Path(__file__).resolve().parent.parent
    / "connectors" / "csv_export" / "profiles" / "demo_merchant.yaml"
)

SITE = "https://shop.example.jp"
CANCEL_PAGE = "/mypage/teiki/cancel"

#: Stream name -> the columns this generator produces, in the generator's own order. They are
#: re-ordered into the profile's order when written, and must match the profile's set exactly.
STREAM_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": (
        "customer_id", "last_name", "first_name", "last_name_kana", "first_name_kana", "email",
        "phone", "postal_code", "prefecture", "address1", "address2", "birthday", "gender",
        "email_opt_in",
        "line_opt_in", "line_user_id", "dm_opt_in", "phone_opt_in", "acquisition_channel",
        "created_at", "updated_at"),
    "products": (
        "product_id", "product_name", "category", "price", "first_delivery_price",
        "is_subscription", "cycle_days", "unit_cost", "created_at", "updated_at"),
    "orders": (
        "order_id", "customer_id", "ordered_at", "subscription_id", "delivery_number", "status",
        "payment_method", "subtotal", "shipping_fee", "discount", "total", "shipped_on",
        "updated_at"),
    "order_lines": (
        "order_id", "line_number", "product_id", "quantity", "unit_price", "discount",
        "line_total", "updated_at"),
    "subscriptions": (
        "subscription_id", "customer_id", "product_id", "quantity", "cycle_days", "status",
        "started_at", "cancelled_at", "cancel_reason", "next_delivery_date", "delivery_count",
        "skip_count", "updated_at"),
    "subscription_events": (
        "event_id", "subscription_id", "occurred_at", "event_type", "before_value",
        "after_value", "reason", "operator"),
    "payments": (
        "payment_id", "order_id", "customer_id", "method", "attempted_at", "amount", "result",
        "failure_reason"),
    "inquiries": (
        "inquiry_id", "customer_id", "created_at", "channel", "category", "agent", "outcome"),
    "web_events": ("event_id", "customer_id", "visited_at", "url", "referrer"),
    "points": (
        "point_event_id", "customer_id", "occurred_at", "event_type", "points", "expires_on",
        "order_id"),
}

#: Optional columns of the reference profile the demo cart does not export: it logs each visit's
#: URL, and dbt derives the page type from it (a cart that logs a page type maps it instead).
NOT_EXPORTED: dict[str, set[str]] = {"web_events": {"page_type"}}

FILE_NAMES: dict[str, str] = {stream: f"{stream}.csv" for stream in STREAM_COLUMNS}

ACTIVE, PAUSED, CANCELLED = "継続中", "休止中", "解約済み"
SHIPPED, PENDING, ORDER_CANCELLED = "発送済み", "発送待ち", "キャンセル"
POINTS_GRANT, POINTS_USE, POINTS_EXPIRE = "付与", "利用", "失効"
CARD, DEFERRED, KONBINI, COD = "クレジットカード", "後払い", "コンビニ払い", "代金引換"
PAYMENT_ERROR = "決済エラー"
LEFTOVER = "商品が余っている"
BOOL_LABELS = {
    "email_opt_in": ("希望する", "希望しない"),
    "line_opt_in": ("登録", "未登録"),
    "dm_opt_in": ("希望する", "希望しない"),
    "phone_opt_in": ("可", "不可"),
}

FAQ_TOPICS = ("teiki", "skip", "payment", "delivery", "usage", "point")
SEARCH_REFERRERS = ("https://www.google.co.jp/", "https://www.google.com/",
                    "https://search.yahoo.co.jp/")
CHANNEL_REFERRERS: dict[str, tuple[str, ...]] = {
    "検索広告": SEARCH_REFERRERS,
    "SNS広告": ("https://www.instagram.com/", "https://www.facebook.com/",
               "https://www.tiktok.com/", "https://line.me/"),
    "アフィリエイト": ("https://beauty-review.example.net/ranking", "https://kirei-blog.example.org/",
                 "https://ranking.example.net/skincare"),
    "自然検索": SEARCH_REFERRERS,
    "紹介": ("https://line.me/", ""),
    "同梱チラシ": ("",),
}


# --------------------------------------------------------------------------------------------
# Profile
# --------------------------------------------------------------------------------------------


def load_profile_headers(path: Path = PROFILE_PATH) -> dict[str, dict[str, str]]:
    """Stream -> {raw column name: CSV header} the demo cart writes, in profile order, from the
    profile YAML (its columns but the NOT_EXPORTED ones)."""
    with open(path, encoding="utf-8") as f:
        profile = yaml.safe_load(f)
    return {
        stream: {column: spec["header"] for column, spec in body["columns"].items()
                 if column not in NOT_EXPORTED.get(stream, ())}
        for stream, body in profile["streams"].items()
    }


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationSummary:
    """What ``generate`` wrote."""

    out_dir: Path
    seed: int
    customers: int
    as_of: date
    history_start: date
    row_counts: dict[str, int]          # file name -> data rows (header excluded)
    subscription_status: dict[str, int]  # status label -> subscriptions
    elapsed_seconds: float
    files: tuple[Path, ...] = field(default=())

    def format(self) -> str:
        lines = [
            f"demo merchant written to {self.out_dir}",
            f"  seed={self.seed} customers={self.customers} "
            f"history {self.history_start:%Y-%m-%d} .. {self.as_of:%Y-%m-%d} (as_of, JST)",
        ]
        width = max(len(name) for name in self.row_counts)
        for name, count in self.row_counts.items():
            lines.append(f"  {name:<{width}}  {count:>9,d} rows")
        status = ", ".join(f"{k} {v:,d}" for k, v in self.subscription_status.items())
        lines.append(f"  subscriptions at as_of: {status}")
        lines.append(f"  generated in {self.elapsed_seconds:.2f} s")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Simulation records
# --------------------------------------------------------------------------------------------


class _Customer:
    __slots__ = (
        "index", "id", "last", "first", "last_kana", "first_kana", "email", "phone", "postal",
        "prefecture", "address1", "address2", "birthday", "gender", "email_opt_in", "line_opt_in", "line_user_id",
        "dm_opt_in", "phone_opt_in", "channel", "created_t", "updated_t", "churn_mult",
        "method", "fragile", "problem", "subs", "held", "current_sub")


class _Sub:
    __slots__ = (
        "seq", "cust", "product", "qty", "cycle", "start_t", "cancel_t", "cancel_reason", "log",
        "orders", "mult", "agent_mult", "id")

    def __init__(self, seq: int, cust: _Customer, product: Product, qty: int, cycle: int,
                 start_t: int, mult: float) -> None:
        self.seq = seq
        self.cust = cust
        self.product = product
        self.qty = qty
        self.cycle = cycle
        self.start_t = start_t
        self.cancel_t: int | None = None
        self.cancel_reason = ""
        # (time, status, next delivery day or None, cycle, quantity): the cart's view over time
        self.log: list[tuple[int, str, int | None, int, int]] = []
        self.orders: list[_Order] = []
        self.mult = mult
        self.agent_mult = 1.0
        self.id = ""


class _Order:
    __slots__ = (
        "seq", "t", "cust", "sub", "n", "method", "lines", "shipping", "discount", "ship_day",
        "cancel_t", "pays", "id")

    def __init__(self, seq: int, t: int, cust: _Customer, sub: _Sub | None, n: int | None,
                 method: str, lines: list[tuple[Product, int, int, int]], shipping: int,
                 discount: int) -> None:
        self.seq = seq
        self.t = t
        self.cust = cust
        self.sub = sub
        self.n = n
        self.method = method
        self.lines = lines          # (product, quantity, unit price, line discount)
        self.shipping = shipping
        self.discount = discount
        self.ship_day: int | None = None
        self.cancel_t: int | None = None
        self.pays: list[tuple[int, int, str, bool, str]] = []  # (t, seq, method, ok, reason)
        self.id = ""

    @property
    def subtotal(self) -> int:
        return sum(price * qty - disc for _, qty, price, disc in self.lines)

    @property
    def total(self) -> int:
        return self.subtotal + self.shipping - self.discount


class _Picker:
    """Weighted choice over (item, weight) pairs with one uniform draw (bisect)."""

    __slots__ = ("items", "cum", "total")

    def __init__(self, pairs: Any) -> None:
        self.items = [p[0] for p in pairs]
        self.cum: list[float] = []
        acc = 0.0
        for p in pairs:
            acc += p[1]
            self.cum.append(acc)
        self.total = acc

    def __call__(self, rng: random.Random) -> Any:
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.total)
                          if self.total > 0 else 0]


# --------------------------------------------------------------------------------------------
# The world
# --------------------------------------------------------------------------------------------


#: How many days past its first ``history_days`` a world can be continued: its subscriptions are
#: simulated 240 days past them, and the last days before ``as_of`` need their future.
MAX_CONTINUED_DAYS = 180


def world_end(history_start: date, params: BehaviourParams = DEFAULT_PARAMS) -> date:
    """The last day of a world's first ``history_days``: it is simulated as of that day."""
    return history_start + timedelta(days=params.history_days - 1)


class _World:
    def __init__(self, customers: int, seed: int, as_of: date, params: BehaviourParams,
                 history_start: date | None = None) -> None:
        self.p = params
        self.n_customers = customers
        self.seed = seed
        self.as_of = as_of
        self.history_start = history_start or as_of - timedelta(days=params.history_days - 1)
        end = world_end(self.history_start, params)
        if not self.history_start <= as_of <= end + timedelta(days=MAX_CONTINUED_DAYS):
            raise ValueError(
                f"as_of {as_of} is outside the world that starts on {self.history_start}: it can "
                f"be seen from that day to {end + timedelta(days=MAX_CONTINUED_DAYS)} "
                f"(history_days {params.history_days} + {MAX_CONTINUED_DAYS}); start a new world")
        self.origin = self.history_start - timedelta(days=800)
        self.origin_ord = self.origin.toordinal()
        self.hist_day = 800
        self.as_of_day = as_of.toordinal() - self.origin_ord
        self.cutoff = self.as_of_day * DAY + DAY - 1  # the view: what the cart shows on as_of
        # the simulation: as of the world's end, whatever day it is seen on
        self.world_cutoff = (end.toordinal() - self.origin_ord) * DAY + DAY - 1
        self.horizon = self.world_cutoff + 240 * DAY
        # days past the world's first history_days that as_of shows (new customers, traffic)
        self.extra_days = max(0, (as_of - end).days)
        self.seq = 0
        self._day_str: dict[int, str] = {}

        self.products = list(CATALOGUE)
        self.by_id = {prod.product_id: prod for prod in self.products}
        self.sub_products = [prod for prod in self.products if prod.is_subscription]
        self.oneoff_products = [prod for prod in self.products if not prod.is_subscription]

        p = params
        self.pick_channel = _Picker([(c, w) for c, w, _ in p.channel_mix])
        self.channel_mult = {c: m for c, _, m in p.channel_mix}
        self.pick_gender = _Picker(p.gender_mix)
        self.pick_age = _Picker([((lo, hi), w) for lo, hi, w in p.age_mix])
        self.pick_pref = _Picker([(pref, pref[1]) for pref in PREFECTURES])
        self.pick_surname = _Picker([(s, 1.0 / (i + 1) ** 0.6) for i, s in enumerate(SURNAMES)])
        self.pick_domain = _Picker(EMAIL_DOMAINS)
        self.pick_method = _Picker(p.payment_method_mix)
        self.pick_first_reason = _Picker(p.first_cancel_reasons)
        self.pick_later_reason = _Picker(p.later_cancel_reasons)
        self.pick_leftover_action = _Picker(p.leftover_action_mix)
        self.pick_cancel_op = _Picker(p.cancel_operator_mix)
        self.pick_change_op = _Picker(p.change_operator_mix)
        self.pick_inquiry_channel = _Picker(p.inquiry_channel_mix)
        self.agents = list(p.agents)
        self.agent_mult = {name: mult for name, mult in p.agents}

        self.customers: list[_Customer] = []
        self.subs: list[_Sub] = []
        self.orders: list[_Order] = []
        # (t, seq, sub, type, before, after, reason, operator)
        self.events: list[tuple[int, int, _Sub, str, str, str, str, str]] = []
        # (t, seq, customer or None, channel, category, agent, outcome)
        self.inquiries: list[tuple[int, int, _Customer | None, str, str, str, str]] = []
        # (t, seq, customer or None, url, referrer)
        self.web: list[tuple[int, int, _Customer | None, str, str]] = []

    # ---- small helpers -----------------------------------------------------------------------

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def month(self, day: int) -> int:
        return date.fromordinal(self.origin_ord + day).month

    def day_str(self, day: int) -> str:
        s = self._day_str.get(day)
        if s is None:
            d = date.fromordinal(self.origin_ord + day)
            s = f"{d.year:04d}/{d.month:02d}/{d.day:02d}"
            self._day_str[day] = s
        return s

    def dt_str(self, t: int) -> str:
        day, sec = divmod(t, DAY)
        h, sec = divmod(sec, HOUR)
        m, s = divmod(sec, 60)
        return f"{self.day_str(day)} {h:02d}:{m:02d}:{s:02d}"

    @staticmethod
    def at(rng: random.Random, day: int, h0: float, h1: float) -> int:
        """A random second of ``day`` between hours h0 and h1."""
        return day * DAY + rng.randrange(int(h0 * HOUR), int(h1 * HOUR))

    def available(self, products: list[Product], day: int) -> list[Product]:
        return [prod for prod in products if self.hist_day + prod.launch_day <= day]

    # ---- recording ---------------------------------------------------------------------------

    def event(self, t: int, sub: _Sub, kind: str, before: str, after: str, reason: str,
              operator: str) -> None:
        self.events.append((t, self.next_seq(), sub, kind, before, after, reason, operator))

    def inquiry(self, rng: random.Random, t: int, cust: _Customer | None, category: str,
                outcome: str, channel: str | None = None) -> str:
        channel = channel or self.pick_inquiry_channel(rng)
        name, mult = self.agents[rng.randrange(len(self.agents))]
        self.inquiries.append((t, self.next_seq(), cust, channel, category, name, outcome))
        if cust is not None and cust.current_sub is not None:
            cust.current_sub.agent_mult = mult
        return name

    def session(self, rng: random.Random, cust: _Customer | None, t: int, paths: list[str],
                referrer: str = "", end: bool = False) -> int:
        """Page views of one visit. ``t`` is the first view, or the last one when ``end``."""
        gaps = [rng.randrange(12, 150) for _ in paths[1:]]
        if end:
            t -= sum(gaps)
        ref = referrer
        for i, path in enumerate(paths):
            url = SITE + path
            self.web.append((t, self.next_seq(), cust, url, ref))
            ref = url
            if i < len(gaps):
                t += gaps[i]
        return t

    # ---- customers -----------------------------------------------------------------------------

    def acquisition_times(self, rng: random.Random) -> list[int]:
        p = self.p
        span = p.history_days
        fmax = max(1.0, p.acquisition_growth) * max(p.acquisition_seasonality)
        hour_picker = _Picker(list(enumerate(p.purchase_hour_weights)))
        times = []
        while len(times) < self.n_customers:
            k = rng.randrange(span)
            x = k / max(1, span - 1)
            f = (1 + (p.acquisition_growth - 1) * x) * \
                p.acquisition_seasonality[self.month(self.hist_day + k) - 1]
            if rng.random() * fmax > f:
                continue
            day = self.hist_day + k
            t = day * DAY + hour_picker(rng) * HOUR + rng.randrange(HOUR)
            times.append(max(t, self.hist_day * DAY + 600))
        times.sort()
        # Days past the window: acquired at the window's final rate, each day from its own
        # random stream, so that a later as_of only adds customers after everyone before.
        weights = [(1 + (p.acquisition_growth - 1) * k / max(1, span - 1))
                   * p.acquisition_seasonality[self.month(self.hist_day + k) - 1]
                   for k in range(span)]
        for k in range(span, span + self.extra_days):
            rng_k = random.Random(f"demo-merchant:{self.seed}:acquired:{k}")
            mean = self.n_customers * p.acquisition_growth * \
                p.acquisition_seasonality[self.month(self.hist_day + k) - 1] / sum(weights)
            count = int(mean) + (1 if rng_k.random() < mean - int(mean) else 0)
            day = self.hist_day + k
            times.extend(sorted(day * DAY + hour_picker(rng_k) * HOUR + rng_k.randrange(HOUR)
                                for _ in range(count)))
        return times

    def make_customer(self, rng: random.Random, index: int, t_acq: int,
                      emails: set[str], phones: set[str]) -> _Customer:
        p = self.p
        c = _Customer()
        c.index = index
        c.id = f"C{index + 1:06d}"
        c.channel = self.pick_channel(rng)
        c.churn_mult = self.channel_mult[c.channel]
        c.gender = self.pick_gender(rng)
        lo, hi = self.pick_age(rng)
        acq_date = date.fromordinal(self.origin_ord + t_acq // DAY)
        age = rng.randint(lo, hi)
        birth = acq_date - timedelta(days=age * 365 + rng.randrange(365))
        c.birthday = None if rng.random() < p.birthday_missing_rate else birth
        female = c.gender == "女性" or (c.gender == "未回答" and rng.random() < 0.7)
        cohort = GIVEN_NAMES[0]
        for row in GIVEN_NAMES:
            if birth.year >= row[0]:
                cohort = row
        first = rng.choice(cohort[1] if female else cohort[2])
        last = self.pick_surname(rng)
        c.last, c.last_kana = last
        c.first, c.first_kana = first
        pref, _, plo, phi = self.pick_pref(rng)
        c.prefecture = pref
        c.postal = f"{rng.randint(plo, phi):03d}-{rng.randrange(10000):04d}"
        # The street address has its own stream of draws, so adding it left the rest of the
        # world (every later draw of this customer's rng) as it was.
        c.address1, c.address2 = self.make_address(random.Random(f"{self.seed}:{index}:address"),
                                                   pref)
        # unique: the warehouse resolves identities on phone numbers too
        c.phone = f"090-0{rng.randrange(1000):03d}-{rng.randrange(10000):04d}"
        while c.phone in phones:
            c.phone = f"090-0{rng.randrange(1000):03d}-{rng.randrange(10000):04d}"
        phones.add(c.phone)
        c.email = self.make_email(rng, romanize(c.first_kana), romanize(c.last_kana), birth,
                                  emails)
        c.email_opt_in = rng.random() < p.email_opt_in_rate
        line_mult = p.line_age_multipliers[0 if age < 50 else 1]
        c.line_opt_in = rng.random() < min(0.95, p.line_opt_in_rate * line_mult)
        c.line_user_id = f"U{rng.getrandbits(128):032x}" if c.line_opt_in else ""
        dm_mult = p.dm_age_multipliers[0 if age >= 50 else 1]
        c.dm_opt_in = rng.random() < min(0.95, p.dm_opt_in_rate * dm_mult)
        c.phone_opt_in = rng.random() < p.phone_opt_in_rate
        c.created_t = t_acq - rng.randrange(60, 900)
        c.updated_t = c.created_t
        if rng.random() < p.profile_update_rate and c.created_t < self.world_cutoff - DAY:
            c.updated_t = rng.randrange(c.created_t + HOUR, self.world_cutoff)
        c.method = self.pick_method(rng)
        c.fragile = rng.random() < p.fragile_customer_share
        c.problem = None
        c.subs = []
        c.held = []
        c.current_sub = None
        return c

    def make_address(self, rng: random.Random, prefecture: str) -> tuple[str, str]:
        """住所1 (市区町村 + 町名 + 丁目-番-号, in the prefecture) and 住所2 (building and room, or
        empty for a house)."""
        city, town = rng.choice(TOWNS[prefecture])
        address1 = f"{city}{town}{rng.randint(1, 5)}-{rng.randint(1, 30)}-{rng.randint(1, 20)}"
        address2 = ""
        if rng.random() < self.p.address2_share:
            room = f"{rng.randint(1, 12)}{rng.randint(1, 10):02d}"
            address2 = f"{rng.choice(BUILDING_WORDS)}{rng.choice(BUILDING_NAMES)} {room}号室"
        return address1, address2

    def make_email(self, rng: random.Random, given: str, family: str, birth: date,
                   taken: set[str]) -> str:
        style = rng.randrange(6)
        if style == 0:
            local = f"{given}.{family}"
        elif style == 1:
            local = f"{family}.{given}"
        elif style == 2:
            local = f"{given}{birth.year % 100:02d}"
        elif style == 3:
            local = f"{given[0]}{family}{birth.month:02d}{birth.day:02d}"
        elif style == 4:
            local = f"{family}_{given}"
        else:
            local = f"{given}-{rng.randrange(10, 1000)}"
        domain = self.pick_domain(rng)
        email = f"{local}@{domain}"
        while email in taken:
            email = f"{local}{rng.randrange(10, 10000)}@{domain}"
        taken.add(email)
        return email

    # ---- payments ------------------------------------------------------------------------------

    def pay(self, rng: random.Random, order: _Order, checkout: bool,
            delivery_day: int | None) -> bool:
        """Run the order's payment attempts; set ship day or cancellation. True when paid."""
        p = self.p
        cust = order.cust
        method = order.method
        amount = order.total
        t = order.t
        if cust.problem is None and method in (CARD, DEFERRED):
            rate = p.payment_problem_rate_fragile if cust.fragile else p.payment_problem_rate
            if rng.random() < rate:
                if method == CARD:
                    cust.problem = ("有効期限切れ" if rng.random() < p.card_expired_share
                                    else "カード与信NG")
                else:
                    cust.problem = "後払い審査NG"
        earliest_ship = t // DAY + 1
        if delivery_day is not None:
            earliest_ship = max(earliest_ship, delivery_day - p.ship_days_before_delivery)
        paid_t: int | None = None
        last_t = t
        if method == CARD:
            if checkout:
                attempts = [t + rng.randrange(3, 40)]
                attempts.append(attempts[0] + rng.randrange(90, 900))
            else:
                attempts = [t + rng.randrange(3, 40)]
                attempts += [self.at(rng, t // DAY + d, 6, 7) for d in p.card_retry_days]
            for i, ta in enumerate(attempts):
                last_t = ta
                if cust.problem is not None:
                    order.pays.append((ta, self.next_seq(), method, False, cust.problem))
                    if rng.random() < p.payment_fix_rate:
                        cust.problem = None
                    continue
                if i < len(attempts) - 1 and rng.random() < p.card_glitch_rate:
                    order.pays.append((ta, self.next_seq(), method, False, "カード与信NG"))
                    continue
                order.pays.append((ta, self.next_seq(), method, True, ""))
                paid_t = ta
                break
        elif method == DEFERRED:
            ta = t + rng.randrange(30, 600)
            last_t = ta
            if cust.problem is not None:
                order.pays.append((ta, self.next_seq(), method, False, cust.problem))
                if rng.random() < p.payment_fix_rate:
                    cust.problem = None
            else:
                order.pays.append((ta, self.next_seq(), method, True, ""))
                paid_t = ta
        elif method == KONBINI:
            unpaid = p.konbini_unpaid_rate * (p.fragile_unpaid_multiplier if cust.fragile else 1)
            if rng.random() < unpaid:
                ta = self.at(rng, t // DAY + 8, 6, 7)
                order.pays.append((ta, self.next_seq(), method, False, "未入金"))
                last_t = ta
            else:
                ta = t + rng.randrange(2 * HOUR, 4 * DAY)
                order.pays.append((ta, self.next_seq(), method, True, ""))
                paid_t = ta
                earliest_ship = max(earliest_ship, ta // DAY + 1)
        else:  # COD: paid to the driver on arrival
            order.ship_day = earliest_ship
            ta = self.at(rng, earliest_ship + rng.randint(1, 2), 9, 20)
            refused = rng.random() < p.cod_refusal_rate * (
                p.fragile_unpaid_multiplier if cust.fragile else 1)
            order.pays.append((ta, self.next_seq(), method, not refused,
                               "未入金" if refused else ""))
            if refused:
                order.cancel_t = ta + rng.randrange(2 * DAY, 4 * DAY)
                return False
            return True
        if paid_t is None:
            order.cancel_t = last_t + rng.randrange(HOUR, 3 * HOUR)
            return False
        order.ship_day = max(earliest_ship, paid_t // DAY + 1)
        return True

    def new_order(self, rng: random.Random, t: int, cust: _Customer, sub: _Sub | None,
                  n: int | None, lines: list[tuple[Product, int, int, int]], shipping: int = 0,
                  discount: int = 0) -> _Order:
        order = _Order(self.next_seq(), t, cust, sub, n, cust.method, lines, shipping, discount)
        self.orders.append(order)
        if sub is not None:
            sub.orders.append(order)
        return order

    # ---- customer journey ----------------------------------------------------------------------

    def simulate_customer(self, rng: random.Random, cust: _Customer, t_acq: int) -> None:
        p = self.p
        day = t_acq // DAY
        referrer = rng.choice(CHANNEL_REFERRERS.get(cust.channel, ("",)))
        queue: list[_Sub] = []
        if rng.random() < p.subscription_entry_share:
            prod = _Picker([(x, x.entry_weight)
                            for x in self.available(self.sub_products, day)])(rng)
            paths = ["/", f"/products/{prod.product_id}"] if rng.random() < 0.4 \
                else [f"/products/{prod.product_id}"]
            self.session(rng, None, t_acq - rng.randrange(120, 1500), paths, referrer)
            queue.append(self.new_sub(rng, cust, prod, t_acq, 1.0))
        else:
            prod = _Picker([(x, x.entry_weight)
                            for x in self.available(self.oneoff_products, day)])(rng)
            self.session(rng, None, t_acq - rng.randrange(120, 1500),
                         [f"/products/{prod.product_id}"], referrer)
            coupon = p.first_order_coupon if cust.channel in ("紹介", "同梱チラシ") else 0
            self.oneoff_order(rng, cust, t_acq, prod, coupon)
            conversion = (p.oneoff_to_subscription_rate if prod.usage_days <= 7
                          else p.fullsize_to_subscription_rate)
            if prod.related_subscription and rng.random() < conversion:
                target = self.by_id[prod.related_subscription]
                lo, hi = p.conversion_days_range
                t_conv = self.at(rng, day + rng.randint(lo, hi), 8, 23)
                if t_conv <= self.horizon:
                    self.session(rng, cust, t_conv - rng.randrange(60, 600),
                                 ["/mypage", f"/products/{target.product_id}"])
                    queue.append(self.new_sub(rng, cust, target, t_conv,
                                              p.converted_churn_multiplier))
            t = t_acq
            while rng.random() < p.oneoff_repeat_rate:
                t = self.at(rng, t // DAY + rng.randint(25, 120), 8, 23)
                if t > self.horizon:
                    break
                again = prod if rng.random() < 0.5 else rng.choice(
                    self.available(self.oneoff_products, t // DAY))
                self.session(rng, cust, t - rng.randrange(60, 900),
                             ["/", f"/products/{again.product_id}"])
                self.oneoff_order(rng, cust, t, again, 0)
        i = 0
        while i < len(queue):
            queue.extend(self.simulate_sub(rng, queue[i]))
            i += 1

    def oneoff_order(self, rng: random.Random, cust: _Customer, t: int, prod: Product,
                     coupon: int) -> None:
        p = self.p
        qty = 2 if rng.random() < p.oneoff_quantity_two_share else 1
        subtotal = prod.price * qty
        shipping = 0 if subtotal >= p.free_shipping_threshold else p.shipping_fee
        order = self.new_order(rng, t, cust, None, None, [(prod, qty, prod.price, 0)], shipping,
                               min(coupon, subtotal))
        self.pay(rng, order, True, None)

    def new_sub(self, rng: random.Random, cust: _Customer, prod: Product, t: int,
                mult: float) -> _Sub:
        p = self.p
        assert prod.cycle_days is not None
        cycle = prod.cycle_days
        if rng.random() >= p.default_cycle_share:
            others = [c for c in p.signup_cycle_options if c != cycle]
            if others:
                cycle = rng.choice(others)
        qty = 2 if rng.random() < p.quantity_two_share else 1
        sub = _Sub(self.next_seq(), cust, prod, qty, cycle, t, mult)
        self.subs.append(sub)
        cust.subs.append(sub)
        cust.held.append(prod.product_id)
        return sub

    # ---- one 定期契約 ----------------------------------------------------------------------------

    def stage_hazard(self, n: int) -> float:
        p = self.p
        if n <= 2:
            return p.first_to_second_cancel_rate
        if n <= p.min_commitment_deliveries:
            return p.commitment_period_hazard
        if n == p.min_commitment_deliveries + 1:
            return p.post_commitment_cancel_rate
        k = n - p.min_commitment_deliveries - 2
        return max(p.late_hazard_floor, p.late_hazard_start * p.late_hazard_decay ** k)

    def simulate_sub(self, rng: random.Random, sub: _Sub) -> list[_Sub]:
        """Live one subscription to its end (or the horizon). Returns cross-sold new ones."""
        p = self.p
        cust = sub.cust
        cust.current_sub = sub
        prod = sub.product
        new_subs: list[_Sub] = []
        usage = (rng.uniform(*p.slow_usage_range) if rng.random() < p.slow_user_share
                 else rng.uniform(*p.normal_usage_range))
        skin = prod.skincare

        # delivery 1: the sign-up order at the 定期初回価格
        t0 = sub.start_t
        first_price = prod.first_delivery_price or prod.price
        order = self.new_order(rng, t0, cust, sub, 1, [(prod, sub.qty, first_price, 0)])
        arrival = t0 // DAY + p.first_arrival_days
        S = arrival + sub.cycle
        sub.log.append((t0, ACTIVE, S, sub.cycle, sub.qty))
        if not self.pay(rng, order, True, None):
            assert order.cancel_t is not None
            self.cancel(sub, order.cancel_t, PAYMENT_ERROR, ACTIVE, "")
            return new_subs
        stock = sub.qty * prod.usage_days
        last_arrival = arrival
        prev_order_day = t0 // DAY
        n = 2
        rolled_for = 0
        consecutive_failed = 0
        leftover_adjustments = 0
        pending_discount = 0
        blocked = False

        while True:
            order_day = S - p.order_lead_days
            notice_day = S - p.notice_days_before_delivery
            if order_day * DAY > self.horizon:
                return new_subs
            # signals of this stage's decisions come after the last delivery arrived
            earliest = max(sub.start_t + HOUR, prev_order_day * DAY + HOUR,
                           last_arrival * DAY + 9 * HOUR)

            # 休止 (pause), decided some time during the cycle
            if n >= 3 and rolled_for < n and rng.random() < p.pause_rate:
                lo_day = prev_order_day + 4
                pause_day = rng.randint(lo_day, max(lo_day, notice_day))
                tp = self.at(rng, pause_day, 9, 22)
                op = self.change_channel(rng, cust, tp, "定期の変更")
                reason = rng.choice(p.pause_reasons)
                self.event(tp, sub, "休止", ACTIVE, PAUSED, reason, op)
                sub.log.append((tp, PAUSED, None, sub.cycle, sub.qty))
                end_day = pause_day + rng.randint(*p.pause_days_range)
                if rng.random() < p.pause_resume_rate:
                    tr = self.at(rng, end_day, 9, 22)
                    op = self.change_channel(rng, cust, tr, "定期の変更")
                    S = end_day + p.notice_days_before_delivery + rng.randint(1, 7)
                    self.event(tr, sub, "再開", PAUSED, ACTIVE, "", op)
                    sub.log.append((tr, ACTIVE, S, sub.cycle, sub.qty))
                    prev_order_day = end_day
                    continue
                tc = self.at(rng, end_day, 9, 21)
                reason = rng.choice(p.paused_cancel_reasons)
                if self.voluntary_cancel(rng, sub, tc, reason, PAUSED, tp + HOUR):
                    return new_subs
                # talked out of it on the phone: resume instead
                S = end_day + p.notice_days_before_delivery + rng.randint(1, 7)
                self.event(tc + 600, sub, "再開", PAUSED, ACTIVE, "継続案内", "電話")
                sub.log.append((tc + 600, ACTIVE, S, sub.cycle, sub.qty))
                prev_order_day = end_day
                continue

            remaining = max(0.0, stock - usage * (S - last_arrival))
            leftover = remaining >= p.leftover_threshold_days

            # voluntary cancellation (once per stage)
            if rolled_for < n:
                rolled_for = n
                mult = (cust.churn_mult * sub.mult * sub.agent_mult
                        * p.cancel_seasonality[self.month(S) - 1])
                h = self.stage_hazard(n) * mult
                if 3 <= n <= p.min_commitment_deliveries:
                    # wants out during the 縛り: asks, is told to wait, waits
                    if not blocked and rng.random() < min(0.95, p.commitment_blocked_rate * mult):
                        blocked = True
                        self.blocked_request(rng, sub, self.notice_window_time(
                            rng, notice_day, order_day), earliest)
                        h = 0.0
                elif blocked and n == p.min_commitment_deliveries + 1:
                    h = max(h, p.blocked_cancel_rate)
                if rng.random() < min(0.95, h):
                    reasons = self.pick_first_reason if n == 2 else self.pick_later_reason
                    reason = reasons(rng)
                    while reason == "肌に合わない" and not skin:
                        reason = reasons(rng)
                    share = p.notice_trigger_share_first if n == 2 else p.notice_trigger_share
                    if rng.random() < share:
                        tc = self.notice_window_time(rng, notice_day, order_day)
                    elif n == 2:
                        d = last_arrival + 1 + int(rng.expovariate(1 / 5.0))
                        tc = (self.at(rng, d, 9, 22) if d < notice_day
                              else self.notice_window_time(rng, notice_day, order_day))
                    else:
                        lo_day = prev_order_day + 3
                        tc = (self.at(rng, rng.randint(lo_day, notice_day - 1), 9, 22)
                              if lo_day < notice_day
                              else self.notice_window_time(rng, notice_day, order_day))
                    if self.voluntary_cancel(rng, sub, tc, reason, ACTIVE, earliest):
                        return new_subs
                    pending_discount = p.retention_discount
                    leftover = False  # talked round: this delivery goes ahead

            # 余り: noticed when the 次回お届け予定 mail arrives
            if leftover:
                te = self.notice_window_time(rng, notice_day, order_day)
                pc = (p.leftover_first_cancel_rate if leftover_adjustments == 0
                      else p.leftover_repeat_cancel_rate)
                if n <= p.min_commitment_deliveries:
                    pc *= p.leftover_commitment_factor
                pc = min(0.95, pc * cust.churn_mult)
                r = rng.random()
                if r < pc:
                    if self.voluntary_cancel(rng, sub, te, LEFTOVER, ACTIVE, earliest):
                        return new_subs
                    pending_discount = p.retention_discount
                elif r < pc + (1 - pc) * p.leftover_adjust_rate:
                    action = self.pick_leftover_action(rng)
                    if action == "数量変更" and sub.qty <= 1:
                        action = "スキップ"
                    if action == "周期変更" and sub.cycle >= max(p.cycle_options):
                        action = "スキップ"
                    op = self.change_channel(rng, cust, te, "定期の変更")
                    leftover_adjustments += 1
                    if action == "数量変更":
                        self.event(te, sub, action, str(sub.qty), str(sub.qty - 1), LEFTOVER, op)
                        sub.qty -= 1
                        sub.log.append((te, ACTIVE, S, sub.cycle, sub.qty))
                        # the delivery goes ahead with the smaller quantity
                    else:
                        old_s = S
                        if action == "スキップ":
                            S += sub.cycle
                            self.event(te, sub, action, self.day_str(old_s), self.day_str(S),
                                       LEFTOVER, op)
                        elif action == "お届け日変更":
                            S += rng.randint(*p.postpone_days_range)
                            self.event(te, sub, action, self.day_str(old_s), self.day_str(S),
                                       LEFTOVER, op)
                        else:
                            new_cycle = min(c for c in p.cycle_options if c > sub.cycle)
                            S += new_cycle - sub.cycle
                            self.event(te, sub, action, f"{sub.cycle}日", f"{new_cycle}日",
                                       LEFTOVER, op)
                            sub.cycle = new_cycle
                        sub.log.append((te, ACTIVE, S, sub.cycle, sub.qty))
                        continue

            # the 定期 order for delivery n
            t_order = self.at(rng, order_day, 3, 5)
            lines = [(prod, sub.qty, prod.price, min(pending_discount, prod.price * sub.qty))]
            pending_discount = 0
            if rng.random() < p.addon_rate:
                addon = rng.choice(self.available(self.oneoff_products, order_day))
                lines.append((addon, 1, addon.price, 0))
            order = self.new_order(rng, t_order, cust, sub, n, lines)
            prev_order_day = order_day
            paid = self.pay(rng, order, False, S)
            delivered_s = S
            S += sub.cycle
            sub.log.append((t_order, ACTIVE, S, sub.cycle, sub.qty))
            if not paid:
                consecutive_failed += 1
                assert order.cancel_t is not None
                if rng.random() < p.payment_inquiry_rate:
                    self.inquiry(rng, order.cancel_t + rng.randrange(HOUR, 3 * DAY), cust,
                                 "支払い", "解決")
                if consecutive_failed >= p.failed_orders_to_cancel:
                    self.cancel(sub, order.cancel_t + rng.randrange(60, 1800), PAYMENT_ERROR,
                                ACTIVE, "")
                    return new_subs
                continue
            consecutive_failed = 0
            stock = remaining + sub.qty * prod.usage_days
            last_arrival = delivered_s
            assert order.ship_day is not None
            self.background(rng, cust, sub, order.ship_day, skin)
            if (2 <= n <= p.cross_sell_last_delivery and rng.random() < p.cross_sell_rate
                    and len(cust.subs) < p.max_subscriptions_per_customer):
                start_day = order.ship_day + rng.randint(2, 20)
                options = [x for x in self.available(self.sub_products, start_day)
                           if x.product_id not in cust.held]
                t_new = self.at(rng, start_day, 8, 23)
                if options and t_new <= self.horizon:
                    target = rng.choice(options)
                    self.session(rng, cust, t_new - rng.randrange(60, 900),
                                 ["/mypage", f"/products/{target.product_id}"])
                    new_subs.append(self.new_sub(rng, cust, target, t_new,
                                                 p.cross_sell_churn_multiplier))
            n += 1

    def notice_window_time(self, rng: random.Random, notice_day: int, order_day: int) -> int:
        """A moment in the days between the notice mail (10:00) and the order batch."""
        days = max(1, order_day - notice_day)
        k = min(days - 1, int(rng.expovariate(1 / 1.1)))
        if k == 0:
            return self.at(rng, notice_day, 10.2, 23)
        return self.at(rng, notice_day + k, 7, 23)

    def change_channel(self, rng: random.Random, cust: _Customer, t: int, category: str) -> str:
        """Where a 定期 change is made; leaves the matching web visit or inquiry."""
        op = self.pick_change_op(rng)
        if op == "マイページ":
            self.session(rng, cust, t - rng.randrange(5, 60), ["/mypage", "/mypage/teiki"],
                         end=True)
        elif op == "電話":
            self.inquiry(rng, t - rng.randrange(120, 900), cust, category, "解決", "電話")
        else:
            self.inquiry(rng, t - rng.randrange(HOUR, 12 * HOUR), cust, category, "解決", "メール")
        return op

    def cancel(self, sub: _Sub, t: int, reason: str, before: str, operator: str) -> None:
        sub.cancel_t = t
        sub.cancel_reason = reason
        self.event(t, sub, "解約", before, CANCELLED, reason, operator)
        sub.log.append((t, CANCELLED, None, sub.cycle, sub.qty))

    def voluntary_cancel(self, rng: random.Random, sub: _Sub, tc: int, reason: str,
                         before: str, earliest: int) -> bool:
        """The customer decides to cancel at ``tc``; returns False when an agent saves it."""
        p = self.p
        cust = sub.cust
        earliest = min(earliest, tc - 1800)
        if reason == "肌に合わない" and rng.random() < p.skin_trouble_inquiry_rate:
            ti = self.before(rng, tc, rng.randrange(2 * DAY, 20 * DAY), earliest)
            self.inquiry(rng, ti, cust, "肌トラブル", rng.choice(("解決", "折り返し")))
        elif reason in ("効果を実感できない", "価格が高い", "他社商品に切り替え") and \
                rng.random() < p.dissatisfaction_inquiry_rate:
            ti = self.before(rng, tc, rng.randrange(DAY, 15 * DAY), earliest)
            self.inquiry(rng, ti, cust, "商品不満", rng.choice(("解決", "継続案内")))
        if rng.random() < p.pre_cancel_web_rate:
            gap = min(14 * DAY - HOUR, int(rng.expovariate(1 / p.pre_cancel_web_mean_days) * DAY)
                      + 1800)
            last = CANCEL_PAGE if rng.random() < p.pre_cancel_cancel_page_share else "/contact"
            self.session(rng, cust, self.before(rng, tc, gap, earliest),
                         ["/mypage", "/faq/teiki-cancel", last])
        if rng.random() < p.wavering_visit_rate:
            self.session(rng, cust,
                         self.before(rng, tc, rng.randrange(5 * DAY, 14 * DAY), earliest),
                         ["/mypage", CANCEL_PAGE])
        if rng.random() < p.pre_cancel_inquiry_rate:
            ti = self.before(rng, tc, rng.randrange(8 * HOUR, 10 * DAY), earliest)
            self.inquiry(rng, ti, cust, "解約相談", rng.choice(("折り返し", "継続案内")))
        op = self.pick_cancel_op(rng)
        if op == "電話":
            call_t = tc - rng.randrange(300, 1500)
            agent = self.inquiry_agent_call(rng, cust, call_t, sub)
            if rng.random() < p.save_rate / self.agent_mult[agent]:
                self.amend_last_outcome("継続案内")
                return False
        elif op == "マイページ":
            self.session(rng, cust, tc - rng.randrange(10, 120),
                         ["/mypage", "/mypage/teiki", CANCEL_PAGE], end=True)
        else:
            self.inquiry(rng, tc - rng.randrange(2 * HOUR, 20 * HOUR), cust, "解約相談", "解約受付",
                         "メール")
        self.cancel(sub, tc, reason, before, op)
        return True

    @staticmethod
    def before(rng: random.Random, t: int, gap: int, earliest: int) -> int:
        """``t - gap``, or a random moment in [earliest, t) when that would be too early."""
        if t - gap >= earliest:
            return t - gap
        return earliest + rng.randrange(max(1, t - earliest - 600))

    def blocked_request(self, rng: random.Random, sub: _Sub, t: int, earliest: int) -> None:
        """A cancel request inside the minimum commitment: the cart's cancel page and the call
        center both say 3 deliveries are required, so the customer stays for now."""
        cust = sub.cust
        if rng.random() < self.p.blocked_web_rate:
            self.session(rng, cust, self.before(rng, t, rng.randrange(600, 2 * DAY), earliest),
                         ["/mypage", "/faq/teiki-cancel", CANCEL_PAGE])
        channel = "電話" if rng.random() < self.p.blocked_phone_share else "メール"
        self.inquiry(rng, t, cust, "解約相談", "継続案内", channel)

    def inquiry_agent_call(self, rng: random.Random, cust: _Customer, t: int, sub: _Sub) -> str:
        return self.inquiry(rng, t, cust, "解約相談", "解約受付", "電話")

    def amend_last_outcome(self, outcome: str) -> None:
        t, seq, cust, channel, category, agent, _ = self.inquiries[-1]
        self.inquiries[-1] = (t, seq, cust, channel, category, agent, outcome)

    def background(self, rng: random.Random, cust: _Customer, sub: _Sub, ship_day: int,
                   skin: bool) -> None:
        """Everyday contacts and visits around one delivered 定期 order."""
        p = self.p
        for category, rate in p.inquiry_rates:
            if rng.random() < rate:
                if category == "肌トラブル" and not skin:
                    continue
                who = None if rng.random() < p.anonymous_inquiry_share else cust
                outcome = "解決" if rng.random() < p.inquiry_resolved_share else "折り返し"
                self.inquiry(rng, self.at(rng, ship_day + rng.randint(0, 10), 9, 20), who,
                             category, outcome)
        if rng.random() < p.mypage_visit_rate:
            paths = ["/mypage"] if rng.random() < 0.5 else ["/mypage", "/mypage/teiki"]
            self.session(rng, cust, self.at(rng, ship_day + rng.randint(1, 20), 7, 24), paths)
        if rng.random() < p.product_browse_rate:
            target = rng.choice(self.available(self.products, ship_day))
            self.session(rng, cust, self.at(rng, ship_day + rng.randint(1, 25), 7, 24),
                         ["/", f"/products/{target.product_id}"])
        if rng.random() < p.faq_visit_rate:
            self.session(rng, cust, self.at(rng, ship_day + rng.randint(0, 20), 7, 24),
                         ["/faq", f"/faq/{rng.choice(FAQ_TOPICS)}"])
        if rng.random() < p.cancel_page_noise_rate:
            self.session(rng, cust, self.at(rng, ship_day + rng.randint(0, 20), 7, 24),
                         ["/mypage", CANCEL_PAGE])

    def anonymous_traffic(self, rng: random.Random) -> None:
        p = self.p
        span = p.history_days
        base = p.anonymous_views_per_day_per_1000 * self.n_customers / 1000 / 2.0
        pages = ["/"] + [f"/products/{x.product_id}" for x in self.products]
        for k in range(span + self.extra_days):
            if k >= span:  # days past the window: their own stream each, the final ramp
                rng = random.Random(f"demo-merchant:{self.seed}:anonymous:{k}")
            day = self.hist_day + k
            ramp = 1 + (p.acquisition_growth - 1) * min(k, span - 1) / max(1, span - 1)
            mean = base * ramp * 2 / (1 + p.acquisition_growth)
            sessions = int(mean) + (1 if rng.random() < mean - int(mean) else 0)
            avail = [x for x in pages if not x.startswith("/products/")
                     or self.hist_day + self.by_id[x[10:]].launch_day <= day]
            for _ in range(sessions):
                path = [rng.choice(avail)]
                if rng.random() < 0.3:
                    path.append(rng.choice(avail))
                if rng.random() < 0.1:
                    path.append(f"/faq/{rng.choice(FAQ_TOPICS)}")
                ref = rng.choice(SEARCH_REFERRERS + ("", "", "https://www.instagram.com/"))
                self.session(rng, None, self.at(rng, day, 0, 24), path, ref)

    # ---- run -----------------------------------------------------------------------------------

    def run(self) -> None:
        master = random.Random(f"demo-merchant:{self.seed}")
        times = self.acquisition_times(master)
        emails: set[str] = set()
        phones: set[str] = set()
        for index, t_acq in enumerate(times):
            rng = random.Random(f"{self.seed}:{index}")
            cust = self.make_customer(rng, index, t_acq, emails, phones)
            self.customers.append(cust)
            self.simulate_customer(rng, cust, t_acq)
        self.anonymous_traffic(random.Random(f"demo-merchant:{self.seed}:anonymous"))

    # ---- the cart's view at as_of --------------------------------------------------------------

    def tables(self) -> dict[str, list[tuple[Any, ...]]]:
        cutoff = self.cutoff
        dt = self.dt_str
        yen = str
        out: dict[str, list[tuple[Any, ...]]] = {}

        rows = []
        for c in self.customers:
            if c.created_t > cutoff:  # registered after the day the cart is seen on
                continue
            labels = {k: v[0] if getattr(c, attr) else v[1] for k, v, attr in (
                ("email_opt_in", BOOL_LABELS["email_opt_in"], "email_opt_in"),
                ("line_opt_in", BOOL_LABELS["line_opt_in"], "line_opt_in"),
                ("dm_opt_in", BOOL_LABELS["dm_opt_in"], "dm_opt_in"),
                ("phone_opt_in", BOOL_LABELS["phone_opt_in"], "phone_opt_in"))}
            birthday = (f"{c.birthday.year:04d}/{c.birthday.month:02d}/{c.birthday.day:02d}"
                        if c.birthday else "")
            rows.append((
                c.id, c.last, c.first, c.last_kana, c.first_kana, c.email, c.phone, c.postal,
                c.prefecture, c.address1, c.address2, birthday, c.gender, labels["email_opt_in"],
                labels["line_opt_in"], c.line_user_id, labels["dm_opt_in"],
                labels["phone_opt_in"], c.channel, dt(c.created_t),
                dt(c.updated_t if c.updated_t <= cutoff else c.created_t)))
        out["customers"] = rows

        rows = []
        for prod in self.products:
            created = min((self.hist_day + prod.launch_day) * DAY + 10 * HOUR, cutoff - DAY)
            updated = max(created, (self.hist_day + prod.updated_day) * DAY + 15 * HOUR)
            updated = min(updated, cutoff)
            rows.append((
                prod.product_id, prod.name, prod.category, yen(prod.price),
                "" if prod.first_delivery_price is None else yen(prod.first_delivery_price),
                "1" if prod.is_subscription else "0",
                "" if prod.cycle_days is None else str(prod.cycle_days),
                yen(prod.unit_cost), dt(created), dt(updated)))
        out["products"] = rows

        # subscriptions (ids first: orders refer to them)
        subs = sorted((s for s in self.subs if s.start_t <= cutoff),
                      key=lambda s: (s.start_t, s.seq))
        width = max(6, len(str(len(subs))))
        for i, s in enumerate(subs):
            s.id = f"T{i + 1:0{width}d}"

        orders = sorted((o for o in self.orders if o.t <= cutoff), key=lambda o: (o.t, o.seq))
        width = max(7, len(str(len(orders))))
        order_rows, line_rows, pay_list = [], [], []
        delivered: dict[int, int] = {}
        last_order_t: dict[int, int] = {}
        as_of_day = self.as_of_day
        for i, o in enumerate(orders):
            o.id = f"O{i + 1:0{width}d}"
            cancelled = o.cancel_t is not None and o.cancel_t <= cutoff
            shipped = o.ship_day is not None and o.ship_day <= as_of_day
            status = ORDER_CANCELLED if cancelled else SHIPPED if shipped else PENDING
            updated = o.t
            for pay in o.pays:
                if pay[0] <= cutoff:
                    updated = max(updated, pay[0])
                    pay_list.append((pay, o))
            if shipped:
                assert o.ship_day is not None
                updated = max(updated, o.ship_day * DAY + 15 * HOUR)
            if cancelled:
                assert o.cancel_t is not None
                updated = max(updated, o.cancel_t)
            updated_s = dt(updated)
            sub_id = ""
            if o.sub is not None:
                sub_id = o.sub.id
                key = o.sub.seq
                last_order_t[key] = o.t
                if not cancelled:
                    delivered[key] = delivered.get(key, 0) + 1
            order_rows.append((
                o.id, o.cust.id, dt(o.t), sub_id, "" if o.n is None else str(o.n), status,
                o.method, yen(o.subtotal), yen(o.shipping), yen(o.discount), yen(o.total),
                self.day_str(o.ship_day) if shipped and o.ship_day is not None else "",
                updated_s))
            for ln, (prod, qty, price, disc) in enumerate(o.lines, start=1):
                line_rows.append((o.id, str(ln), prod.product_id, str(qty), yen(price),
                                  yen(disc), yen(price * qty - disc), updated_s))
        out["orders"] = order_rows
        out["order_lines"] = line_rows
        out["points"] = self.point_rows(orders)

        pay_list.sort(key=lambda x: (x[0][0], x[0][1]))
        width = max(7, len(str(len(pay_list))))
        out["payments"] = [
            (f"P{i + 1:0{width}d}", o.id, o.cust.id, method, dt(t), yen(o.total),
             "成功" if ok else "失敗", reason)
            for i, ((t, _, method, ok, reason), o) in enumerate(pay_list)]

        events = sorted((e for e in self.events if e[0] <= cutoff), key=lambda e: (e[0], e[1]))
        width = max(7, len(str(len(events))))
        skips: dict[int, int] = {}
        last_event_t: dict[int, int] = {}
        ev_rows = []
        for i, (t, _, s, kind, before, after, reason, op) in enumerate(events):
            ev_rows.append((f"H{i + 1:0{width}d}", s.id, dt(t), kind, before, after, reason, op))
            last_event_t[s.seq] = t
            if kind == "スキップ":
                skips[s.seq] = skips.get(s.seq, 0) + 1
        out["subscription_events"] = ev_rows

        rows = []
        for s in subs:
            state = s.log[0]
            for entry in s.log:
                if entry[0] > cutoff:
                    break
                state = entry
            t_state, status, next_day, cycle, qty = state
            if status == ACTIVE:
                assert next_day is not None and next_day > as_of_day, (s.id, next_day)
            cancelled = s.cancel_t is not None and s.cancel_t <= cutoff
            assert cancelled == (status == CANCELLED)
            updated = max(s.start_t, t_state, last_event_t.get(s.seq, 0),
                          last_order_t.get(s.seq, 0))
            rows.append((
                s.id, s.cust.id, s.product.product_id, str(qty), str(cycle), status,
                dt(s.start_t), dt(s.cancel_t) if cancelled and s.cancel_t else "",
                s.cancel_reason if cancelled else "",
                self.day_str(next_day) if status == ACTIVE and next_day is not None else "",
                str(delivered.get(s.seq, 0)), str(skips.get(s.seq, 0)), dt(updated)))
        out["subscriptions"] = rows

        inquiries = sorted((q for q in self.inquiries if q[0] <= cutoff),
                           key=lambda q: (q[0], q[1]))
        width = max(6, len(str(len(inquiries))))
        out["inquiries"] = [
            (f"Q{i + 1:0{width}d}", c.id if c is not None else "", dt(t), channel, category,
             agent, outcome)
            for i, (t, _, c, channel, category, agent, outcome) in enumerate(inquiries)]

        web = sorted((w for w in self.web if w[0] <= cutoff), key=lambda w: (w[0], w[1]))
        width = max(8, len(str(len(web))))
        out["web_events"] = [
            (f"W{i + 1:0{width}d}", c.id if c is not None else "", dt(t), url, ref)
            for i, (t, _, c, url, ref) in enumerate(web)]
        return out


    def point_rows(self, orders: list[_Order]) -> list[tuple[Any, ...]]:
        """The points history as of ``as_of``: a 付与 when a revenue order ships (its 商品合計 x
        points_grant_rate, valid points_validity_days), a 利用 on a later order (every valid point,
        up to its 商品合計, oldest grants first), and a 失効 of what is left of a grant the day after
        its 有効期限. Only orders not cancelled at as_of grant or use points (a cancelled order's
        points are taken back with it); amounts are signed (付与 +, 利用 and 失効 -).

        Points use does not change the order's 値引額: the cart books it as a means of payment.
        Each customer has an own random stream, so the points leave the rest of the world as is."""
        p = self.p
        cutoff, as_of_day = self.cutoff, self.as_of_day
        by_cust: dict[int, list[_Order]] = {}
        for o in orders:
            if o.cancel_t is None or o.cancel_t > cutoff:
                by_cust.setdefault(o.cust.index, []).append(o)
        events: list[tuple[int, int, str, str, int, str, str]] = []
        seq = 0  # creation order, the tie-break of equal times

        def next_seq() -> int:
            nonlocal seq
            seq += 1
            return seq

        for index in sorted(by_cust):
            cust_orders = by_cust[index]
            cust = cust_orders[0].cust
            rng = random.Random(f"{self.seed}:{index}:points")
            # (time, kind, order): uses at order time, grants at shipping (15:00)
            timeline: list[tuple[int, int, _Order]] = []
            for o in cust_orders:
                timeline.append((o.t, 0, o))
                if o.ship_day is not None and o.ship_day <= as_of_day:
                    timeline.append((o.ship_day * DAY + 15 * HOUR, 1, o))
            timeline.sort(key=lambda e: (e[0], e[1], e[2].seq))
            grants: list[list[Any]] = []  # [expiry day, remaining, order id], oldest first

            def expire(until: int) -> None:
                for g in grants:
                    if g[1] > 0 and (g[0] + 1) * DAY <= until:
                        events.append(((g[0] + 1) * DAY, next_seq(), cust.id, POINTS_EXPIRE,
                                       -g[1], self.day_str(g[0]), g[2]))
                        g[1] = 0

            for t, kind, o in timeline:
                expire(t)
                if kind == 1:
                    amount = int(o.subtotal * p.points_grant_rate)
                    if amount > 0:
                        expiry = o.ship_day + p.points_validity_days
                        grants.append([expiry, amount, o.id])
                        events.append((t, next_seq(), cust.id, POINTS_GRANT, amount,
                                       self.day_str(expiry), o.id))
                    continue
                balance = sum(g[1] for g in grants)
                if balance < p.points_min_use or rng.random() >= p.points_use_rate:
                    continue
                use = min(balance, o.subtotal)
                if use <= 0:
                    continue
                events.append((min(t + rng.randrange(1, 30), cutoff), next_seq(), cust.id, POINTS_USE,
                               -use, "", o.id))
                for g in grants:  # grants are in expiry order: oldest first
                    take = min(g[1], use)
                    g[1] -= take
                    use -= take
            expire(cutoff)
        events.sort(key=lambda e: (e[0], e[1]))
        width = max(7, len(str(len(events))))
        return [(f"PT{i + 1:0{width}d}", cust_id, self.dt_str(t), kind, str(points), expires, order)
                for i, (t, _, cust_id, kind, points, expires, order) in enumerate(events)]


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _write_csv(path: Path, header: list[str], rows: list[tuple[Any, ...]]) -> None:
    """cp932 + CRLF, written to a hidden temp file and renamed into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="cp932", newline="") as f:
            writer = csv.writer(f, lineterminator="\r\n")
            writer.writerow(header)
            writer.writerows(rows)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def today_jst() -> date:
    return datetime.now(JST).date()


def generate(
    out_dir: Path,
    customers: int = 10_000,
    seed: int = 42,
    as_of: date | None = None,
    params: BehaviourParams = DEFAULT_PARAMS,
    history_start: date | None = None,
) -> GenerationSummary:
    """Generate the demo merchant's ten cart exports into ``out_dir``.

    History is ``params.history_days`` days ending at ``as_of`` (default: today in Asia/Tokyo),
    or, given the world's first day ``history_start``, that world as the cart shows it on
    ``as_of`` (the same world a day later: the same history plus that day; up to
    ``MAX_CONTINUED_DAYS`` past its first ``history_days``). Same arguments give byte-identical
    files.
    """
    started = time.perf_counter()
    if customers < 1:
        raise ValueError("customers must be at least 1")
    as_of = as_of or today_jst()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    headers = load_profile_headers()

    world = _World(customers, seed, as_of, params, history_start)
    world.run()
    tables = world.tables()

    row_counts: dict[str, int] = {}
    files = []
    for stream, columns in STREAM_COLUMNS.items():
        profile_columns = headers.get(stream)
        if profile_columns is None:
            raise KeyError(f"profile has no stream {stream!r}")
        if set(profile_columns) != set(columns):
            raise ValueError(
                f"{stream}: generator columns {sorted(columns)} != profile columns "
                f"{sorted(profile_columns)}")
        order = [columns.index(c) for c in profile_columns]
        rows = [tuple(row[i] for i in order) for row in tables[stream]]
        path = out_dir / FILE_NAMES[stream]
        _write_csv(path, list(profile_columns.values()), rows)
        row_counts[FILE_NAMES[stream]] = len(rows)
        files.append(path)

    status: dict[str, int] = {ACTIVE: 0, PAUSED: 0, CANCELLED: 0}
    status_idx = STREAM_COLUMNS["subscriptions"].index("status")
    for row in tables["subscriptions"]:
        status[row[status_idx]] += 1
    return GenerationSummary(
        out_dir=out_dir, seed=seed, customers=customers, as_of=as_of,
        history_start=world.history_start, row_counts=row_counts, subscription_status=status,
        elapsed_seconds=time.perf_counter() - started, files=tuple(files))
