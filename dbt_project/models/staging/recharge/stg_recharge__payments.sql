{{ config(enabled=('recharge' in teiki_sources())) }}

{#- Recharge charges as payment attempts (canonical shape of stg_csv__payments). A charge that
    was processed (success, refunded, partially_refunded) is a successful attempt; status
    error is a failed one (error_type -> failure_reason, error text -> failure_reason_label).
    Queued, skipped and pending charges are not attempts yet and are left out. amount is
    total_price in integer yen. Fields: Recharge 2021-11 charge object (see
    stg_recharge__subscription_charges for the references).

    order_id is the shop order the charge created (external_order_id.ecommerce); a failed charge
    created none, so it is NULL there. On a Shopify shop a charge whose customer is linked
    (customer.external_customer_id.ecommerce) takes the shop's keys, source = 'shopify' and the
    Shopify customer id, so the attempt joins the Shopify order it paid (marts.orders joins
    payments on (source, order_id)); otherwise Recharge's own. -#}

{%- set on_shop = 'shopify' in teiki_sources() %}

with

raw_charges as (

    select * from {{ source('raw_recharge', 'charges') }}
    where deleted_at is null
        and lower(_record->>'status') in ('success', 'refunded', 'partially_refunded', 'error')

),

renamed as (

    select
        {%- if on_shop %}
        case when nullif(_record->'customer'->'external_customer_id'->>'ecommerce', '') is not null
            then 'shopify' else _source end as source,
        coalesce(
            nullif(_record->'customer'->'external_customer_id'->>'ecommerce', ''),
            _record->'customer'->>'id'
        ) as customer_id,
        {%- else %}
        _source as source,
        _record->'customer'->>'id' as customer_id,
        {%- endif %}
        cast(id as varchar) as payment_id,
        nullif(_record->'external_order_id'->>'ecommerce', '') as order_id,
        'card' as payment_method,
        _record->>'payment_processor' as payment_method_label,
        coalesce({{ iso8601_utc("_record->>'processed_at'") }}, updated_at) as attempted_at,
        cast(round(try_cast(_record->>'total_price' as decimal(18, 2))) as bigint) as amount,
        case when lower(_record->>'status') = 'error' then 'failure' else 'success' end as result,
        _record->>'status' as result_label,
        case
            when lower(_record->>'status') <> 'error' then null
            when _record->>'error_type' in ('CARD_DECLINED', 'PAYMENT_METHOD_DECLINED') then 'card_declined'
            when _record->>'error_type' in ('EXPIRED_CARD', 'CARD_EXPIRED') then 'card_expired'
            else 'unknown'
        end as failure_reason,
        nullif(coalesce(_record->>'error', _record->>'error_type'), '') as failure_reason_label,
        _loaded_at as loaded_at

    from raw_charges

)

select * from renamed
