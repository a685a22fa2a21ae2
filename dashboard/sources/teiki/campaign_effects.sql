select
    campaign, first_action_date, last_action_date, treated_customers, holdout_customers,
    treated_observed, holdout_observed, treated_continuation_rate, holdout_continuation_rate,
    uplift, uplift_ci_low, uplift_ci_high, p_value, minimum_detectable_effect, verdict,
    revenue_90d_difference_per_customer, offer_cost_per_treated_yen
from marts.campaign_effects
order by campaign
