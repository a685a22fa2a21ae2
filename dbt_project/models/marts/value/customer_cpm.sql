{#- One row per resolved customer (customer_key) with at least one revenue order on or before
    as_of_date: the customer's classic CPM state at as_of_date. The rule lives in
    int_customers__cpm_states (DECISIONLOG.md "CPM"); this is its as_of_date snapshot. -#}

with

cpm_states as (

    select * from {{ ref('int_customers__cpm_states') }}
    where snapshot_date = {{ as_of_date() }}

),

final as (

    select
        customer_key,
        source,
        first_order_date,
        last_order_date,
        order_count,
        cumulative_revenue,
        tenure_days,
        days_since_last_order,
        cpm_stage,
        cpm_stage_label,
        is_dormant,
        cpm_state,
        cpm_state_label,
        snapshot_date as as_of_date

    from cpm_states

)

select * from final
