-- 定期フロー by product over every cohort.
select
    source, product_id, product_name, delivery_number,
    eligible_subscriptions, subscriptions_reached, previous_ratio, first_ratio,
    cancelled_at_delivery, pending_at_delivery
from marts.subscription_flow_overall
order by product_id, delivery_number
