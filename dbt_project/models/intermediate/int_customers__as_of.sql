{#- One row per resolved person (customer_key) registered on or before as_of_date. Contact details
    come from the member record updated most recently (the customer's latest word); consent is
    the strictest across member records that state it (any opt-out wins) and NULL when none does
    (an export without the consent column: unknown, not refused; the is_*_reachable flags count
    it as no); acquisition comes from the earliest record. -#}

with

customer_records as (

    select * from {{ ref('int_customers__unioned') }}
    where registered_date <= {{ as_of_date() }}

),

identity as (

    select * from {{ ref('int_customers__identity') }}

),

orders as (

    select * from {{ ref('int_orders__as_of') }}

),

order_lines as (

    select * from {{ ref('int_order_lines__unioned') }}

),

products as (

    select * from {{ ref('int_products__unioned') }}

),

subscriptions as (

    select * from {{ ref('int_subscriptions__as_of') }}

),

members as (

    select
        customer_records.*,
        identity.customer_key,
        identity.email_normalized,
        identity.phone_normalized,
        row_number() over (
            partition by identity.customer_key
            order by customer_records.updated_at desc, customer_records.source, customer_records.customer_id
        ) as recency_rank,
        row_number() over (
            partition by identity.customer_key
            order by customer_records.created_at, customer_records.source, customer_records.customer_id
        ) as age_rank

    from customer_records
    inner join identity
        on identity.source = customer_records.source
        and identity.customer_id = customer_records.customer_id

),

consent as (

    select
        customer_key,
        count(*) as source_record_count,
        bool_and(email_opt_in) as email_opt_in,
        bool_and(line_opt_in) as line_opt_in,
        bool_and(dm_opt_in) as dm_opt_in,
        bool_and(phone_opt_in) as phone_opt_in

    from members
    group by customer_key

),

latest_record as (

    select * from members where recency_rank = 1

),

earliest_record as (

    select * from members where age_rank = 1

),

order_facts as (

    select
        customer_key,
        min(ordered_date) filter (where is_revenue) as first_order_date,
        max(ordered_date) filter (where is_revenue) as last_order_date,
        count(*) filter (where is_revenue) as order_count,
        count(*) filter (where status = 'cancelled') as cancelled_order_count,
        sum(revenue) as lifetime_revenue

    from orders
    group by customer_key

),

first_products as (

    select
        orders.customer_key,
        arg_min(order_lines.product_id, order_lines.line_number) as first_product_id,
        arg_min(order_lines.source, order_lines.line_number) as first_product_source

    from orders
    inner join order_lines
        on order_lines.source = orders.source
        and order_lines.order_id = orders.order_id
    where orders.is_first_order
    group by orders.customer_key

),

subscription_facts as (

    select
        customer_key,
        count(*) as subscription_count,
        count(*) filter (where status = 'active') as active_subscription_count,
        count(*) filter (where status = 'paused') as paused_subscription_count

    from subscriptions
    group by customer_key

),

final as (

    select
        latest_record.customer_key,
        latest_record.source,
        latest_record.customer_id,
        cast(consent.source_record_count as integer) as source_record_count,
        latest_record.last_name,
        latest_record.first_name,
        concat_ws(' ', latest_record.last_name, latest_record.first_name) as full_name,
        latest_record.last_name_kana,
        latest_record.first_name_kana,
        nullif(concat_ws(' ', latest_record.last_name_kana, latest_record.first_name_kana), '') as full_name_kana,
        latest_record.email,
        latest_record.phone,
        latest_record.postal_code,
        latest_record.prefecture,
        latest_record.address1,
        latest_record.address2,
        latest_record.birthday,
        cast({{ age_in_years('latest_record.birthday', as_of_date()) }} as integer) as age,
        latest_record.gender,
        latest_record.gender_label,
        latest_record.email_normalized is not null as has_email,
        consent.email_opt_in,
        coalesce(latest_record.email_normalized is not null and consent.email_opt_in, false) as is_email_reachable,
        latest_record.line_user_id,
        latest_record.line_user_id is not null as has_line,
        consent.line_opt_in,
        coalesce(latest_record.line_user_id is not null and consent.line_opt_in, false) as is_line_reachable,
        {{ has_postal_address('latest_record') }} as has_postal_address,
        consent.dm_opt_in,
        coalesce({{ has_postal_address('latest_record') }} and consent.dm_opt_in, false) as is_dm_reachable,
        latest_record.phone_normalized is not null as has_phone,
        consent.phone_opt_in,
        coalesce(latest_record.phone_normalized is not null and consent.phone_opt_in, false) as is_phone_reachable,
        earliest_record.acquisition_channel,
        earliest_record.acquisition_channel_label,
        earliest_record.created_at,
        earliest_record.registered_date,
        order_facts.first_order_date,
        order_facts.last_order_date,
        cast(coalesce(order_facts.order_count, 0) as integer) as order_count,
        cast(coalesce(order_facts.cancelled_order_count, 0) as integer) as cancelled_order_count,
        cast(coalesce(order_facts.lifetime_revenue, 0) as bigint) as lifetime_revenue,
        first_products.first_product_id,
        products.product_name as first_product_name,
        cast(coalesce(subscription_facts.subscription_count, 0) as integer) as subscription_count,
        cast(coalesce(subscription_facts.active_subscription_count, 0) as integer) as active_subscription_count,
        cast(coalesce(subscription_facts.paused_subscription_count, 0) as integer) as paused_subscription_count,
        coalesce(subscription_facts.active_subscription_count, 0)
            + coalesce(subscription_facts.paused_subscription_count, 0) > 0 as is_subscriber,
        cast(date_diff('day', order_facts.last_order_date, {{ as_of_date() }}) as integer) as days_since_last_order,
        {{ as_of_date() }} as as_of_date

    from latest_record
    inner join consent
        on consent.customer_key = latest_record.customer_key
    inner join earliest_record
        on earliest_record.customer_key = latest_record.customer_key
    left join order_facts
        on order_facts.customer_key = latest_record.customer_key
    left join first_products
        on first_products.customer_key = latest_record.customer_key
    left join products
        on products.source = first_products.first_product_source
        and products.product_id = first_products.first_product_id
    left join subscription_facts
        on subscription_facts.customer_key = latest_record.customer_key

)

select * from final
