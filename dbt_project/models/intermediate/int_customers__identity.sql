{{ config(materialized='table') }}

{#- Identity rule (DECISIONLOG.md, "Identity"): records sharing a normalized email are one person;
    a record without a usable email joins the person whose records carry its phone number, else
    the other email-less records with that phone; a record with neither stands alone. The key is
    the anchor record's "<source>:<customer_id>", the anchor being the group's earliest-created
    record, so a key is readable by staff and does not change when later duplicates arrive.
    Email outranks phone because phones are shared (household landlines, 代表番号) far more
    often than mailboxes; an email-bearing record is therefore never merged by phone alone. -#}

with

customers as (

    select
        source,
        customer_id,
        email,
        phone,
        created_at

    from {{ ref('int_customers__unioned') }}

),

normalized as (

    select
        source,
        customer_id,
        created_at,
        source || ':' || customer_id as record_key,
        {{ normalized_email('email') }} as email_normalized,
        {{ normalized_phone('phone') }} as phone_normalized

    from customers

),

email_anchored as (

    select
        *,
        case
            when email_normalized is not null then first_value(record_key) over (
                partition by email_normalized
                order by created_at, source, customer_id
            )
        end as email_anchor

    from normalized

),

-- For phones that appear on email-bearing records: the person those records resolved to.
phone_to_email_anchor as (

    select distinct
        phone_normalized,
        first_value(email_anchor) over (
            partition by phone_normalized
            order by created_at, source, customer_id
        ) as anchor

    from email_anchored
    where email_normalized is not null
        and phone_normalized is not null

),

phone_only_anchored as (

    select
        record_key,
        first_value(record_key) over (
            partition by phone_normalized
            order by created_at, source, customer_id
        ) as anchor

    from email_anchored
    where email_normalized is null
        and phone_normalized is not null

),

resolved as (

    select
        records.source,
        records.customer_id,
        coalesce(
            records.email_anchor,
            phone_to_email_anchor.anchor,
            phone_only_anchored.anchor,
            records.record_key
        ) as customer_key,
        case
            when records.email_normalized is not null then 'email'
            when records.phone_normalized is not null then 'phone'
            else 'source_id'
        end as match_basis,
        records.email_normalized,
        records.phone_normalized,
        records.record_key

    from email_anchored as records
    left join phone_to_email_anchor
        on records.email_normalized is null
        and phone_to_email_anchor.phone_normalized = records.phone_normalized
    left join phone_only_anchored
        on phone_only_anchored.record_key = records.record_key

),

final as (

    select
        source,
        customer_id,
        customer_key,
        match_basis,
        email_normalized,
        phone_normalized,
        record_key = customer_key as is_anchor,
        count(*) over (partition by customer_key) as identity_group_size,
        count(distinct source) over (partition by customer_key) as identity_source_count

    from resolved

)

select * from final
