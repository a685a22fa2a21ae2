{#- On-site offers the customers accepted (受け取る), mapped to the resolved customer_key: what
    onsite_offer_eligibility reads for its "offer received recently" rule. -#}

with

acceptances as (

    select * from {{ ref('stg_onsite__offer_events') }}
    where event_type = 'accepted'
        and customer_id is not null

),

identity as (

    select * from {{ ref('int_customers__identity') }}

),

final as (

    select
        coalesce(identity.customer_key, acceptances.source || ':' || acceptances.customer_id) as customer_key,
        acceptances.source,
        acceptances.customer_id,
        acceptances.window_id,
        min(acceptances.offer_id) as offer_id,
        min(acceptances.business_date) as received_date

    from acceptances
    left join identity
        on identity.source = acceptances.source
        and identity.customer_id = acceptances.customer_id
    group by all

)

select * from final
