{#- Inquiries of identified customers that name the agent who handled them, mapped to the
    resolved customer_key: the input of the agent attribution in churn_reasons and
    churn_agent_review. -#}

with

inquiries as (

    select * from {{ ref('int_inquiries__unioned') }}
    where customer_id is not null
        and agent is not null

),

identity as (

    select * from {{ ref('int_customers__identity') }}

),

final as (

    select
        inquiries.source,
        inquiries.inquiry_id,
        inquiries.customer_id,
        coalesce(identity.customer_key, inquiries.source || ':' || inquiries.customer_id) as customer_key,
        inquiries.created_at,
        inquiries.created_date,
        inquiries.category,
        inquiries.outcome,
        inquiries.agent

    from inquiries
    left join identity
        on identity.source = inquiries.source
        and identity.customer_id = inquiries.customer_id

)

select * from final
