{{ config(enabled=('csv' in teiki_sources())) }}

with

raw_web_events as (

    select * from {{ source('raw_csv', 'web_events') }}
    -- live rows only: a full-snapshot export that no longer holds a record marks it deleted
    where _deleted_at is null

),

renamed as (

    select
        _source as source,
        event_id as web_event_id,
        customer_id,
        cast(visited_at as timestamp) as visited_at,
        url,
        {{ url_path('url') }} as url_path,
        nullif(lower(trim(page_type)), '') as exported_page_type,
        referrer,
        _loaded_at as loaded_at

    from raw_web_events

),

typed as (

    select
        source,
        web_event_id,
        customer_id,
        visited_at,
        url,
        url_path,
        -- the export's own page type, when the cart writes one, else the URL rules
        coalesce(exported_page_type, {{ page_type('url_path') }}) as page_type,
        referrer,
        loaded_at

    from renamed

)

select * from typed
