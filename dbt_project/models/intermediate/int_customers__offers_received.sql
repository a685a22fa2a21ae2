{#- Offers each customer received, whatever the channel: an on-site offer accepted (受け取る) in a
    pinpoint window, or a monetary offer (coupon, discount, gift) a campaign sent to the treatment
    arm. What onsite_offer_eligibility reads for its "offer received recently" rule, so a customer
    saved by a coupon mail last month is not shown a gift on the FAQ page too (the contact policy
    spaces monetary offers the same way in the other direction). An on-site offer shown but not
    accepted was not received; a dry run reached nobody; a mail in doubt may have, and counts. -#}

with

acceptances as (

    select * from {{ ref('stg_onsite__offer_events') }}
    where event_type = 'accepted'
        and customer_id is not null

),

ledger as (

    select * from {{ ref('stg_actions__action_ledger') }}

),

identity as (

    select * from {{ ref('int_customers__identity') }}

),

onsite_offers as (

    select
        coalesce(identity.customer_key, acceptances.source || ':' || acceptances.customer_id) as customer_key,
        acceptances.source,
        acceptances.customer_id,
        'onsite' as channel,
        acceptances.window_id as occasion_id,
        min(acceptances.offer_id) as offer_id,
        min(acceptances.business_date) as received_date

    from acceptances
    left join identity
        on identity.source = acceptances.source
        and identity.customer_id = acceptances.customer_id
    group by all

),

campaign_offers as (

    select
        customer_key,
        source,
        customer_id,
        channel,
        campaign || ':' || strftime(action_date, '%Y-%m-%d') || ':' || step as occasion_id,
        offer_code as offer_id,
        action_date as received_date

    from ledger
    where decision = 'send'
        and arm = 'treatment'
        and monetary_offer
        and channel <> 'onsite'  -- its acceptances come from the service's own events above
        and status in ('sent', 'already_sent', 'in_doubt')

),

final as (

    select * from onsite_offers
    union all
    select * from campaign_offers

)

select * from final
