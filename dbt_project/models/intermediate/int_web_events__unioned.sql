with

unioned as (

    {{ union_staging('web_events') }}

),

final as (

    select
        source,
        web_event_id,
        customer_id,
        visited_at,
        {{ jst_date('visited_at') }} as visited_date,
        url,
        url_path,
        page_type,
        referrer

    from unioned

)

select * from final
