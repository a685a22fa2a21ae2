{#- One row per source, first-purchase cohort month, first product, acquisition channel and
    horizon (days since the first purchase): historical LTV of the customers whose first revenue
    order is at least that many days before as_of_date (younger customers are left out of that
    horizon), as revenue and gross margin per customer within the horizon. -#}

with

purchases as (

    select * from {{ ref('int_customers__purchase_history') }}

),

customers as (

    select * from {{ ref('customers') }}

),

horizons as (

    select unnest({{ var('ltv_horizon_days') }}) as horizon_days

),

first_products as (

    select
        customer_key,
        first_order_source as source,
        first_order_date,
        cast(date_trunc('month', first_order_date) as date) as cohort_month,
        arg_min(product_id, line_number) filter (where customer_order_number = 1) as first_product_id

    from purchases
    group by customer_key, first_order_source, first_order_date

),

cohort_members as (

    select
        first_products.*,
        coalesce(customers.acquisition_channel, 'unknown') as acquisition_channel,
        horizons.horizon_days

    from first_products
    cross join horizons
    left join customers
        on customers.customer_key = first_products.customer_key
    where date_diff('day', first_products.first_order_date, {{ as_of_date() }}) >= horizons.horizon_days

),

-- Orders within the horizon: days 0 .. horizon_days - 1 after the first purchase date.
order_values as (

    select distinct
        customer_key,
        order_id,
        source,
        ordered_date,
        first_order_date,
        order_revenue

    from purchases

),

line_values as (

    select
        customer_key,
        ordered_date,
        first_order_date,
        line_total - quantity * unit_cost as line_margin,
        unit_cost is null and product_id is not null as is_cost_missing

    from purchases

),

member_orders as (

    select
        cohort_members.customer_key,
        cohort_members.horizon_days,
        count(order_values.order_id) as orders,
        coalesce(sum(order_values.order_revenue), 0) as revenue

    from cohort_members
    left join order_values
        on order_values.customer_key = cohort_members.customer_key
        and date_diff('day', order_values.first_order_date, order_values.ordered_date) < cohort_members.horizon_days
    group by cohort_members.customer_key, cohort_members.horizon_days

),

member_lines as (

    select
        cohort_members.customer_key,
        cohort_members.horizon_days,
        coalesce(sum(line_values.line_margin), 0) as gross_margin,
        count(*) filter (where line_values.is_cost_missing) as lines_without_cost

    from cohort_members
    left join line_values
        on line_values.customer_key = cohort_members.customer_key
        and date_diff('day', line_values.first_order_date, line_values.ordered_date) < cohort_members.horizon_days
    group by cohort_members.customer_key, cohort_members.horizon_days

),

member_values as (

    select
        member_orders.*,
        member_lines.gross_margin,
        member_lines.lines_without_cost

    from member_orders
    inner join member_lines
        on member_lines.customer_key = member_orders.customer_key
        and member_lines.horizon_days = member_orders.horizon_days

),

grouped as (

    select
        cohort_members.source,
        cohort_members.cohort_month,
        cohort_members.first_product_id,
        cohort_members.acquisition_channel,
        cohort_members.horizon_days,
        count(*) as customers,
        sum(member_values.orders) as orders,
        sum(member_values.revenue) as revenue,
        sum(member_values.gross_margin) as gross_margin,
        sum(member_values.lines_without_cost) as lines_without_cost

    from cohort_members
    inner join member_values
        on member_values.customer_key = cohort_members.customer_key
        and member_values.horizon_days = cohort_members.horizon_days
    group by all

),

final as (

    select
        source,
        cohort_month,
        first_product_id,
        acquisition_channel,
        cast(horizon_days as integer) as horizon_days,
        cast(customers as integer) as customers,
        cast(orders as integer) as orders,
        cast(revenue as bigint) as revenue,
        revenue / customers as ltv_revenue,
        case when lines_without_cost = 0 then cast(gross_margin as bigint) end as gross_margin,
        case when lines_without_cost = 0 then gross_margin / customers end as ltv_gross_margin,
        cast(lines_without_cost as integer) as lines_without_cost,
        {{ as_of_date() }} as as_of_date

    from grouped

)

select * from final
