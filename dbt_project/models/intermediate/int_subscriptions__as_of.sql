{#- 定期契約 as they stood on as_of_date (JST): contracts started later are left out, status and
    counts are computed at that date. DECISIONLOG.md "Subscription status as of" and
    "Delivery count" explain the rules. The delivery count is Teiki's own (revenue orders) unless
    the CSV profile declares the export's 定期回数 authoritative (`authoritative: true`; Teiki passes
    the profile's declarations as TEIKI_AUTHORITATIVE_FIGURES). -#}
{%- set export_count_wins = 'subscriptions.delivery_count' in env_var('TEIKI_AUTHORITATIVE_FIGURES', '').split(',') %}

with

subscriptions as (

    select * from {{ ref('int_subscriptions__unioned') }}
    where started_date <= {{ as_of_date() }}

),

orders as (

    select * from {{ ref('int_orders__unioned') }}
    where subscription_id is not null
        and ordered_date <= {{ as_of_date() }}

),

subscription_events as (

    select * from {{ ref('int_subscription_events__unioned') }}
    where occurred_date <= {{ as_of_date() }}

),

products as (

    select * from {{ ref('int_products__unioned') }}

),

identity as (

    select * from {{ ref('int_customers__identity') }}

),

deliveries as (

    select
        source,
        subscription_id,
        count(*) filter (where is_revenue) as delivery_count,
        min(ordered_date) filter (where is_revenue) as first_delivery_ordered_date,
        max(ordered_date) filter (where is_revenue) as last_delivery_ordered_date

    from orders
    group by source, subscription_id

),

event_counts as (

    select
        source,
        subscription_id,
        count(*) filter (where event_type = 'skip') as skip_count,
        count(*) filter (where event_type = 'postpone') as postpone_count,
        count(*) filter (where event_type = 'cycle_change') as cycle_change_count,
        count(*) filter (where event_type = 'quantity_change') as quantity_change_count,
        count(*) filter (where event_type = 'pause') as pause_count,
        count(*) filter (where event_type = 'resume') as resume_count,
        arg_max(event_type, occurred_at) filter (where event_type in ('pause', 'resume'))
            as last_pause_or_resume

    from subscription_events
    group by source, subscription_id

),

with_status as (

    select
        subscriptions.*,
        case
            when subscriptions.cancelled_date <= {{ as_of_date() }} then 'cancelled'
            -- The export's status is the state at the record's last update; once that update is
            -- on or before as_of_date it is the state at as_of_date.
            when subscriptions.updated_date <= {{ as_of_date() }} then subscriptions.status
            -- Otherwise the record changed after as_of_date: replay pause/resume events.
            when event_counts.last_pause_or_resume = 'pause' then 'paused'
            else 'active'
        end as status_as_of,
        deliveries.delivery_count as counted_delivery_count,
        deliveries.first_delivery_ordered_date,
        deliveries.last_delivery_ordered_date,
        event_counts.skip_count as skip_event_count,
        event_counts.postpone_count,
        event_counts.cycle_change_count,
        event_counts.quantity_change_count,
        event_counts.pause_count,
        event_counts.resume_count

    from subscriptions
    left join deliveries
        on deliveries.source = subscriptions.source
        and deliveries.subscription_id = subscriptions.subscription_id
    left join event_counts
        on event_counts.source = subscriptions.source
        and event_counts.subscription_id = subscriptions.subscription_id

),

final as (

    select
        with_status.subscription_id,
        with_status.source,
        with_status.customer_id,
        coalesce(identity.customer_key, with_status.source || ':' || with_status.customer_id) as customer_key,
        with_status.product_id,
        products.product_name,
        cast(with_status.quantity as integer) as quantity,
        cast(with_status.cycle_days as integer) as cycle_days,
        with_status.status_as_of as status,
        with_status.status_as_of = 'active' as is_active,
        with_status.status as export_status,
        with_status.status_label as export_status_label,
        with_status.started_at,
        with_status.started_date,
        case when with_status.status_as_of = 'cancelled' then with_status.cancelled_at end as cancelled_at,
        case when with_status.status_as_of = 'cancelled' then with_status.cancelled_date end as cancelled_date,
        case when with_status.status_as_of = 'cancelled' then with_status.cancel_reason end as cancel_reason,
        case when with_status.status_as_of <> 'cancelled' then with_status.next_delivery_date end as next_delivery_date,
        {%- if export_count_wins %}
        cast(case
            when with_status.source = 'csv' and with_status.delivery_count is not null
                then with_status.delivery_count
            else coalesce(with_status.counted_delivery_count, 0)
        end as integer) as delivery_count,
        {%- else %}
        cast(coalesce(with_status.counted_delivery_count, 0) as integer) as delivery_count,
        {%- endif %}
        cast(coalesce(with_status.counted_delivery_count, 0) as integer) as derived_delivery_count,
        cast(with_status.delivery_count as integer) as export_delivery_count,
        with_status.first_delivery_ordered_date,
        with_status.last_delivery_ordered_date,
        cast(coalesce(with_status.skip_event_count, 0) as integer) as skip_count,
        cast(with_status.skip_count as integer) as export_skip_count,
        cast(coalesce(with_status.postpone_count, 0) as integer) as postpone_count,
        cast(coalesce(with_status.cycle_change_count, 0) as integer) as cycle_change_count,
        cast(coalesce(with_status.quantity_change_count, 0) as integer) as quantity_change_count,
        cast(coalesce(with_status.pause_count, 0) as integer) as pause_count,
        cast(coalesce(with_status.resume_count, 0) as integer) as resume_count,
        cast(date_diff(
            'day',
            with_status.started_date,
            case
                when with_status.status_as_of = 'cancelled'
                    then coalesce(with_status.cancelled_date, with_status.updated_date)
                else {{ as_of_date() }}
            end
        ) as integer) as days_active,
        {{ as_of_date() }} as as_of_date

    from with_status
    left join products
        on products.source = with_status.source
        and products.product_id = with_status.product_id
    left join identity
        on identity.source = with_status.source
        and identity.customer_id = with_status.customer_id

)

select * from final
