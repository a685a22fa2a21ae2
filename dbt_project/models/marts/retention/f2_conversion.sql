{#- F2/F3/F4 転換率 by first-purchase cohort month, first product and acquisition channel. A buyer
    converts to Fk when the k-th revenue order comes within f2_maturity_days of the first; only
    buyers whose first order is at least f2_maturity_days old (mature) are in the rates, so young
    buyers who could not have re-ordered yet do not dilute them. -#}

{%- set maturity_days = var('f2_maturity_days') | int -%}

with

orders as (

    select * from {{ ref('orders') }}
    where is_revenue and customer_order_number <= 4

),

customers as (

    select * from {{ ref('customers') }}

),

buyers as (

    select
        customer_key,
        arg_min(source, customer_order_number) as source,
        min(ordered_date) filter (where customer_order_number = 1) as first_order_date,
        min(ordered_date) filter (where customer_order_number = 2) as second_order_date,
        min(ordered_date) filter (where customer_order_number = 3) as third_order_date,
        min(ordered_date) filter (where customer_order_number = 4) as fourth_order_date

    from orders
    group by customer_key

),

classified as (

    select
        buyers.*,
        cast(date_trunc('month', buyers.first_order_date) as date) as cohort_month,
        coalesce(customers.first_product_id, 'unknown') as first_product_id,
        coalesce(customers.acquisition_channel, 'unknown') as acquisition_channel,
        buyers.first_order_date + {{ maturity_days }} <= {{ as_of_date() }} as is_mature,
        buyers.second_order_date <= buyers.first_order_date + {{ maturity_days }} as reached_f2,
        buyers.third_order_date <= buyers.first_order_date + {{ maturity_days }} as reached_f3,
        buyers.fourth_order_date <= buyers.first_order_date + {{ maturity_days }} as reached_f4

    from buyers
    left join customers
        on customers.customer_key = buyers.customer_key

),

grouped as (

    select
        source,
        cohort_month,
        first_product_id,
        acquisition_channel,
        count(*) as first_time_customers,
        count(*) filter (where is_mature) as mature_customers,
        count(*) filter (where is_mature and reached_f2) as f2_customers,
        count(*) filter (where is_mature and reached_f3) as f3_customers,
        count(*) filter (where is_mature and reached_f4) as f4_customers

    from classified
    group by all

),

final as (

    select
        source,
        cohort_month,
        first_product_id,
        acquisition_channel,
        cast(first_time_customers as integer) as first_time_customers,
        cast(mature_customers as integer) as mature_customers,
        cast(f2_customers as integer) as f2_customers,
        cast(f3_customers as integer) as f3_customers,
        cast(f4_customers as integer) as f4_customers,
        cast(f2_customers / nullif(mature_customers, 0) as double) as f2_rate,
        cast(f3_customers / nullif(f2_customers, 0) as double) as f3_rate,
        cast(f4_customers / nullif(f3_customers, 0) as double) as f4_rate,
        cast(f3_customers / nullif(mature_customers, 0) as double) as f3_share_of_cohort,
        cast(f4_customers / nullif(mature_customers, 0) as double) as f4_share_of_cohort,
        cast(last_day(cohort_month) + {{ maturity_days }} <= {{ as_of_date() }} as boolean) as is_mature_cohort,
        cast({{ maturity_days }} as integer) as maturity_days,
        {{ as_of_date() }} as as_of_date

    from grouped

)

select * from final
