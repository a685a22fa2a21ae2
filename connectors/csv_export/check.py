"""What a merchant's export files will give, told before anything is loaded.

`check_export(export_dir, profile)` reads every file as a load would (nothing is written) and
reports, per stream: files, rows, columns mapped and missing, values Teiki's label list does not
know (they would become `unknown` in the marts), and which marts and actions will be empty or
degraded because the export lacks a fact. `Report.text("ja" | "en" | "both")` prints it.

What each missing fact costs is written once, in FACTS below.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .errors import CsvExportError
from .loader import stream_files
from .profile import Profile, load_profile
from .reader import read_export

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"


@dataclass(frozen=True)
class Fact:
    """A stream, or one column of it, and what Teiki cannot do without it."""

    stream: str
    column: str | None  # None: the whole stream
    ja: str
    en: str


FACTS: tuple[Fact, ...] = (
    Fact("subscriptions", None,
         "定期契約がないため、定期フロー・解約KPI・解約予兆スコア・架電リストは空になります",
         "no 定期契約: 定期フロー, churn KPIs, the churn-risk score and the call list are empty"),
    Fact("orders", None,
         "受注がないため、F2転換・RFM・CPM・LTV・コホートは空になります",
         "no orders: F2, RFM, CPM, LTV and cohorts are empty"),
    Fact("order_lines", None,
         "受注明細がないため、商品別の新規・リピートとクロスセルは空になります",
         "no order lines: product new/repeat flows and cross-sell are empty"),
    Fact("products", None,
         "商品マスタがないため、お届け周期は30日とみなされ、商品別の集計は商品IDのみになります",
         "no products: every cycle is taken as 30 days and product marts show ids only"),
    Fact("subscription_events", None,
         "定期の変更履歴がないため、休止・スキップの回数と解約予兆のその兆候は使えません",
         "no subscription events: pause and skip counts, and those risk signals, are missing"),
    Fact("payments", None,
         "決済履歴がないため、決済エラーによる解約（非自発的解約）を区別できません",
         "no payments: payment-failure (involuntary) churn cannot be told apart"),
    Fact("inquiries", None,
         "問い合わせがないため、解約相談のシグナルと担当者別の解約レビューは空になります",
         "no inquiries: cancellation-inquiry signals and the agent review are empty"),
    Fact("web_events", None,
         "Web閲覧履歴がないため、解約ページ閲覧のシグナルとオンサイトオファーは使えません",
         "no web visits: cancel-page signals and on-site offers are unavailable"),
    Fact("points", None,
         "ポイント履歴がないため、ポイント残高とポイント失効のお知らせは空になります",
         "no points history: points balances and the points-expiry reminder are empty"),
    Fact("customers", "address1",
         "住所1（市区町村・番地）がないため、郵送DMの宛先がそろわず、DM施策の対象者はいません",
         "no street address (住所1): postal DM has no complete address and reaches nobody"),
    Fact("customers", "phone_opt_in",
         "電話連絡の可否がないため、架電リストには誰も載りません（同意不明は同意なしと同じ扱い）",
         "no phone consent: nobody can be put on the call list (unknown consent is not consent)"),
    Fact("customers", "email_opt_in",
         "メール配信の可否がないため、メール施策の対象者はいません",
         "no e-mail consent: mail campaigns reach nobody"),
    Fact("customers", "line_opt_in",
         "LINE友だち登録の有無がないため、LINE施策の対象者はいません",
         "no LINE link: LINE campaigns reach nobody"),
    Fact("customers", "dm_opt_in",
         "DM送付の可否がないため、DM施策の対象者はいません",
         "no postal-DM consent: postal DM reaches nobody"),
    Fact("customers", "birthday",
         "生年月日がないため、誕生日施策は使えません",
         "no birthdays: birthday campaigns are unavailable"),
    Fact("customers", "acquisition_channel",
         "流入経路がないため、経路別のF2・LTVは「不明」にまとまります",
         "no acquisition channel: F2 and LTV by channel fall under 'unknown'"),
    Fact("products", "cycle_days",
         "お届け周期がないため、30日周期とみなします",
         "no delivery cycle: every product is taken as a 30-day cycle"),
    Fact("products", "unit_cost",
         "原価がないため、粗利ベースのLTVは計算できません",
         "no unit cost: gross-margin LTV cannot be computed"),
    Fact("subscriptions", "skip_count",
         "スキップ回数がないため、変更履歴から数えます（履歴もなければ0）",
         "no skip count: skips are counted from the events (0 without them)"),
    Fact("inquiries", "outcome",
         "対応結果がないため、担当者別の解約レビューは判定できません",
         "no inquiry outcome: the agent review cannot judge outcomes"),
)

_LABEL_CALL = re.compile(r"label_code\(\s*'([a-z_]+)'\s*,\s*'raw_([a-z_]+)\.([a-z_]+)'\s*\)")


@lru_cache(maxsize=1)
def label_columns() -> dict[tuple[str, str], str]:
    """(stream, raw column) -> label domain, read from the CSV staging models (their only home)."""
    found: dict[tuple[str, str], str] = {}
    for path in sorted((DBT_PROJECT / "models" / "staging" / "csv").glob("stg_csv__*.sql")):
        for domain, stream, column in _LABEL_CALL.findall(path.read_text(encoding="utf-8")):
            found[(stream, column)] = domain
    return found


@lru_cache(maxsize=1)
def known_labels() -> dict[str, frozenset[str]]:
    """Label domain -> the labels `dbt_project/seeds/label_codes.csv` maps to canonical codes."""
    labels: dict[str, set[str]] = {}
    with open(DBT_PROJECT / "seeds" / "label_codes.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            labels.setdefault(row["domain"], set()).add(row["label"])
    return {domain: frozenset(values) for domain, values in labels.items()}


@dataclass
class StreamReport:
    stream: str
    files: list[str] = field(default_factory=list)
    rows: int = 0
    mapped: list[str] = field(default_factory=list)  # raw columns with their header present
    missing: list[str] = field(default_factory=list)  # optional raw columns the files lack
    failures: list[str] = field(default_factory=list)  # one error text per failed file
    unknown_labels: dict[str, Counter] = field(default_factory=dict)  # column -> value -> rows


@dataclass
class Report:
    profile: str
    streams: list[StreamReport]
    degraded: list[Fact]

    @property
    def ok(self) -> bool:
        return not any(s.failures for s in self.streams)

    def text(self, lang: str = "both") -> str:
        ja, en = lang in ("ja", "both"), lang in ("en", "both")
        out: list[str] = []

        def say(j: str, e: str) -> None:
            if ja:
                out.append(j)
            if en:
                out.append(e.lstrip("\n") if ja else e)  # both: the pair stays together

        say(f"プロファイル {self.profile} でのチェック結果（何も読み込んでいません）",
            f"Check with profile {self.profile} (nothing was loaded)")
        for s in self.streams:
            if not s.files:
                say(f"\n[{s.stream}] ファイルなし", f"\n[{s.stream}] no file")
                continue
            status = "NG" if s.failures else "OK"
            say(f"\n[{s.stream}] {status} ファイル {len(s.files)} 件、{s.rows:,} 行、"
                f"列 {len(s.mapped)} / {len(s.mapped) + len(s.missing)}",
                f"\n[{s.stream}] {'FAIL' if s.failures else 'ok'} {len(s.files)} file(s), "
                f"{s.rows:,} rows, columns {len(s.mapped)} of {len(s.mapped) + len(s.missing)}")
            if s.missing:
                say(f"  ない列: {', '.join(s.missing)}", f"  missing columns: {', '.join(s.missing)}")
            for column, values in s.unknown_labels.items():
                shown = ", ".join(f"{v!r} ({n:,})" for v, n in values.most_common(10))
                say(f"  {column}: 未登録の値（'unknown' になります。プロファイルの map で対応付けてください）: {shown}",
                    f"  {column}: values Teiki does not know (they become 'unknown'; map them in "
                    f"the profile): {shown}")
            for failure in s.failures:
                out.append("  " + failure.replace("\n", "\n  "))
        if self.degraded:
            say("\n欠けている情報と影響:", "\nWhat is missing, and what it costs:")
            for fact in self.degraded:
                say(f"  - {fact.ja}", f"  - {fact.en}")
        else:
            say("\n欠けている情報はありません。", "\nNo fact is missing.")
        return "\n".join(out)


def check_export(export_dir: str | Path, profile: Profile | str | Path,
                 streams: list[str] | None = None) -> Report:
    """Read every file of `export_dir` as `profile` says, write nothing, and report."""
    profile = load_profile(profile)
    labels, known = label_columns(), known_labels()
    reports: list[StreamReport] = []
    files = stream_files(export_dir, profile, streams)
    for name, spec in profile.streams.items():
        if streams and name not in streams:
            continue
        report = StreamReport(name)
        reports.append(report)
        missing: set[str] = set()
        for path in files.get(name, []):
            report.files.append(path.name)
            try:
                parsed = read_export(path, profile, name)
            except CsvExportError as err:
                report.failures.append(str(err))
                continue
            report.rows += len(parsed.rows)
            missing |= {c.name for c in spec.columns
                        if c.headers and any(h in parsed.missing_optional for h in c.headers)}
            for i, column in enumerate(parsed.columns):
                domain = labels.get((name, column))
                if domain is None:
                    continue
                values = Counter(str(row[i]).strip() for row in parsed.rows if row[i] is not None)
                unknown = Counter({v: n for v, n in values.items() if v and v not in known.get(domain, ())})
                if unknown:
                    report.unknown_labels.setdefault(column, Counter()).update(unknown)
        in_profile = [c.name for c in spec.columns]
        report.missing = [c for c in in_profile if c in missing]
        report.mapped = [c for c in in_profile if c not in missing]
    profiled = {r.stream: r for r in reports}
    degraded = []
    for fact in FACTS:
        report = profiled.get(fact.stream)
        if streams and fact.stream not in streams:
            continue
        if fact.column is None:
            if report is None or not report.files:
                degraded.append(fact)
        elif report is not None and report.files and (
                fact.column in report.missing
                or fact.column not in {c.name for c in profile.streams[fact.stream].columns}):
            degraded.append(fact)
    return Report(profile.name, reports, degraded)
