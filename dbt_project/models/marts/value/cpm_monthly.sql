{#- One row per source, month, CPM state at the previous month-end and CPM state at this
    month-end (month-end = last day of the month, or as_of_date for its own month): customers
    who moved from the one to the other. previous_cpm_state 'new' = no purchase by the previous
    month-end. Counts per state per month are the sums over previous_cpm_state. -#}

with

cpm_states as (

    select * from {{ ref('int_customers__cpm_states') }}

),

with_previous as (

    select
        current_month.source,
        current_month.snapshot_month,
        current_month.snapshot_date,
        coalesce(previous_month.cpm_state, 'new') as previous_cpm_state,
        coalesce(previous_month.cpm_state_label, '新規') as previous_cpm_state_label,
        current_month.cpm_state,
        current_month.cpm_state_label

    from cpm_states as current_month
    left join cpm_states as previous_month
        on previous_month.customer_key = current_month.customer_key
        and previous_month.snapshot_month = cast(current_month.snapshot_month - interval 1 month as date)

),

transitions as (

    select
        source,
        snapshot_month,
        snapshot_date,
        previous_cpm_state,
        previous_cpm_state_label,
        cpm_state,
        cpm_state_label,
        count(*) as customers

    from with_previous
    group by all

),

final as (

    select
        source,
        snapshot_month as month,
        snapshot_date as month_end_date,
        previous_cpm_state,
        previous_cpm_state_label,
        cpm_state,
        cpm_state_label,
        cast(customers as integer) as customers,
        cast(sum(customers) over (partition by source, snapshot_month, cpm_state) as integer)
            as state_customers,
        cast(sum(customers) over (partition by source, snapshot_month, previous_cpm_state) as integer)
            as previous_state_customers,
        customers / sum(customers) over (partition by source, snapshot_month, previous_cpm_state)
            as transition_rate,
        {{ as_of_date() }} as as_of_date

    from transitions

)

select * from final
