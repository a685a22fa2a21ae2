with

unioned as (

    {{ union_staging('products') }}

),

final as (

    select
        source,
        product_id,
        product_name,
        category,
        price,
        first_delivery_price,
        is_subscription,
        cycle_days,
        unit_cost,
        created_at,
        updated_at

    from unioned

)

select * from final
