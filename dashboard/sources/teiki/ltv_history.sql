-- Historical LTV per customer by horizon (days since the first purchase), over every cohort.
select
    horizon_days,
    sum(customers)::bigint as customers,
    sum(revenue) / nullif(sum(customers), 0) as ltv_revenue
from marts.ltv
group by horizon_days
order by horizon_days
