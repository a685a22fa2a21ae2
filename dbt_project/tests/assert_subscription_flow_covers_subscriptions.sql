{{ config(severity='warn') }}
{#- Data-quality curiosity, not an error: 定期契約 started by as_of_date with no delivery that stood
    (the first order was cancelled, e.g. payment refused) have no first-delivery cohort and are
    not in 定期フロー. Lists them by product with counts so the team can see how many. -#}
select
    source,
    product_id,
    count(*) as subscriptions_without_delivery
from {{ ref('subscriptions') }}
where delivery_count = 0
group by all
