{{ config(enabled=('csv' in teiki_sources())) }}

with

raw_inquiries as (

    select * from {{ source('raw_csv', 'inquiries') }}
    -- live rows only: a full-snapshot export that no longer holds a record marks it deleted
    where _deleted_at is null

),

renamed as (

    select
        _source as source,
        inquiry_id,
        customer_id,
        cast(created_at as timestamp) as created_at,
        {{ label_code('inquiry_channel', 'raw_inquiries.channel') }} as channel,
        channel as channel_label,
        {{ label_code('inquiry_category', 'raw_inquiries.category') }} as category,
        category as category_label,
        agent,
        {{ label_code('inquiry_outcome', 'raw_inquiries.outcome') }} as outcome,
        outcome as outcome_label,
        _loaded_at as loaded_at

    from raw_inquiries

)

select * from renamed
