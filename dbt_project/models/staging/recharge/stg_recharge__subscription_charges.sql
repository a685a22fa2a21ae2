{{ config(enabled=('recharge' in teiki_sources())) }}

{#- One row per processed Recharge charge of a subscription: the delivery it paid for, its
    定期回数 and the shop order it created. Not a canonical entity: stg_recharge__subscriptions
    counts deliveries from it, and stg_shopify__orders takes subscription_id and delivery_number
    from it for the Shopify order a charge created.

    Recharge API 2021-11 fields used (list charges,
    https://developer.rechargepayments.com/2021-11/charges/charge_list; field meanings from
    Recharge's own type reference https://storefront.getrecharge.com/client/docs/types/interfaces/Charge
    and its ChargeStatus alias; line item fields as listed for the 2021-11 charges in the Stitch
    tap-recharge schema, github.com/stitchdata/docs _integration-schemas/recharge/v2/charges.md):
    - status: success | error | queued | skipped | refunded | partially_refunded |
      pending_manual_payment | pending. An order exists only for a processed charge ("orders are
      created after a charge is successfully processed"), so only success, partially_refunded and
      refunded are kept; error charges are payment failures (stg_recharge__payments).
    - external_order_id.ecommerce: "the associated external order ID", the Shopify order id.
    - line_items[].purchase_item_id with purchase_item_type subscription: the subscription the
      line bills (onetime lines are add-ons and are ignored).
    - processed_at: when the charge was paid; orders the deliveries.

    Rules (DECISIONLOG.md "Recharge on Shopify"):
    - A charge can bill several subscriptions (line_items is a list) yet creates one Shopify
      order, and a canonical order has one subscription: it is attributed to the lowest
      subscription id; the warn test on this model lists such charges.
    - delivery_number = 1 + the subscription's earlier delivered charges (success,
      partially_refunded). A refunded charge keeps the number of the delivery it would have been
      and the next delivery reuses it, as the carts number a cancelled 定期 order. -#}

with

raw_charges as (

    select * from {{ source('raw_recharge', 'charges') }}
    where deleted_at is null
        and lower(_record->>'status') in ('success', 'partially_refunded', 'refunded')

),

charge_lines as (

    select
        raw_charges.id as charge_id,
        try_cast(item->>'purchase_item_id' as bigint) as purchase_item_id

    from raw_charges,
        unnest(json_extract(raw_charges._record, '$.line_items[*]')) as li(item)
    where coalesce(item->>'purchase_item_type', 'subscription') = 'subscription'

),

charge_subscriptions as (

    select
        charge_id,
        min(purchase_item_id) as subscription_id,
        count(distinct purchase_item_id) as subscriptions_billed

    from charge_lines
    where purchase_item_id is not null
    group by charge_id

),

charges as (

    select
        raw_charges._source as source,
        cast(raw_charges.id as varchar) as charge_id,
        cast(charge_subscriptions.subscription_id as varchar) as subscription_id,
        charge_subscriptions.subscriptions_billed,
        nullif(raw_charges._record->'external_order_id'->>'ecommerce', '') as order_id,
        lower(raw_charges._record->>'status') as status,
        lower(raw_charges._record->>'status') in ('success', 'partially_refunded') as is_delivered,
        coalesce({{ iso8601_utc("raw_charges._record->>'processed_at'") }}, raw_charges.updated_at)
            as processed_at,
        raw_charges.id as charge_number

    from raw_charges
    inner join charge_subscriptions
        on charge_subscriptions.charge_id = raw_charges.id

),

numbered as (

    select
        *,
        cast(1 + coalesce(sum(case when is_delivered then 1 else 0 end) over (
            partition by subscription_id
            order by processed_at, charge_number
            rows between unbounded preceding and 1 preceding
        ), 0) as integer) as delivery_number

    from charges

),

final as (

    select
        source,
        charge_id,
        subscription_id,
        subscriptions_billed,
        order_id,
        status,
        is_delivered,
        processed_at,
        delivery_number

    from numbered

)

select * from final
