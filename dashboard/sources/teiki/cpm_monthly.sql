-- Moves between CPM states month by month, summed over the sources.
select
    month, previous_cpm_state, any_value(previous_cpm_state_label) as previous_cpm_state_label,
    cpm_state, any_value(cpm_state_label) as cpm_state_label,
    sum(customers)::bigint as customers
from marts.cpm_monthly
group by all
order by month, previous_cpm_state, cpm_state
