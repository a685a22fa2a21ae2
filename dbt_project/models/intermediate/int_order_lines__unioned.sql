with

unioned as (

    {{ union_staging('order_lines') }}

),

final as (

    select
        source,
        order_id,
        line_number,
        product_id,
        quantity,
        unit_price,
        discount,
        line_total,
        updated_at

    from unioned

)

select * from final
