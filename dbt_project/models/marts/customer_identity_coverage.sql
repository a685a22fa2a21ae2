{#- How well the identity rule links records: one row per source, so a team adding a second cart
    sees at once how many of its customers joined existing people and on what basis. -#}

with

identity as (

    select * from {{ ref('int_customers__identity') }}

),

final as (

    select
        source,
        cast(count(*) as integer) as customer_records,
        cast(count(distinct customer_key) as integer) as customer_keys,
        cast(count(*) filter (where email_normalized is not null) as integer) as records_with_email,
        cast(count(*) filter (where phone_normalized is not null) as integer) as records_with_phone,
        cast(count(*) filter (where match_basis = 'email') as integer) as matched_by_email,
        cast(count(*) filter (where match_basis = 'phone') as integer) as matched_by_phone,
        cast(count(*) filter (where match_basis = 'source_id') as integer) as matched_by_source_id,
        cast(count(*) filter (where identity_group_size > 1) as integer) as merged_records,
        cast(count(*) filter (where identity_source_count > 1) as integer) as cross_source_records,
        cast(
            count(*) filter (where match_basis in ('email', 'phone')) / count(*)
            as double
        ) as contact_key_coverage

    from identity
    group by source

)

select * from final
