with

unioned as (

    {{ union_staging('inquiries') }}

),

final as (

    select
        source,
        inquiry_id,
        customer_id,
        created_at,
        {{ jst_date('created_at') }} as created_date,
        channel,
        channel_label,
        category,
        category_label,
        agent,
        outcome,
        outcome_label

    from unioned

)

select * from final
