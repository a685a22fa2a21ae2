{#- One row per source, relation ('bought_together' or 'next_product'), antecedent product and
    consequent product, over customers with a revenue order on or before as_of_date: how many
    customers show the pair, with support, confidence and lift. bought_together: the customer
    bought both products at any time (different products only). next_product: the consequent
    was in the customer's next order after their first order containing the antecedent (the
    same product counts: that is a repeat). -#}

with

purchases as (

    select * from {{ ref('int_customers__purchase_history') }}
    where product_id is not null

),

customer_products as (

    select
        source,
        customer_key,
        product_id,
        min(customer_order_number) as first_order_number

    from purchases
    group by all

),

customer_totals as (

    select source, count(distinct customer_key) as customers
    from purchases
    group by source

),

product_customers as (

    select source, product_id, count(*) as customers
    from customer_products
    group by all

),

together as (

    select
        a.source,
        'bought_together' as relation,
        a.product_id as antecedent_product_id,
        b.product_id as consequent_product_id,
        count(*) as pair_customers

    from customer_products as a
    inner join customer_products as b
        on b.source = a.source
        and b.customer_key = a.customer_key
        and b.product_id <> a.product_id
    group by all

),

next_orders as (

    select distinct
        a.source,
        a.customer_key,
        a.product_id as antecedent_product_id,
        nxt.product_id as consequent_product_id

    from customer_products as a
    inner join purchases as nxt
        on nxt.source = a.source
        and nxt.customer_key = a.customer_key
        and nxt.customer_order_number = a.first_order_number + 1

),

next_product as (

    select
        source,
        'next_product' as relation,
        antecedent_product_id,
        consequent_product_id,
        count(*) as pair_customers

    from next_orders
    group by all

),

pairs as (

    select * from together
    union all
    select * from next_product

),

final as (

    select
        pairs.source,
        pairs.relation,
        pairs.antecedent_product_id,
        pairs.consequent_product_id,
        cast(pairs.pair_customers as integer) as pair_customers,
        cast(antecedent.customers as integer) as antecedent_customers,
        cast(consequent.customers as integer) as consequent_customers,
        cast(customer_totals.customers as integer) as total_customers,
        pairs.pair_customers / customer_totals.customers as support,
        pairs.pair_customers / antecedent.customers as confidence,
        (pairs.pair_customers / antecedent.customers) / (consequent.customers / customer_totals.customers) as lift,
        {{ as_of_date() }} as as_of_date

    from pairs
    inner join customer_totals
        on customer_totals.source = pairs.source
    inner join product_customers as antecedent
        on antecedent.source = pairs.source
        and antecedent.product_id = pairs.antecedent_product_id
    inner join product_customers as consequent
        on consequent.source = pairs.source
        and consequent.product_id = pairs.consequent_product_id

)

select * from final
