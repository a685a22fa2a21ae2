with

unioned as (

    {{ union_staging('point_events') }}

),

final as (

    select
        source,
        point_event_id,
        customer_id,
        occurred_at,
        {{ jst_date('occurred_at') }} as occurred_date,
        event_type,
        event_type_label,
        points,
        points_delta,
        expires_on,
        order_id

    from unioned

)

select * from final
