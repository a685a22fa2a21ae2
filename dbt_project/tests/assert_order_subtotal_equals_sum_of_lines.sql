{#- An order's 商品合計 must equal the sum of its lines' 小計, and an order must have lines. A
    mismatch means lines were lost or duplicated between export and load, or the cart writes
    amounts we misread. Warn: it skews revenue analysis but puts no one on a call list; the
    loader's own row counts are the first place to look. -#}
{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'int_orders__unioned'}}}) }}

with

orders as (

    select * from {{ ref('int_orders__unioned') }}

),

line_sums as (

    select
        source,
        order_id,
        sum(line_total) as lines_total

    from {{ ref('int_order_lines__unioned') }}
    group by source, order_id

)

select
    orders.source,
    orders.order_id,
    orders.subtotal,
    line_sums.lines_total

from orders
left join line_sums
    on line_sums.source = orders.source
    and line_sums.order_id = orders.order_id
where line_sums.lines_total is null
    or orders.subtotal <> line_sums.lines_total
