"""Every behaviour parameter of the demo merchant, and its product catalogue.

The generator (``demo_merchant.generate``) reads nothing else: to vary the world, replace fields
of ``DEFAULT_PARAMS``::

    from dataclasses import replace
    from demo_merchant.params import DEFAULT_PARAMS
    harsher = replace(DEFAULT_PARAMS, first_to_second_cancel_rate=0.6)

Probabilities are per subscription and per scheduled delivery unless a comment says otherwise.
"Stage n" is the interval between delivery n-1 and delivery n of one 定期契約; a cancellation
"before delivery n" happens in stage n. Mixes are tuples of ``(label, weight)`` pairs (weights need
not sum to 1); tuples, not dicts, so the dataclass stays frozen and hashable.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# --------------------------------------------------------------------------------------------
# Product catalogue
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    """One row of products.csv, plus what the simulation needs to know about the goods."""

    product_id: str
    name: str
    category: str
    price: int                        # 販売価格(税込): one-off price, or 定期 price from delivery 2 on
    unit_cost: int                    # 原価 per unit
    is_subscription: bool
    first_delivery_price: int | None = None  # 定期初回価格(税込); None for one-off products
    cycle_days: int | None = None     # default お届け周期 (days); None for one-off products
    usage_days: int = 30              # days one unit lasts at the intended (label) usage
    launch_day: int = -400            # created_at, in days from the start of the history
    updated_day: int = -30            # updated_at, in days from the start of the history
    skincare: bool = False            # may cause 肌トラブル / 肌に合わない
    entry_weight: float = 0.0         # weight when a new customer enters through this product
    related_subscription: str | None = None  # one-off product: the 定期 product it upsells to


CATALOGUE: tuple[Product, ...] = (
    # 定期商品: heavily discounted first delivery, then the regular price.
    Product("T-LOTION", "薬用美白ローション 120mL【定期便】", "スキンケア", 4980, 620, True,
            first_delivery_price=980, cycle_days=30, usage_days=30, launch_day=-420,
            updated_day=120, skincare=True, entry_weight=0.38),
    Product("T-GEL", "薬用美白オールインワンジェル 80g【定期便】", "スキンケア", 5480, 760, True,
            first_delivery_price=1480, cycle_days=45, usage_days=45, launch_day=300,
            updated_day=330, skincare=True, entry_weight=0.22),
    Product("T-ENZYME", "生酵素サプリ 120粒【定期便】", "サプリメント", 5980, 830, True,
            first_delivery_price=980, cycle_days=60, usage_days=60, launch_day=-200,
            updated_day=-200, entry_weight=0.2),
    Product("T-AOJIRU", "国産大麦若葉の青汁 30包【定期便】", "健康食品", 3480, 520, True,
            first_delivery_price=500, cycle_days=30, usage_days=30, launch_day=-700,
            updated_day=400, entry_weight=0.2),
    # 単品 (one-off) products: the same goods sold singly, trial sizes, accessories.
    Product("S-LOTION", "薬用美白ローション 120mL(単品)", "スキンケア", 6480, 620, False,
            usage_days=30, launch_day=-420, updated_day=120, skincare=True, entry_weight=0.14,
            related_subscription="T-LOTION"),
    Product("S-LOTION-TR", "薬用美白ローション トライアルセット 20mL", "スキンケア", 1100, 160,
            False, usage_days=7, launch_day=-380, updated_day=-380, skincare=True,
            entry_weight=0.34, related_subscription="T-LOTION"),
    Product("S-ENZYME-TR", "生酵素サプリ お試し7日分", "サプリメント", 500, 70, False,
            usage_days=7, launch_day=-200, updated_day=-200, entry_weight=0.22,
            related_subscription="T-ENZYME"),
    Product("S-AOJIRU-10", "国産大麦若葉の青汁 10包(単品)", "健康食品", 1480, 180, False,
            usage_days=10, launch_day=-700, updated_day=400, entry_weight=0.22,
            related_subscription="T-AOJIRU"),
    Product("S-SHAKER", "青汁専用シェイカー", "雑貨", 880, 190, False, usage_days=365,
            launch_day=-650, updated_day=-650, entry_weight=0.03,
            related_subscription="T-AOJIRU"),
    Product("S-COTTON", "大判コットン 80枚", "雑貨", 330, 60, False, usage_days=60,
            launch_day=-380, updated_day=200, entry_weight=0.05,
            related_subscription="T-LOTION"),
)

# --------------------------------------------------------------------------------------------
# Behaviour parameters
# --------------------------------------------------------------------------------------------

#: Call-center agents: (name, churn multiplier). The multiplier scales the voluntary-cancel
#: hazard of a subscription after the agent handled one of its customer's inquiries, and divides
#: the agent's chance of talking a caller out of cancelling (so >1 means "customers churn more").
DEFAULT_AGENTS: tuple[tuple[str, float], ...] = (
    ("佐藤 美咲", 0.80),
    ("鈴木 由美", 0.90),
    ("高橋 健太", 1.00),
    ("田中 彩", 0.85),
    ("伊藤 直子", 1.00),
    ("渡辺 翔", 1.70),
    ("山本 恵", 1.00),
    ("中村 優子", 1.40),
)


@dataclass(frozen=True)
class BehaviourParams:
    """All behaviour knobs of the demo merchant. Defaults give the documented world."""

    # ---- history and acquisition -----------------------------------------------------------
    #: Length of the history ending at as_of, in days (default 1095 = three years).
    history_days: int = 1095
    #: New-customer rate on the last day relative to the first day (linear ramp; default 2.2).
    acquisition_growth: float = 2.2
    #: Monthly multiplier of new-customer acquisition, January..December (美白 sells in spring,
    #: sales peak in November/December and the new year).
    acquisition_seasonality: tuple[float, ...] = (
        1.15, 0.95, 1.10, 1.20, 1.15, 1.00, 0.95, 0.90, 0.95, 1.00, 1.10, 1.20)
    #: Share of new customers whose first purchase is a 定期 product's discounted first delivery;
    #: the rest start with a one-off purchase (default 0.70).
    subscription_entry_share: float = 0.70
    #: Relative weight of each hour of the day (0..23) for purchases (evening peak).
    purchase_hour_weights: tuple[float, ...] = (
        2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 8, 7, 6, 5, 5, 5, 6, 7, 9, 10, 9, 5)
    #: Acquisition channels: (channel, share, churn multiplier). The multiplier scales every
    #: voluntary-cancel hazard of the customer's subscriptions (affiliate buyers churn fastest).
    channel_mix: tuple[tuple[str, float, float], ...] = (
        ("検索広告", 0.24, 1.00),
        ("SNS広告", 0.24, 1.15),
        ("アフィリエイト", 0.18, 1.40),
        ("自然検索", 0.14, 0.85),
        ("紹介", 0.08, 0.65),
        ("同梱チラシ", 0.12, 0.90),
    )

    # ---- customer attributes ---------------------------------------------------------------
    #: Gender mix of a skincare/health D2C brand (default 女性 84% / 男性 13% / 未回答 3%).
    gender_mix: tuple[tuple[str, float], ...] = (("女性", 0.84), ("男性", 0.13), ("未回答", 0.03))
    #: Age at first purchase: (min_age, max_age, weight); mostly 30-69.
    age_mix: tuple[tuple[int, int, float], ...] = (
        (20, 29, 0.07), (30, 39, 0.19), (40, 49, 0.29), (50, 59, 0.26), (60, 69, 0.15),
        (70, 79, 0.04))
    #: Share of customers who left the birthday empty.
    birthday_missing_rate: float = 0.03
    email_opt_in_rate: float = 0.62      #: メルマガ配信 希望する
    line_opt_in_rate: float = 0.34       #: LINE友だち 登録 (these get a LINE user id)
    dm_opt_in_rate: float = 0.42         #: DM送付 希望する
    phone_opt_in_rate: float = 0.58      #: 電話連絡 可
    #: LINE opt-in multiplier for customers under 50 / 50 and over; DM opt-in multiplier for
    #: customers 50 and over / under 50 (younger people use LINE, older ones read paper DM).
    line_age_multipliers: tuple[float, float] = (1.3, 0.7)
    dm_age_multipliers: tuple[float, float] = (1.3, 0.8)
    #: Share of customers whose 住所2 (building and room) is filled: flats and condominiums.
    address2_share: float = 0.45
    #: Share of customers whose record was edited after registration (address, opt-ins).
    profile_update_rate: float = 0.30
    #: Payment method chosen at the first purchase and kept for the customer's 定期.
    payment_method_mix: tuple[tuple[str, float], ...] = (
        ("クレジットカード", 0.62), ("後払い", 0.25), ("コンビニ払い", 0.08), ("代金引換", 0.05))

    # ---- subscription set-up ---------------------------------------------------------------
    #: Share of subscriptions on the product's default cycle; the rest pick another option.
    default_cycle_share: float = 0.72
    #: Cycles (days) a customer can choose, and that 周期変更 moves along.
    cycle_options: tuple[int, ...] = (30, 45, 60, 90)
    #: Cycles offered at sign-up (90 is only reachable through 周期変更).
    signup_cycle_options: tuple[int, ...] = (30, 45, 60)
    #: Share of subscriptions ordering 2 units per delivery (others order 1).
    quantity_two_share: float = 0.08

    # ---- delivery schedule -----------------------------------------------------------------
    #: The 次回お届け予定 notice mail goes out this many days before each delivery date (default 7).
    notice_days_before_delivery: int = 7
    #: The 定期 order is created (受注) this many days before the delivery date; changes and
    #: cancellations must happen before that (default 3).
    order_lead_days: int = 3
    #: Shipping happens this many days before the delivery date (default 2).
    ship_days_before_delivery: int = 2
    #: The first delivery arrives this many days after the sign-up order (default 3), so every
    #: later order date is the previous order date plus the cycle.
    first_arrival_days: int = 3

    # ---- voluntary churn hazard by stage ---------------------------------------------------
    #: Chance to cancel before the 2nd delivery (trial-price takers; default 0.43).
    first_to_second_cancel_rate: float = 0.43
    #: Minimum-commitment deliveries (3回縛り, default 3): stages 3..this are damped.
    min_commitment_deliveries: int = 3
    #: Hazard in the damped commitment stages (default 0.05).
    commitment_period_hazard: float = 0.05
    #: Hazard in the stage right after the commitment (before delivery 4 by default) for
    #: customers who did not already ask to cancel (default 0.18).
    post_commitment_cancel_rate: float = 0.18
    #: Chance per commitment stage that a customer asks to cancel, is told about the 縛り
    #: (解約相談, outcome 継続案内) and stays until it ends (default 0.12) ...
    commitment_blocked_rate: float = 0.12
    #: ... and then cancels in the first stage after the commitment with this chance (0.80):
    #: together with the hazard above, the cancellation wave before delivery 4.
    blocked_cancel_rate: float = 0.80
    #: Blocked customers: chance they first tried the cancel page, and share who then phone
    #: (the rest write an e-mail).
    blocked_web_rate: float = 0.60
    blocked_phone_share: float = 0.75
    #: Hazard of the first later stage, decaying geometrically to a floor.
    late_hazard_start: float = 0.11
    late_hazard_decay: float = 0.86
    late_hazard_floor: float = 0.03
    #: Share of stage-2 cancellations decided right when the notice mail arrives; the rest
    #: cancel soon after receiving the first delivery (default 0.45).
    notice_trigger_share_first: float = 0.45
    #: Share of later voluntary cancellations triggered by the notice mail (default 0.80); the
    #: rest fall anywhere in the cycle.
    notice_trigger_share: float = 0.80
    #: Monthly multiplier of the voluntary-cancel hazard, January..December (年末年始の出費).
    cancel_seasonality: tuple[float, ...] = (
        1.15, 1.00, 1.00, 0.95, 0.95, 1.00, 1.05, 1.00, 0.95, 0.95, 1.00, 1.10)
    #: Hazard multiplier of subscriptions started by cross-sell to an existing subscriber.
    cross_sell_churn_multiplier: float = 0.60
    #: Hazard multiplier of subscriptions converted from a one-off buyer (引き上げ).
    converted_churn_multiplier: float = 0.80
    #: Reasons of voluntary cancellations in stage 2 (余り is handled by the leftover model).
    first_cancel_reasons: tuple[tuple[str, float], ...] = (
        ("価格が高い", 0.30), ("効果を実感できない", 0.20), ("肌に合わない", 0.14),
        ("その他", 0.16), ("経済的理由", 0.10), ("他社商品に切り替え", 0.06),
        ("商品が余っている", 0.04))
    #: Reasons of later voluntary cancellations.
    later_cancel_reasons: tuple[tuple[str, float], ...] = (
        ("効果を実感できない", 0.30), ("価格が高い", 0.20), ("経済的理由", 0.14),
        ("他社商品に切り替え", 0.12), ("肌に合わない", 0.06), ("その他", 0.14),
        ("商品が余っている", 0.04))

    # ---- leftover product (余り) ------------------------------------------------------------
    #: Share of subscribers who use the product slower than it is delivered.
    slow_user_share: float = 0.42
    #: Their usage speed relative to the label usage (uniform in this range).
    slow_usage_range: tuple[float, float] = (0.50, 0.85)
    #: Normal users' usage speed range.
    normal_usage_range: tuple[float, float] = (0.95, 1.10)
    #: Stock (in days of use) still at hand on the delivery date that makes a customer notice
    #: 余り at the notice mail (default 16).
    leftover_threshold_days: float = 16.0
    #: When noticing 余り: chance to cancel on the first occasion (default 0.10) ...
    leftover_first_cancel_rate: float = 0.10
    #: ... and on later occasions, after having already adjusted (default 0.40).
    leftover_repeat_cancel_rate: float = 0.40
    #: Multiplier of the two rates above inside the commitment (縛り) stages.
    leftover_commitment_factor: float = 0.15
    #: Chance to adjust the 定期 (skip, postpone, lengthen the cycle, cut the quantity) when
    #: noticing 余り and not cancelling; otherwise the delivery goes ahead (default 0.75).
    leftover_adjust_rate: float = 0.75
    #: How the adjusting customers adjust.
    leftover_action_mix: tuple[tuple[str, float], ...] = (
        ("スキップ", 0.45), ("お届け日変更", 0.25), ("周期変更", 0.20), ("数量変更", 0.10))
    #: お届け日変更 moves the delivery by this many days (uniform).
    postpone_days_range: tuple[int, int] = (10, 30)

    # ---- pause (休止) -----------------------------------------------------------------------
    #: Chance per stage (after delivery 2) to pause the 定期 (default 0.012).
    pause_rate: float = 0.012
    #: Pause length in days (uniform).
    pause_days_range: tuple[int, int] = (30, 120)
    #: Chance to resume at the end of a pause; otherwise the 定期 is cancelled then.
    pause_resume_rate: float = 0.60
    #: Reasons given when pausing, and when a pause ends in a cancellation (uniform choice).
    pause_reasons: tuple[str, ...] = ("旅行・帰省", "体調不良", "商品が余っている", "その他")
    paused_cancel_reasons: tuple[str, ...] = ("商品が余っている", "その他", "経済的理由", "効果を実感できない")

    # ---- how customers cancel and the signals before it ------------------------------------
    #: Where voluntary cancellations are accepted (subscription_events.operator).
    cancel_operator_mix: tuple[tuple[str, float], ...] = (
        ("電話", 0.50), ("マイページ", 0.35), ("メール", 0.15))
    #: Where other changes (skip, postpone, ...) are made.
    change_operator_mix: tuple[tuple[str, float], ...] = (
        ("マイページ", 0.62), ("電話", 0.28), ("メール", 0.10))
    #: Chance a cancelling customer browses FAQ / contact / the cancel page in the days before.
    pre_cancel_web_rate: float = 0.78
    #: Mean days between that browsing and the cancellation (exponential, capped at 14).
    pre_cancel_web_mean_days: float = 5.0
    #: Share of that browsing that ends on the cancel page (the rest ends on /contact).
    pre_cancel_cancel_page_share: float = 0.75
    #: Chance that a cancelling customer already looked at the cancel page while wavering,
    #: 5-14 days before cancelling (on top of the browsing above).
    wavering_visit_rate: float = 0.25
    #: Chance of an earlier 解約相談 inquiry (mail/chat/phone) before the cancellation itself.
    pre_cancel_inquiry_rate: float = 0.35
    #: Chance that a 肌に合わない cancellation was preceded by a 肌トラブル inquiry.
    skin_trouble_inquiry_rate: float = 0.60
    #: Chance that a 効果を実感できない / 価格が高い / 他社 cancellation was preceded by 商品不満.
    dissatisfaction_inquiry_rate: float = 0.22
    #: Chance that an agent talks a phone canceller out of it (divided by the agent's churn
    #: multiplier); a saved customer gets ``retention_discount`` off the next delivery.
    save_rate: float = 0.16
    retention_discount: int = 1000
    #: Call-center roster (see DEFAULT_AGENTS).
    agents: tuple[tuple[str, float], ...] = DEFAULT_AGENTS

    # ---- payments ----------------------------------------------------------------------------
    #: Share of customers in a fragile financial situation (payment problems more often).
    fragile_customer_share: float = 0.07
    #: Chance per order that a payment problem starts (card declined / expired / 後払い NG):
    #: ordinary customers, fragile customers.
    payment_problem_rate: float = 0.010
    payment_problem_rate_fragile: float = 0.09
    #: Share of card problems that are an expired card (the rest: 与信NG, e.g. over the limit).
    card_expired_share: float = 0.45
    #: Chance that a customer fixes the problem (new card, other method) after each failure mail.
    payment_fix_rate: float = 0.30
    #: Card retries after a failed authorisation, in days after the order.
    card_retry_days: tuple[int, ...] = (1, 3)
    #: One-off glitches: chance an authorisation fails although the card is fine.
    card_glitch_rate: float = 0.006
    #: Chance a コンビニ払い order is never paid (未入金), and a 代金引換 parcel is refused.
    konbini_unpaid_rate: float = 0.05
    cod_refusal_rate: float = 0.01
    #: Multiplier of the two rates above for fragile customers.
    fragile_unpaid_multiplier: float = 3.0
    #: Consecutive 定期 orders whose payment never succeeds before the cart cancels the 定期
    #: with reason 決済エラー (default 2).
    failed_orders_to_cancel: int = 2
    #: Chance of a 支払い inquiry after an order's payment finally fails.
    payment_inquiry_rate: float = 0.30

    # ---- one-off purchases, conversion, cross-sell -----------------------------------------
    #: Chance that a one-off entry customer later starts the related 定期 (引き上げ): after a
    #: trial size (usage of a week or less), and after a full-size or accessory purchase.
    oneoff_to_subscription_rate: float = 0.29
    fullsize_to_subscription_rate: float = 0.19
    #: Share of one-off orders of two units.
    oneoff_quantity_two_share: float = 0.12
    #: Days from the one-off purchase to the 引き上げ (uniform).
    conversion_days_range: tuple[int, int] = (5, 60)
    #: Chance of each further one-off purchase of a one-off customer (geometric).
    oneoff_repeat_rate: float = 0.30
    #: Chance per delivered 定期 order (deliveries 2 to cross_sell_last_delivery) to start
    #: another 定期 (cross-sell), up to max_subscriptions_per_customer in all.
    cross_sell_rate: float = 0.022
    cross_sell_last_delivery: int = 8
    max_subscriptions_per_customer: int = 3
    #: Chance per 定期 order (delivery 2+) of an extra one-off item in the same parcel.
    addon_rate: float = 0.04
    #: One-off orders below this subtotal pay ``shipping_fee`` (定期 ships free).
    free_shipping_threshold: int = 5000
    shipping_fee: int = 550
    #: 紹介 / 同梱チラシ customers use a coupon of this amount on their first one-off order.
    first_order_coupon: int = 500

    # ---- points (ポイント) ---------------------------------------------------------------------
    #: Points granted when a revenue order ships, as a share of its 商品合計 (floored; 1 point =
    #: 1 yen; default 1%).
    points_grant_rate: float = 0.01
    #: Days a grant stays valid: its 有効期限 is the ship date plus this many days (default 365);
    #: what is left of it the next day is recorded as 失効.
    points_validity_days: int = 365
    #: At each later order, chance that a customer holding at least ``points_min_use`` valid
    #: points spends them (all of them, up to the order's 商品合計; oldest grants first).
    points_use_rate: float = 0.30
    points_min_use: int = 100

    # ---- background inquiries and web visits ------------------------------------------------
    #: Per delivered 定期 order, chance of an inquiry of each category (not churn-related).
    inquiry_rates: tuple[tuple[str, float], ...] = (
        ("配送", 0.016), ("商品について", 0.020), ("定期の変更", 0.006), ("その他", 0.006),
        ("肌トラブル", 0.005), ("商品不満", 0.005), ("支払い", 0.003))
    #: Share of inquiries from callers who could not be identified (empty customer_id).
    anonymous_inquiry_share: float = 0.05
    #: Share of those everyday inquiries resolved at once (the rest: 折り返し).
    inquiry_resolved_share: float = 0.80
    #: Inquiry channel mix (解約 calls are 電話 by definition).
    inquiry_channel_mix: tuple[tuple[str, float], ...] = (
        ("電話", 0.58), ("メール", 0.27), ("チャット", 0.15))
    #: Per 定期 cycle: chance of checking the マイページ after the notice mail, browsing
    #: products, reading the FAQ, and looking at the cancel page without cancelling.
    mypage_visit_rate: float = 0.30
    product_browse_rate: float = 0.07
    faq_visit_rate: float = 0.05
    cancel_page_noise_rate: float = 0.012
    #: Anonymous page views per day per 1,000 customers (scaled by the acquisition ramp).
    anonymous_views_per_day_per_1000: float = 3.0


DEFAULT_PARAMS = BehaviourParams()

#: Named worlds for evaluating models on more than the one world they were developed on
#: (so a model is not tuned to one world). ``alternate`` is a plausible other 定期通販 shop, not a
#: harder or easier one by design; each change moves something a churn model leans on:
#:
#: - a 2回縛り instead of 3 (commitments have shortened since the 2022 特定商取引法 amendment): the
#:   cancellation wave moves from before delivery 4 to before delivery 3, and nobody is told to
#:   wait for the end of a 縛り (no blocked 解約相談 first);
#: - a gentler trial drop (0.36) and a flatter, higher long-run hazard (starts 0.09, decays 0.92
#:   per stage, floor 0.04), fewer cancellations timed on the notice mail (0.60);
#: - weaker and noisier warning signs: customers who phone rather than browse (fewer cancel-page
#:   visits and 解約相談 before cancelling, more cancel-page views without cancelling);
#: - less 余り (fewer slow users, a higher threshold), so fewer skips and postpones;
#: - more deferred and convenience-store payment and more fragile customers, so more 決済エラー;
#: - fewer subscribers on the default cycle.
WORLDS: dict[str, BehaviourParams] = {
    "default": DEFAULT_PARAMS,
    "alternate": replace(
        DEFAULT_PARAMS,
        min_commitment_deliveries=2,
        first_to_second_cancel_rate=0.36,
        post_commitment_cancel_rate=0.22,
        late_hazard_start=0.09,
        late_hazard_decay=0.92,
        late_hazard_floor=0.04,
        notice_trigger_share=0.60,
        pre_cancel_web_rate=0.55,
        wavering_visit_rate=0.12,
        pre_cancel_inquiry_rate=0.20,
        cancel_page_noise_rate=0.03,
        slow_user_share=0.30,
        leftover_threshold_days=20.0,
        payment_method_mix=(
            ("クレジットカード", 0.45), ("後払い", 0.35), ("コンビニ払い", 0.12), ("代金引換", 0.08)),
        fragile_customer_share=0.12,
        payment_problem_rate=0.015,
        default_cycle_share=0.60,
    ),
}
