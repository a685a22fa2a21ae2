-- Projected survival (sBG) and lifetime value per 定期 product and 定期回数. Product names come
-- from the subscriptions mart.
with names as (
    select source, product_id, any_value(product_name) as product_name
    from marts.subscriptions group by all
)
select
    l.source, l.product_id, coalesce(n.product_name, l.product_id) as product_name, l.delivery_number,
    l.projected_survival, l.observed_survival, l.observed_at_risk, l.expected_deliveries,
    l.del_revenue, l.del_margin, l.derl_revenue, l.derl_margin, l.fitted_subscriptions, l.cycle_days
from marts.ltv_projected l
left join names n using (source, product_id)
order by l.product_id, l.delivery_number
