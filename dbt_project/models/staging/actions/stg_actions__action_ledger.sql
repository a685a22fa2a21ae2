{#- The action ledger as dbt reads it: every decision row made before the business date, typed,
    the table's own names (they are already the project's). Empty until the first campaign run
    creates the table (macros/source_or_empty.sql). Effect marts read
    int_campaign_contacts__outcomes, not this.

    The business date's own campaign and call-list decisions are made from this day's marts,
    after dbt: reading them back would make the marts of a day that ran twice (a refresh killed
    after the call list and run again, or re-run by hand) differ from those of a day that ran
    once. On-site decisions are read whatever their date: they are recorded before dbt, from the
    offer service's events (orchestration/actions/onsite_ledger.py), in every run alike. -#}

with

ledger as (

    {{ source_or_empty('actions', 'action_ledger') }}

),

final as (

    select
        cast(campaign as varchar) as campaign,
        cast(action_date as date) as action_date,
        cast(customer_key as varchar) as customer_key,
        cast(step as varchar) as step,
        cast(source as varchar) as source,
        cast(customer_id as varchar) as customer_id,
        cast(subscription_id as varchar) as subscription_id,
        cast(channel as varchar) as channel,
        cast(arm as varchar) as arm,
        cast(decision as varchar) as decision,
        cast(reason as varchar) as reason,
        cast(offer_code as varchar) as offer_code,
        cast(monetary_offer as boolean) as monetary_offer,
        cast(status as varchar) as status,
        cast(recorded_at as timestamp) as recorded_at,
        cast(outcome_at as timestamp) as outcome_at,
        cast(run_id as varchar) as run_id,
        cast(accepted_at as timestamp) as accepted_at

    from ledger
    where action_date < {{ as_of_date() }}
        or channel = 'onsite'

)

select * from final
