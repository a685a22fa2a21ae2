-- Cancellations by month, reason, product and 定期回数 (the agent column left out).
select
    cancelled_month,
    product_id,
    any_value(product_name) as product_name,
    delivery_number,
    cancel_reason,
    bool_or(is_involuntary) as is_involuntary,
    sum(cancellations)::bigint as cancellations
from marts.churn_reasons
group by all
order by cancelled_month, cancellations desc
