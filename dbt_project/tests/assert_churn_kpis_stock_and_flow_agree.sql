{#- churn_kpis: contracts alive at a period's end = alive at its start + new - cancelled, and the
    churned (from the opening base) split into voluntary + involuntary. -#}
select *
from {{ ref('churn_kpis') }}
where active_subscriptions_at_end
        <> active_subscriptions_at_start + new_subscriptions - cancelled_subscriptions
    or churned_subscriptions <> voluntary_churned_subscriptions + involuntary_churned_subscriptions
    or churned_subscriptions > cancelled_subscriptions
