{{ config(enabled=('colorme' in teiki_sources())) }}

{#- カラーミーショップ sale details (受注明細, inside each sale's `details`) in the canonical shape
    of stg_csv__order_lines: one row per detail, numbered by detail id within the sale.
    product_id is the 型番 (product_model_number), as in stg_colorme__products. unit_price is
    tax-included; line-level discounts do not exist in the API (0). -#}

with

details as (

    select
        sales._source,
        sales.id as sale_id,
        sales.updated_at,
        sales._loaded_at,
        d.detail
    from {{ source('raw_colorme', 'sales') }} as sales,
        unnest(json_extract(sales._record, '$.details[*]')) as d(detail)
    where sales.deleted_at is null

),

renamed as (

    select
        _source as source,
        cast(sale_id as varchar) as order_id,
        cast(row_number() over (
            partition by sale_id order by try_cast(detail->>'id' as bigint)
        ) as integer) as line_number,
        coalesce(nullif(detail->>'product_model_number', ''), detail->>'product_id') as product_id,
        try_cast(detail->>'product_num' as integer) as quantity,
        coalesce(try_cast(detail->>'price_with_tax' as bigint),
                 try_cast(detail->>'price' as bigint)) as unit_price,
        cast(0 as bigint) as discount,
        coalesce(try_cast(detail->>'price_with_tax' as bigint), try_cast(detail->>'price' as bigint))
            * try_cast(detail->>'product_num' as bigint) as line_total,
        updated_at,
        _loaded_at as loaded_at

    from details

)

select * from renamed
