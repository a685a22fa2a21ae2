-- Monthly churn, summed over the sources (a shop with a cart API and CSV exports has several).
select
    period_start as month,
    bool_or(is_partial_period) as is_partial_period,
    sum(active_subscriptions_at_start)::bigint as active_at_start,
    sum(new_subscriptions)::bigint as new_subscriptions,
    sum(churned_subscriptions)::bigint as churned,
    sum(voluntary_churned_subscriptions)::bigint as voluntary_churned,
    sum(involuntary_churned_subscriptions)::bigint as involuntary_churned,
    sum(active_subscriptions_at_end)::bigint as active_at_end,
    sum(churned_subscriptions) / nullif(sum(active_subscriptions_at_start), 0) as churn_rate,
    sum(voluntary_churned_subscriptions) / nullif(sum(active_subscriptions_at_start), 0) as voluntary_churn_rate,
    sum(involuntary_churned_subscriptions) / nullif(sum(active_subscriptions_at_start), 0) as involuntary_churn_rate
from marts.churn_kpis
where period_grain = 'month'
group by period_start
order by period_start
