-- Customers per CPM state at the business date (customer_cpm, one row per customer).
select
    cpm_state, any_value(cpm_state_label) as cpm_state_label, any_value(cpm_stage_label) as cpm_stage_label,
    bool_or(is_dormant) as is_dormant, count(*)::bigint as customers,
    avg(cumulative_revenue) as avg_cumulative_revenue
from marts.customer_cpm
group by cpm_state
order by customers desc
