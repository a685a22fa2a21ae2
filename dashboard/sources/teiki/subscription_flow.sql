-- 定期フロー by product and first-delivery cohort month.
select
    source, product_id, product_name, cohort_month, delivery_number,
    cohort_subscriptions, eligible_subscriptions, subscriptions_reached,
    previous_ratio, first_ratio, cancelled_at_delivery
from marts.subscription_flow
order by product_id, cohort_month, delivery_number
