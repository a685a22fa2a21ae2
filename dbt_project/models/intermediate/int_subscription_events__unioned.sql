with

unioned as (

    {{ union_staging('subscription_events') }}

),

final as (

    select
        source,
        subscription_event_id,
        subscription_id,
        occurred_at,
        {{ jst_date('occurred_at') }} as occurred_date,
        event_type,
        event_type_label,
        before_value,
        after_value,
        reason,
        channel,
        channel_label

    from unioned

)

select * from final
